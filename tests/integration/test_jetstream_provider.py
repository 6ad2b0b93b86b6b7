"""The JetStream providers against a real nats-server.

Each test drives the provider methods the engine calls (check, diff, create, read,
update, delete) and then looks at the server itself through nats-py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from nats.js import api

from bootstrap import DataLossError, ImmutableChangeError, NatsUnavailableError
from bootstrap.provider import ConsumerProvider, StreamProvider
from tests.conftest import NatsServer, free_port

pytestmark = pytest.mark.integration


def _stream_props(server: NatsServer, **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "connection": {"servers": [server.url], "timeout": 10.0},
        "stream_name": "EVENTS",
        "subjects": ["events.>"],
        "storage": "file",
        "retention": "limits",
        # Pulumi hands numbers over as floats.
        "max_age": 3600.0,
        "max_bytes": -1.0,
        "duplicate_window": 120.0,
    }
    props.update(changes)
    return props


def _consumer_props(server: NatsServer, **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "connection": {"servers": [server.url], "timeout": 10.0},
        "stream_name": "EVENTS",
        "stream_identity": "EVENTS/file/no-workqueue",
        "durable_name": "centrifugo_consumer",
        "deliver_policy": "all",
        "ack_policy": "explicit",
        "ack_wait": 30.0,
        "max_ack_pending": 100.0,
        "max_deliver": -1.0,
    }
    props.update(changes)
    return props


class _ApiWatch:
    """Counts the JetStream API requests that change something on the server."""

    WRITES = ("CREATE", "UPDATE", "DELETE", "DURABLE")

    def __init__(self, server: NatsServer) -> None:
        self.subjects: list[str] = []
        self._server = server

    def writes(self) -> list[str]:
        return [s for s in self.subjects if any(f".{w}." in s for w in self.WRITES)]


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _stream_info(server: NatsServer, name: str) -> api.StreamInfo:
    client = await nats.connect(server.url)
    try:
        return await client.jsm().stream_info(name)
    finally:
        await client.close()


async def _consumer_info(server: NatsServer, durable: str) -> api.ConsumerInfo:
    client = await nats.connect(server.url)
    try:
        return await client.jsm().consumer_info("EVENTS", durable)
    finally:
        await client.close()


async def _publish(server: NatsServer, count: int) -> None:
    client = await nats.connect(server.url)
    try:
        js = client.jetstream()
        for index in range(count):
            await js.publish(f"events.test.{index}", b"{}")
    finally:
        await client.close()


async def _watch_api(server: NatsServer, watch: _ApiWatch, action: Any) -> None:
    client = await nats.connect(server.url)

    async def seen(msg: Any) -> None:
        watch.subjects.append(msg.subject)

    await client.subscribe("$JS.API.>", cb=seen)
    await client.flush()
    try:
        await asyncio.to_thread(action)
        await client.flush()
        await asyncio.sleep(0.2)
    finally:
        await client.close()


def _writes_during(server: NatsServer, action: Any) -> list[str]:
    watch = _ApiWatch(server)
    _run(_watch_api(server, watch, action))
    return watch.writes()


@pytest.fixture
def provider() -> StreamProvider:
    return StreamProvider()


@pytest.fixture
def consumers() -> ConsumerProvider:
    return ConsumerProvider()


@pytest.fixture
def stream(provider: StreamProvider, nats_server: NatsServer) -> Iterator[dict]:
    props = _stream_props(nats_server)
    provider.create(props)
    return props


def test_create_makes_the_declared_file_stream(
    provider: StreamProvider, nats_server: NatsServer
) -> None:
    result = provider.create(_stream_props(nats_server))

    info = _run(_stream_info(nats_server, "EVENTS"))
    assert result.id == "EVENTS"
    assert info.config.subjects == ["events.>"]
    assert info.config.storage == api.StorageType.FILE
    assert info.config.max_age == 3600


def test_create_with_identical_existing_stream_adopts_it_without_writing(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    _run(_publish(nats_server, 3))

    writes = _writes_during(nats_server, lambda: provider.create(stream))

    assert writes == []
    assert _run(_stream_info(nats_server, "EVENTS")).state.messages == 3


def test_create_with_mutable_difference_updates_in_place_and_keeps_messages(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    _run(_publish(nats_server, 5))

    provider.create(_stream_props(nats_server, max_age=7200.0))

    info = _run(_stream_info(nats_server, "EVENTS"))
    assert info.config.max_age == 7200
    assert info.state.messages == 5


def test_create_with_immutable_difference_and_messages_refuses_and_keeps_them(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    _run(_publish(nats_server, 2))

    with pytest.raises(DataLossError) as refused:
        provider.create(_stream_props(nats_server, storage="memory"))

    message = str(refused.value)
    assert "storage is 'file' but the stack declares 'memory'" in message
    assert "2 message(s)" in message
    assert "streamAllowDataLoss" in message
    info = _run(_stream_info(nats_server, "EVENTS"))
    assert info.config.storage == api.StorageType.FILE
    assert info.state.messages == 2


def test_create_with_immutable_difference_and_data_loss_allowed_replaces_stream(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    _run(_publish(nats_server, 2))

    provider.create(_stream_props(nats_server, storage="memory", allow_data_loss=True))

    info = _run(_stream_info(nats_server, "EVENTS"))
    assert info.config.storage == api.StorageType.MEMORY
    assert info.state.messages == 0


def test_create_with_immutable_difference_on_empty_stream_replaces_it(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    provider.create(_stream_props(nats_server, retention="workqueue"))

    info = _run(_stream_info(nats_server, "EVENTS"))
    assert info.config.retention == api.RetentionPolicy.WORK_QUEUE


def test_delete_of_replaced_resource_keeps_the_replacement(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    replacement = _stream_props(nats_server, storage="memory")
    provider.create(replacement)
    _run(_publish(nats_server, 1))

    # The engine deletes the old resource after creating its replacement.
    provider.delete("EVENTS", stream)

    info = _run(_stream_info(nats_server, "EVENTS"))
    assert info.config.storage == api.StorageType.MEMORY
    assert info.state.messages == 1


def test_diff_of_rename_with_messages_refuses_unless_allowed(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    _run(_publish(nats_server, 3))
    renamed = _stream_props(nats_server, stream_name="EVENTS2")

    with pytest.raises(DataLossError, match="3 message"):
        provider.diff("EVENTS", stream, renamed)
    allowed = provider.diff("EVENTS", stream, {**renamed, "allow_data_loss": True})

    assert allowed.replaces == ["stream_name"]


def test_update_changes_only_declared_fields_and_keeps_live_ones(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    async def set_description() -> None:
        info = await _stream_info(nats_server, "EVENTS")
        client = await nats.connect(nats_server.url)
        try:
            await client.jsm().update_stream(info.config.evolve(description="by hand"))
        finally:
            await client.close()

    _run(set_description())

    provider.update("EVENTS", stream, _stream_props(nats_server, max_msgs=1000.0))

    info = _run(_stream_info(nats_server, "EVENTS"))
    assert info.config.max_msgs == 1000
    assert info.config.max_age == 3600
    assert info.config.description == "by hand"


def test_update_with_nothing_changed_makes_no_write(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    writes = _writes_during(
        nats_server, lambda: provider.update("EVENTS", stream, stream)
    )

    assert writes == []


def test_diff_with_same_values_as_floats_and_ints_reports_no_change(
    provider: StreamProvider, nats_server: NatsServer
) -> None:
    olds = _stream_props(nats_server, max_age=3600, max_bytes=-1)
    news = _stream_props(nats_server, max_age=3600.0, max_bytes=-1.0)

    diff = provider.diff("EVENTS", olds, news)

    assert diff.changes is False
    assert diff.replaces == []


def test_read_reports_live_values_so_drift_shows(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    async def change_by_hand() -> None:
        info = await _stream_info(nats_server, "EVENTS")
        client = await nats.connect(nats_server.url)
        try:
            await client.jsm().update_stream(info.config.evolve(max_age=600.0))
        finally:
            await client.close()

    _run(change_by_hand())

    read = provider.read("EVENTS", stream)
    diff = provider.diff("EVENTS", read.outs or {}, stream)

    assert read.outs is not None
    assert read.outs["max_age"] == 600
    assert diff.changes is True
    assert diff.replaces == []


def test_read_of_stream_deleted_out_of_band_reports_it_gone(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    async def delete_by_hand() -> None:
        client = await nats.connect(nats_server.url)
        try:
            await client.jsm().delete_stream("EVENTS")
        finally:
            await client.close()

    _run(delete_by_hand())

    assert provider.read("EVENTS", stream).id == ""


def test_delete_of_missing_stream_succeeds(
    provider: StreamProvider, nats_server: NatsServer, stream: dict
) -> None:
    provider.delete("EVENTS", stream)
    provider.delete("EVENTS", stream)

    assert provider.read("EVENTS", stream).id == ""


def test_create_without_server_fails_within_its_timeout_and_says_what_to_do(
    provider: StreamProvider,
) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    props = {
        "connection": {"servers": [url], "timeout": 2.0},
        "stream_name": "EVENTS",
        "subjects": ["events.>"],
    }
    started = time.monotonic()

    with pytest.raises(NatsUnavailableError, match="did not answer within 2 s") as err:
        provider.create(props)

    assert time.monotonic() - started < 10
    assert "run the command again" in str(err.value)


def test_consumer_create_adopt_update_and_refuse_immutable(
    consumers: ConsumerProvider, nats_server: NatsServer, stream: dict
) -> None:
    props = _consumer_props(nats_server)

    created = consumers.create(props)
    adopt_writes = _writes_during(nats_server, lambda: consumers.create(props))
    consumers.update(
        created.id, props, _consumer_props(nats_server, max_ack_pending=50.0)
    )
    with pytest.raises(ImmutableChangeError, match="deliver_policy"):
        consumers.create(_consumer_props(nats_server, deliver_policy="new"))

    info = _run(_consumer_info(nats_server, "centrifugo_consumer"))
    assert created.id == "EVENTS/centrifugo_consumer"
    assert adopt_writes == []
    assert info.config.max_ack_pending == 50
    assert info.config.deliver_policy == api.DeliverPolicy.ALL
    assert info.config.ack_policy == api.AckPolicy.EXPLICIT


def test_consumer_diff_of_immutable_field_asks_for_replacement(
    consumers: ConsumerProvider, nats_server: NatsServer
) -> None:
    props = _consumer_props(nats_server)

    diff = consumers.diff("x", props, _consumer_props(nats_server, ack_policy="none"))

    assert diff.replaces == ["ack_policy"]
    assert diff.delete_before_replace is True


def test_consumer_delete_when_stream_is_gone_succeeds(
    consumers: ConsumerProvider,
    provider: StreamProvider,
    nats_server: NatsServer,
    stream: dict,
) -> None:
    props = _consumer_props(nats_server)
    consumers.create(props)
    provider.delete("EVENTS", stream)

    consumers.delete("EVENTS/centrifugo_consumer", props)

    assert consumers.read("EVENTS/centrifugo_consumer", props).id == ""


def test_consumer_diff_after_stream_replacement_asks_for_replacement(
    consumers: ConsumerProvider, nats_server: NatsServer
) -> None:
    props = _consumer_props(nats_server)

    replaced = _consumer_props(
        nats_server, stream_identity="EVENTS/memory/no-workqueue"
    )

    diff = consumers.diff("x", props, replaced)

    assert diff.replaces == ["stream_identity"]


def test_stream_diff_of_storage_change_replaces_new_before_old(
    provider: StreamProvider, nats_server: NatsServer
) -> None:
    props = _stream_props(nats_server)

    diff = provider.diff("EVENTS", props, _stream_props(nats_server, storage="memory"))

    assert diff.replaces == ["storage"]
    # `create` replaces the live stream itself, under the data-loss guard.
    assert diff.delete_before_replace is False
