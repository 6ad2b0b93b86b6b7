"""Install the test stand-in as ``pulumi-resource-docker`` into a ``PULUMI_HOME``.

The engine looks for the plugin the pulumi-docker SDK asks for in
``$PULUMI_HOME/plugins/resource-docker-v5.2.0/pulumi-resource-docker``. That folder
needs nothing but the executable; a ``resource-docker-v5.2.0.partial`` file beside it
would mark the plugin as half-installed and hide it, so any is removed.

Tests only: install into a temporary ``PULUMI_HOME``, never into a user's.

Usage from a shell::

    python -m tests.docker_standin.install PULUMI_HOME [--python PYTHON]
"""

from __future__ import annotations

import argparse
import shlex
import stat
import sys
from pathlib import Path

from . import PLUGIN_VERSION

PLUGIN_NAME = "docker"
REPO_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding the ``tests`` package, put on the plugin's ``PYTHONPATH``."""


def plugin_dir(pulumi_home: Path) -> Path:
    """The folder the engine searches for pulumi-docker's plugin."""
    return pulumi_home / "plugins" / f"resource-{PLUGIN_NAME}-v{PLUGIN_VERSION}"


def wrapper_script(python: str) -> str:
    """The shell script that starts the stand-in with ``python`` from any folder."""
    root = shlex.quote(str(REPO_ROOT))
    return (
        "#!/bin/sh\n"
        "# TEST STAND-IN for pulumi-resource-docker, written by\n"
        "# tests/docker_standin/install.py for end-to-end tests. Not the real plugin.\n"
        f'PYTHONPATH={root}"${{PYTHONPATH:+:$PYTHONPATH}}" \\\n'
        f'  exec {shlex.quote(python)} -u -m tests.docker_standin "$@"\n'
    )


def install(pulumi_home: Path, python: str) -> Path:
    """Write the stand-in's ``pulumi-resource-docker`` executable into a Pulumi home.

    Args:
        pulumi_home: The ``PULUMI_HOME`` the tests give the engine.
        python: The interpreter that runs the stand-in; it needs ``pulumi``,
            ``grpcio`` and ``docker`` (the project's venv has them).

    Returns:
        The path of the executable.
    """
    target = plugin_dir(pulumi_home)
    target.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".partial").unlink(missing_ok=True)
    executable = target / f"pulumi-resource-{PLUGIN_NAME}"
    executable.write_text(wrapper_script(python))
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    return executable


def main(argv: list[str] | None = None) -> None:
    """Install from the command line and print the executable's path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "pulumi_home", type=Path, help="the PULUMI_HOME to install into"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter (default: this one)"
    )
    args = parser.parse_args(argv)
    print(install(args.pulumi_home.resolve(), args.python))


if __name__ == "__main__":
    main()
