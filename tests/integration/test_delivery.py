"""Events reach their user through a real nats-server and a real Centrifugo binary.

The stream and consumer are provisioned by the project's providers, Centrifugo runs
with the configuration the program generates, tokens come from the token command and
events from the publish command. Only Docker is left out (the e2e tier has it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootstrap.provider import ConsumerProvider, StreamProvider
from components.centrifugo import (
    CentrifugoSecrets,
    ConsumerBinding,
    build_config,
)
from components.nats import ADMIN_INBOX, ADMIN_USER, CENTRIFUGO_USER, PUBLISHER_USER
from components.settings import PersonalNamespaceSettings
from tests.clients import WebSocketClient, both_transports
from tests.conftest import NatsServer, free_port, required_binary, running
from tests.integration.conftest import PASSWORDS
from tests.stack_config import PROJECT_DIR
from tools.mint_token import mint_token

pytestmark = pytest.mark.integration

# Generous bound on one delivery; speed is measured by the benchmark, not here.
DELIVERY_TIMEOUT = 10.0
SECRETS = CentrifugoSecrets(
    token_hmac_secret="test-hmac-" + uuid.uuid4().hex,
    api_key="test-api-" + uuid.uuid4().hex,
    admin_password="test-admin",
    admin_secret="test-admin-secret",
    nats_password=PASSWORDS.centrifugo,
    redis_password="redis-" + uuid.uuid4().hex,
)


@dataclass(frozen=True)
class Centrifugo:
    sse_url: str
    websocket_url: str
    internal_url: str


def _config(nats_url: str, redis_url: str = "redis://redis:6379") -> dict:
    return build_config(
        redis_url=redis_url,
        consumer=ConsumerBinding(
            nats_url=nats_url,
            stream_name="EVENTS",
            subjects=("events.>",),
            durable_name="centrifugo_consumer",
            deliver_policy="all",
            max_ack_pending=100,
            nats_user=CENTRIFUGO_USER,
        ),
        personal=PersonalNamespaceSettings(
            history_size=100, history_ttl=300, presence=False, force_recovery=True
        ),
        allowed_origins=("http://localhost:3000",),
        log_level="info",
        secrets=SECRETS,
    )


def _provision(nats_url: str) -> None:
    connection = {
        "servers": [nats_url],
        "timeout": 10.0,
        "user": ADMIN_USER,
        "password": PASSWORDS.admin,
        "inbox_prefix": ADMIN_INBOX,
    }
    StreamProvider().create(
        {
            "connection": connection,
            "stream_name": "EVENTS",
            "subjects": ["events.>"],
            "storage": "file",
        }
    )
    ConsumerProvider().create(
        {
            "connection": connection,
            "stream_name": "EVENTS",
            "durable_name": "centrifugo_consumer",
            "deliver_policy": "all",
            "ack_policy": "explicit",
        }
    )


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server with the stack's password, on a free loopback port."""
    binary = required_binary("ZKM_REDIS_SERVER_BIN")
    port = free_port()
    command = [
        str(binary),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--requirepass",
        SECRETS.redis_password,
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    ) as process:
        try:
            _wait_for_port(port)
            yield f"redis://127.0.0.1:{port}"
        finally:
            process.terminate()


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            return
        time.sleep(0.1)
    pytest.fail(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@pytest.fixture
def centrifugo(
    secured_nats: NatsServer, redis_url: str, tmp_path: Path
) -> Iterator[Centrifugo]:
    nats_server = secured_nats
    binary = required_binary("ZKM_CENTRIFUGO_BIN")
    _provision(nats_server.url)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(_config(nats_server.url, redis_url)))
    port, internal = free_port(), free_port()
    env = {
        **os.environ,
        # Free ports instead of the container's fixed 8000 and 9000.
        "CENTRIFUGO_HTTP_SERVER_PORT": str(port),
        "CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT": str(internal),
        "CENTRIFUGO_HTTP_SERVER_ADDRESS": "127.0.0.1",
        "CENTRIFUGO_HTTP_SERVER_INTERNAL_ADDRESS": "127.0.0.1",
    }
    with running(
        [str(binary), "--config", str(config_file)],
        tmp_path / "centrifugo.log",
        f"http://127.0.0.1:{internal}/health",
        env=env,
    ):
        yield Centrifugo(
            sse_url=f"http://127.0.0.1:{port}/connection/uni_sse",
            websocket_url=f"ws://127.0.0.1:{port}/connection/websocket",
            internal_url=f"http://127.0.0.1:{internal}",
        )


def _publish(nats_url: str, user: str, data: dict) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.publish_event", user, "--data", json.dumps(data)],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "ZKM_NATS_URL": nats_url,
            "ZKM_NATS_USER": PUBLISHER_USER,
            "ZKM_NATS_PASSWORD": PASSWORDS.publisher,
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stored in stream EVENTS" in result.stdout


def _token(user: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tools.mint_token", user, "--ttl", "300"],
        cwd=PROJECT_DIR,
        env={**os.environ, "ZKM_TOKEN_HMAC_SECRET": SECRETS.token_hmac_secret},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_generated_config_passes_strict_checkconfig(tmp_path: Path) -> None:
    binary = required_binary("ZKM_CENTRIFUGO_BIN")
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(_config("nats://nats:4222")))

    result = subprocess.run(
        [str(binary), "checkconfig", "--strict", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_event_published_for_alice_reaches_alice_only_over_sse_and_websocket(
    secured_nats: NatsServer, centrifugo: Centrifugo
) -> None:
    nats_server = secured_nats
    alice_event = {"text": "hello alice", "id": uuid.uuid4().hex}
    bob_event = {"text": "hello bob", "id": uuid.uuid4().hex}

    with (
        both_transports(
            centrifugo.sse_url, centrifugo.websocket_url, _token("alice")
        ) as alice,
        both_transports(
            centrifugo.sse_url, centrifugo.websocket_url, _token("bob")
        ) as bob,
    ):
        _publish(nats_server.url, "alice", alice_event)
        # The stream delivers in order: once bob has his own later event, alice's
        # was already handled, so its absence from bob's inbox is final.
        _publish(nats_server.url, "bob", bob_event)
        got = {
            name: client.inbox.wait_for(
                lambda p, e=event: p.data == e, DELIVERY_TIMEOUT
            )
            for name, client, event in (
                ("alice sse", alice[0], alice_event),
                ("alice ws", alice[1], alice_event),
                ("bob sse", bob[0], bob_event),
                ("bob ws", bob[1], bob_event),
            )
        }

    assert all(got.values()), got
    assert got["alice sse"].channel == "personal:#alice"
    assert got["alice ws"].channel == "personal:#alice"
    for client in bob:
        assert alice_event not in [p.data for p in client.inbox.items()]


def test_connection_with_wrongly_signed_token_is_refused(
    centrifugo: Centrifugo,
) -> None:
    forged = mint_token("not-the-stack-secret", "alice", 300)

    with pytest.raises(ConnectionError):
        WebSocketClient(centrifugo.websocket_url, forged).__enter__()
