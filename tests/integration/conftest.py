"""A nats-server configured exactly as the program configures the NATS container."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.nats import Durable, NatsPasswords, build_config
from tests.conftest import NatsServer, free_port, required_binary, running

PASSWORDS = NatsPasswords(
    admin="admin-" + uuid.uuid4().hex,
    publisher="publisher-" + uuid.uuid4().hex,
    centrifugo="centrifugo-" + uuid.uuid4().hex,
)


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """nats-server with the configuration the program generates (users, rights)."""
    config = build_config(
        server_name="test",
        passwords=PASSWORDS,
        event_subjects=["events.>"],
        durables=[Durable("EVENTS", "centrifugo_consumer")],
    )
    port, monitor = free_port(), free_port()
    # Free loopback ports and a temporary store instead of the container's.
    config.update(
        host="127.0.0.1",
        port=port,
        http=f"127.0.0.1:{monitor}",
        jetstream={"store_dir": str(tmp_path / "jetstream")},
    )
    config.pop("http_port")
    config_file = tmp_path / "nats.conf"
    config_file.write_text(json.dumps(config))
    with running(
        [str(required_binary("ZKM_NATS_SERVER_BIN")), "--config", str(config_file)],
        tmp_path / "nats.log",
        f"http://127.0.0.1:{monitor}/healthz",
    ):
        yield NatsServer(
            f"nats://127.0.0.1:{port}", f"http://127.0.0.1:{monitor}", tmp_path
        )
