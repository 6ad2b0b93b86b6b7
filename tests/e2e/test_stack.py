"""The whole stack, deployed by the real Pulumi engine on the real Docker engine.

One deployment serves the module: `up` once, check it from the outside like a user
would (containers, JetStream, delivery to connected clients over SSE and
WebSocket), then `up` and `preview` again expecting no change, and `destroy`
expecting nothing of the stack left in Docker.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import nats
import pytest
from pulumi import automation as auto

from tests.clients import both_transports
from tests.e2e.harness import RUN_ID, open_local_stack, outputs, state_text
from tests.stack_config import PROJECT_DIR

pytestmark = pytest.mark.e2e

STACK = f"e2e-{RUN_ID}"
LABEL = f"zk-messenger.stack={STACK}"
DELIVERY_TIMEOUT = 10.0
SECRET_OUTPUTS = (
    "tokenHmacSecret",
    "apiKey",
    "adminPassword",
    "adminSecret",
    "natsPublisherPassword",
    "natsAdminPassword",
)


def _leftovers(client: docker.DockerClient) -> dict[str, list[str]]:
    """Returns the stack's containers, networks and volumes still in Docker."""
    selector = {"label": LABEL}
    return {
        "containers": [
            c.name for c in client.containers.list(all=True, filters=selector)
        ],
        "networks": [n.name for n in client.networks.list(filters=selector)],
        "volumes": [v.name for v in client.volumes.list(filters=selector)],
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    """The deployed e2e stack, with the dev settings on local images and free ports."""
    deployed = open_local_stack(tmp_path_factory.mktemp("e2e"), STACK)
    try:
        deployed.up(on_output=print, color="never")
        yield deployed
    finally:
        deployed.destroy(on_output=print, color="never")


@pytest.fixture(scope="module")
def out(stack: auto.Stack) -> dict[str, Any]:
    return outputs(stack)


def _command(module: str, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_up_runs_both_containers_healthy_on_the_stack_network(
    out: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    for name in (out["natsContainerName"], out["centrifugoContainerName"]):
        container = docker_client.containers.get(name)
        assert container.status == "running", name
        assert container.attrs["State"]["Health"]["Status"] == "healthy", name
        assert out["networkName"] in container.attrs["NetworkSettings"]["Networks"]
    volume = docker_client.volumes.get(out["natsVolumeName"])
    assert volume.attrs["Labels"]["zk-messenger.stack"] == STACK


def test_stream_and_consumer_exist_with_declared_config(out: dict[str, Any]) -> None:
    async def look() -> tuple[Any, Any]:
        client = await nats.connect(
            out["natsUrl"],
            user=out["natsAdminUser"],
            password=out["natsAdminPassword"],
            inbox_prefix=out["natsAdminInboxPrefix"],
        )
        try:
            jsm = client.jsm()
            stream = await jsm.stream_info(out["streamName"])
            consumer = await jsm.consumer_info(out["streamName"], out["consumerName"])
            return stream.config, consumer.config
        finally:
            await client.close()

    stream, consumer = asyncio.run(look())

    assert stream.name == "EVENTS"
    assert stream.subjects == ["events.>"]
    assert stream.storage == "file"
    assert stream.max_age == 24 * 3600
    assert consumer.durable_name == "centrifugo_consumer"
    assert consumer.ack_policy == "explicit"
    assert consumer.deliver_policy == "all"
    assert consumer.deliver_subject is None


def test_event_for_alice_reaches_alice_over_sse_and_websocket_and_not_bob(
    out: dict[str, Any],
) -> None:
    secret_env = {"ZKM_TOKEN_HMAC_SECRET": out["tokenHmacSecret"]}
    alice_token = _command("tools.mint_token", "alice", env=secret_env)
    bob_token = _command("tools.mint_token", "bob", env=secret_env)
    alice_event = {"text": "hi alice", "id": uuid.uuid4().hex}
    bob_event = {"text": "hi bob", "id": uuid.uuid4().hex}
    nats_env = {
        "ZKM_NATS_URL": out["natsUrl"],
        "ZKM_NATS_USER": out["natsPublisherUser"],
        "ZKM_NATS_PASSWORD": out["natsPublisherPassword"],
    }
    sse, websocket = out["centrifugoSseUrl"], out["centrifugoWebsocketUrl"]

    with (
        both_transports(sse, websocket, alice_token) as alice,
        both_transports(sse, websocket, bob_token) as bob,
    ):
        for user, event in (("alice", alice_event), ("bob", bob_event)):
            _command(
                "tools.publish_event", user, "--data", json.dumps(event), env=nats_env
            )
        # Events are handled in stream order: once bob has his later event,
        # alice's was already delivered, so its absence from bob's inbox is final.
        received = [
            client.inbox.wait_for(lambda p, e=event: p.data == e, DELIVERY_TIMEOUT)
            for client, event in (
                (alice[0], alice_event),
                (alice[1], alice_event),
                (bob[0], bob_event),
                (bob[1], bob_event),
            )
        ]

    assert all(received), received
    assert {p.channel for p in received[:2]} == {"personal:#alice"}
    for client in bob:
        assert alice_event not in [p.data for p in client.inbox.items()]


def test_outputs_name_every_access_point_and_hide_secrets(stack: auto.Stack) -> None:
    raw = stack.outputs()

    for name in (
        "centrifugoWebsocketUrl",
        "centrifugoSseUrl",
        "centrifugoApiUrl",
        "centrifugoAdminUrl",
        "natsUrl",
        "natsMonitorUrl",
        "streamName",
        "consumerName",
    ):
        assert raw[name].value, name
        assert not raw[name].secret, name
    for name in SECRET_OUTPUTS:
        assert raw[name].secret, name
        assert len(raw[name].value) >= 43, name


def test_generated_config_in_the_running_container_passes_strict_checkconfig(
    out: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    container = docker_client.containers.get(out["centrifugoContainerName"])

    code, output = container.exec_run(
        [
            "/usr/local/bin/centrifugo",
            "checkconfig",
            "--strict",
            "--config",
            "/centrifugo/config.json",
        ]
    )

    assert code == 0, output.decode()


def test_state_holds_no_secret_in_plain_text(
    stack: auto.Stack, out: dict[str, Any]
) -> None:
    state = state_text(stack)

    assert out["natsUrl"] in state
    for name in SECRET_OUTPUTS:
        assert out[name] not in state, name


def test_second_up_and_preview_report_no_changes(stack: auto.Stack) -> None:
    preview = stack.preview(color="never")
    up = stack.up(color="never")

    assert set(preview.change_summary) == {"same"}, preview.change_summary
    assert set(up.summary.resource_changes or {}) == {"same"}, up.summary


def test_destroy_leaves_no_container_network_or_volume(
    stack: auto.Stack, docker_client: docker.DockerClient
) -> None:
    stack.destroy(color="never")

    assert _leftovers(docker_client) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }
