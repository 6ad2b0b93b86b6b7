"""Figures a test measured, shown in pytest's output whether or not it is captured."""

from __future__ import annotations

import contextlib

import pytest


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Writes `line` to the terminal, past output capture, and to the test report."""
    request.node.user_properties.append(("figures", line))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    suspended = (
        capture.global_and_fixture_disabled()
        if capture is not None
        else contextlib.nullcontext()
    )
    with suspended:
        # Start on a line of its own, also after the progress dots of `-q`.
        writer = getattr(reporter, "_tw", None)
        if writer is not None and writer.width_of_current_line:
            reporter.write("\n")
        reporter.write_line(line)
