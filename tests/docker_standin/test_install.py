"""Unit tests of the installer that puts the stand-in into a Pulumi home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .install import install, plugin_dir

pytestmark = pytest.mark.unit


def test_install_writes_an_executable_where_the_engine_looks(tmp_path: Path) -> None:
    executable = install(tmp_path, "/usr/bin/python3")

    assert (
        executable == tmp_path / "plugins/resource-docker-v5.2.0/pulumi-resource-docker"
    )
    assert os.access(executable, os.X_OK)
    script = executable.read_text()
    assert "TEST STAND-IN" in script
    assert "exec /usr/bin/python3 -u -m tests.docker_standin" in script


def test_install_removes_a_partial_marker_that_would_hide_the_plugin(
    tmp_path: Path,
) -> None:
    marker = plugin_dir(tmp_path).with_name("resource-docker-v5.2.0.partial")
    marker.parent.mkdir(parents=True)
    marker.touch()

    install(tmp_path, "/usr/bin/python3")
    install(tmp_path, "/usr/bin/python3")

    assert not marker.exists()
