"""Entry point of the test stand-in plugin: ``python -m tests.docker_standin ADDRESS``.

The engine starts ``pulumi-resource-docker`` with optional logging and tracing flags
followed by its own gRPC address. This is for tests only; users never run it.
"""

from __future__ import annotations

import sys

from .server import serve


def engine_address(argv: list[str]) -> str | None:
    """The engine address among the plugin's arguments: the last positional one.

    Args:
        argv: The arguments after the program name, e.g.
            ``["--logtostderr", "-v=9", "--tracing", "URL", "127.0.0.1:4567"]``.

    Returns:
        The address, or ``None`` when the plugin was started without one.
    """
    positional: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg == "--tracing":
            skip_value = True
        elif not arg.startswith("-"):
            positional.append(arg)
    return positional[-1] if positional else None


if __name__ == "__main__":
    serve(engine_address(sys.argv[1:]))
