"""Fixtures shared by the integration and end-to-end tiers.

Real components are found through the variables `tests/env/prepare.sh` writes into
`build/test-env.sh`. A missing one fails the test with the command that provides it:
a prerequisite is never a reason to skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PREPARE_HINT = "run ./scripts/test.sh, which prepares every prerequisite first"


def required_env(name: str) -> str:
    """Returns an environment variable the tests need, or fails saying how to set it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"${name} is not set; {PREPARE_HINT}.", pytrace=False)
    return value


def required_binary(env: str) -> Path:
    """Returns the executable named by `$env`, or fails saying how to get it."""
    path = Path(required_env(env))
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"${env}={path} is not an executable; {PREPARE_HINT}.", pytrace=False
        )
    return path


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ok(url: str, timeout: float = 20.0) -> None:
    """Polls `url` until it answers 200, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200:
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer 200 within {timeout} s (last: {last!r})")


@contextlib.contextmanager
def running(
    command: list[str],
    log_path: Path,
    health_url: str,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs a server process until the block ends, once `health_url` answers 200.

    On failure the end of the server's log is part of the error.
    """
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, cwd=log_path.parent, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                wait_until_ok(health_url)
            except pytest.fail.Exception:
                tail = log_path.read_text()[-2000:]
                pytest.fail(f"{command[0]} did not become healthy; its log:\n{tail}")
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)


@dataclass(frozen=True)
class NatsServer:
    """A real nats-server with JetStream, on free loopback ports."""

    url: str
    monitor_url: str
    store_dir: Path


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """Starts nats-server with JetStream and a temporary store; stops it after."""
    binary = required_binary("ZKM_NATS_SERVER_BIN")
    port, monitor = free_port(), free_port()
    store = tmp_path / "jetstream"
    command = [
        str(binary),
        "--jetstream",
        "--store_dir",
        str(store),
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        "--http_port",
        str(monitor),
    ]
    health = f"http://127.0.0.1:{monitor}/healthz"
    with running(command, tmp_path / "nats.log", health):
        yield NatsServer(
            f"nats://127.0.0.1:{port}", f"http://127.0.0.1:{monitor}", store
        )


def docker_cli() -> str:
    """Returns the docker CLI, or fails saying how to get it."""
    found = shutil.which("docker")
    if found is None:
        pytest.fail(f"the docker CLI is not on PATH; {PREPARE_HINT}.", pytrace=False)
    return found
