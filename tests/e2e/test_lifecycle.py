"""The stack's lifecycle through the real engine: changes, guards, drift, stop/start.

One deployment (stack `life`) goes through the steps in order: an in-place change,
an immutable change refused while the stream holds messages and allowed when asked,
adoption of a hand-made stream, a stream deleted out of band, and stopping the
services while keeping the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import nats
import pytest
from nats.js import api
from pulumi import automation as auto

from tests.clients import SseClient
from tests.e2e.harness import RUN_ID, open_local_stack, outputs
from tools.mint_token import mint_token
from tools.publish_event import publish

pytestmark = pytest.mark.e2e

STACK = f"life-{RUN_ID}"
DELIVERY_TIMEOUT = 10.0
AUDIT = {"name": "AUDIT", "subjects": ["audit.>"], "storage": "file"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    deployed = open_local_stack(tmp_path_factory.mktemp("life"), STACK)
    try:
        deployed.up(color="never")
        yield deployed
    finally:
        deployed.destroy(color="never")


@pytest.fixture(scope="module")
def out(stack: auto.Stack) -> dict[str, Any]:
    return outputs(stack)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value if isinstance(value, str) else json.dumps(value)


def _set(stack: auto.Stack, key: str, value: Any) -> None:
    """Sets a setting as `pulumi config set [--path]` would."""
    full_key = f"zk-messenger:{key}"
    if not isinstance(value, (list, dict)):
        stack.set_config(full_key, auto.ConfigValue(str(value)))
        return
    # Structured settings are written leaf by leaf, as `--path` does.
    stack.remove_config(full_key)
    for path, text in _leaves(value, full_key):
        stack.set_config(path, auto.ConfigValue(text), path=True)


def _admin(out: dict[str, Any], action: Any) -> Any:
    async def run() -> Any:
        client = await nats.connect(
            out["natsUrl"],
            user=out["natsAdminUser"],
            password=out["natsAdminPassword"],
            inbox_prefix=out["natsAdminInboxPrefix"],
        )
        try:
            return await action(client.jsm())
        finally:
            await client.close()

    return asyncio.run(run())


def _stream(out: dict[str, Any], name: str) -> api.StreamInfo:
    return _admin(out, lambda jsm: jsm.stream_info(name))


def _publish(out: dict[str, Any], subject: str, users: list[str], data: Any) -> None:
    credentials = (out["natsPublisherUser"], out["natsPublisherPassword"])
    asyncio.run(publish(out["natsUrl"], subject, users, data, credentials=credentials))


def _changes(result: Any) -> dict[str, int]:
    return {k: v for k, v in (result.change_summary or {}).items() if k != "same"}


def test_in_place_change_updates_stream_and_keeps_every_message(
    stack: auto.Stack, out: dict[str, Any]
) -> None:
    for index in range(5):
        _publish(out, "events.users", ["nobody"], {"n": index})
    before = _stream(out, "EVENTS").state.messages

    _set(stack, "streamMaxAge", "48h")
    preview = stack.preview(color="never")
    stack.up(color="never")

    info = _stream(out, "EVENTS")
    assert _changes(preview) == {"update": 1}
    assert info.config.max_age == 48 * 3600
    assert info.state.messages == before >= 5


def test_hand_made_stream_is_adopted_not_recreated(
    stack: auto.Stack, out: dict[str, Any]
) -> None:
    made = _admin(
        out,
        lambda jsm: jsm.add_stream(
            name="AUDIT", subjects=["audit.>"], description="made by hand"
        ),
    )

    _set(stack, "extraStreams", [AUDIT])
    stack.up(color="never")
    # The publisher may publish to every declared stream's subjects.
    _publish(out, "audit.login", ["alice"], {"by": "publisher"})

    info = _stream(out, "AUDIT")
    assert info.created == made.created
    assert info.config.description == "made by hand"
    assert info.state.messages == 1


def test_immutable_change_previews_as_replace_and_is_refused_while_holding_messages(
    stack: auto.Stack, out: dict[str, Any]
) -> None:
    _set(stack, "extraStreams", [{**AUDIT, "storage": "memory"}])

    preview = stack.preview(color="never", diff=True)
    with pytest.raises(auto.CommandError) as refused:
        stack.up(color="never")

    assert _changes(preview).get("replace") == 1
    assert "storage is 'file' but the stack declares 'memory'" in str(refused.value)
    assert "1 message(s)" in str(refused.value)
    info = _stream(out, "AUDIT")
    assert info.config.storage == api.StorageType.FILE
    assert info.state.messages == 1


def test_immutable_change_with_data_loss_allowed_replaces_the_stream(
    stack: auto.Stack, out: dict[str, Any]
) -> None:
    _set(stack, "extraStreams", [{**AUDIT, "storage": "memory", "allowDataLoss": True}])

    stack.up(color="never")
    again = stack.preview(color="never")

    info = _stream(out, "AUDIT")
    assert info.config.storage == api.StorageType.MEMORY
    assert info.state.messages == 0
    assert _changes(again) == {}


def test_stream_deleted_out_of_band_shows_in_refresh_and_comes_back_delivering(
    stack: auto.Stack, out: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    centrifugo = docker_client.containers.get(out["centrifugoContainerName"])
    started = centrifugo.attrs["State"]["StartedAt"]
    _admin(out, lambda jsm: jsm.delete_stream("EVENTS"))

    refresh = stack.refresh(color="never")
    stack.up(color="never")

    assert "delete" in (refresh.summary.resource_changes or {})
    assert _stream(out, "EVENTS").config.subjects == ["events.>"]
    token = mint_token(out["tokenHmacSecret"], "carol", 300)
    event = {"after": "stream came back", "id": uuid.uuid4().hex}
    with SseClient(out["centrifugoSseUrl"], token) as carol:
        _publish(out, "events.users", ["carol"], event)
        got = carol.inbox.wait_for(lambda p: p.data == event, DELIVERY_TIMEOUT)
    centrifugo.reload()
    assert got is not None
    assert centrifugo.attrs["State"]["StartedAt"] == started


def test_renaming_the_events_stream_is_refused_while_it_holds_messages_then_allowed(
    stack: auto.Stack, out: dict[str, Any]
) -> None:
    _publish(out, "events.users", ["nobody"], {"before": "rename"})

    _set(stack, "streamName", "EVENTS2")
    with pytest.raises(auto.CommandError) as refused:
        stack.preview(color="never")
    _set(stack, "streamAllowDataLoss", "true")
    stack.up(color="never")
    renamed = _stream(out, "EVENTS2")
    _set(stack, "streamName", "EVENTS")
    stack.up(color="never")
    _set(stack, "streamAllowDataLoss", "false")
    stack.up(color="never")

    assert "Renaming stream 'EVENTS' to 'EVENTS2'" in str(refused.value)
    assert "streamAllowDataLoss" in str(refused.value)
    assert renamed.config.subjects == ["events.>"]
    assert _stream(out, "EVENTS").config.subjects == ["events.>"]


def test_stopping_services_keeps_volume_and_messages_and_starting_finds_them(
    stack: auto.Stack, out: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    for index in range(3):
        _publish(out, "events.users", ["nobody"], {"before stop": index})
    before = _stream(out, "EVENTS").state.messages

    _set(stack, "servicesRunning", "false")
    stack.up(color="never")
    stopped = {
        c.name
        for c in docker_client.containers.list(
            all=True, filters={"label": f"zk-messenger.stack={STACK}"}
        )
    }
    volume = docker_client.volumes.get(out["natsVolumeName"])
    _set(stack, "servicesRunning", "true")
    stack.up(color="never")

    assert stopped == set()
    assert volume.name == out["natsVolumeName"]
    assert _stream(out, "EVENTS").state.messages == before >= 3


def test_destroy_with_stream_kept_leaves_its_volume_and_next_up_finds_messages(
    stack: auto.Stack, out: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    _set(stack, "streamKeepOnDestroy", "true")
    stack.up(color="never")
    for index in range(2):
        _publish(out, "events.users", ["nobody"], {"kept": index})
    before = _stream(out, "EVENTS").state.messages
    consumer = _admin(
        out, lambda jsm: jsm.consumer_info("EVENTS", "centrifugo_consumer")
    )
    volume_name = out["natsVolumeName"]

    try:
        stack.destroy(color="never")
        kept = docker_client.volumes.get(volume_name)
        containers = docker_client.containers.list(
            all=True, filters={"label": f"zk-messenger.stack={STACK}"}
        )
        stack.up(color="never")
        again = outputs(stack)
        after = _stream(again, "EVENTS").state.messages
        kept_consumer = _admin(
            again, lambda jsm: jsm.consumer_info("EVENTS", "centrifugo_consumer")
        )
    finally:
        stack.destroy(color="never")
        for kept_volume in (volume_name, out["redisVolumeName"]):
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.volumes.get(kept_volume).remove()

    assert kept.name == volume_name
    assert containers == []
    assert after == before >= 2
    # The same durable, where it stopped: nothing is delivered twice.
    assert kept_consumer.created == consumer.created
    assert kept_consumer.delivered.stream_seq == consumer.delivered.stream_seq
