"""How provisioning authenticates: token and TLS, against a real nats-server.

(User and password are covered by the tests that run the generated configuration.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bootstrap import NatsUnavailableError
from bootstrap.provider import StreamProvider
from tests.conftest import free_port, required_binary, running

pytestmark = pytest.mark.integration


def _stream(connection: dict[str, Any]) -> dict[str, Any]:
    return {"connection": connection, "stream_name": "EVENTS", "subjects": ["e.>"]}


def _server(tmp_path: Path, *flags: str) -> tuple[list[str], str, str]:
    port, monitor = free_port(), free_port()
    command = [
        str(required_binary("ZKM_NATS_SERVER_BIN")),
        "--jetstream",
        "--store_dir",
        str(tmp_path / "js"),
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        "--http_port",
        str(monitor),
        *flags,
    ]
    return command, f"127.0.0.1:{port}", f"http://127.0.0.1:{monitor}/healthz"


def test_token_authenticates_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    command, address, health = _server(tmp_path, "--auth", "s3cret-token")
    connection = {"servers": [f"nats://{address}"], "timeout": 2.0}

    with running(command, tmp_path / "nats.log", health):
        created = StreamProvider().create(
            _stream({**connection, "token": "s3cret-token"})
        )
        with pytest.raises(NatsUnavailableError) as refused:
            StreamProvider().create(_stream({**connection, "token": "wrong"}))

    assert created.id == "EVENTS"
    assert "wrong" not in str(refused.value)


def test_tls_with_the_servers_ca_connects(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not on PATH; install Debian's openssl package.")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    command, address, health = _server(
        tmp_path, "--tls", "--tlscert", str(cert), "--tlskey", str(key)
    )
    connection = {"servers": [f"tls://{address}"], "timeout": 2.0}

    with running(command, tmp_path / "nats.log", health):
        created = StreamProvider().create(
            _stream({**connection, "tls_ca_file": str(cert)})
        )
        with pytest.raises(NatsUnavailableError):
            # Without the CA the server's certificate cannot be verified.
            StreamProvider().create(_stream(connection))

    assert created.id == "EVENTS"
