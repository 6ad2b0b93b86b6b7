"""NATS users: each role works within its rights and is refused outside them.

The server runs the configuration the program generates for the NATS container.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import api

from bootstrap.provider import ConsumerProvider, StreamProvider
from components.nats import (
    ADMIN_INBOX,
    ADMIN_USER,
    CENTRIFUGO_INBOX,
    CENTRIFUGO_USER,
    PUBLISHER_INBOX,
    PUBLISHER_USER,
)
from tests.conftest import NatsServer
from tests.integration.conftest import PASSWORDS

pytestmark = pytest.mark.integration

PASSWORD = {
    ADMIN_USER: PASSWORDS.admin,
    PUBLISHER_USER: PASSWORDS.publisher,
    CENTRIFUGO_USER: PASSWORDS.centrifugo,
}
INBOX = {
    ADMIN_USER: ADMIN_INBOX,
    PUBLISHER_USER: PUBLISHER_INBOX,
    CENTRIFUGO_USER: CENTRIFUGO_INBOX,
}


def _as(
    server: NatsServer, user: str, action: Callable[[Client], Awaitable[Any]]
) -> Any:
    async def run() -> Any:
        client = await nats.connect(
            server.url,
            user=user,
            password=PASSWORD[user],
            inbox_prefix=INBOX[user],
            allow_reconnect=False,
        )
        try:
            return await action(client)
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.fixture
def provisioned(secured_nats: NatsServer) -> NatsServer:
    connection = {
        "servers": [secured_nats.url],
        "timeout": 10.0,
        "user": ADMIN_USER,
        "password": PASSWORDS.admin,
        "inbox_prefix": ADMIN_INBOX,
    }
    StreamProvider().create(
        {"connection": connection, "stream_name": "EVENTS", "subjects": ["events.>"]}
    )
    ConsumerProvider().create(
        {
            "connection": connection,
            "stream_name": "EVENTS",
            "stream_identity": "EVENTS/file/no-workqueue",
            "durable_name": "centrifugo_consumer",
            "ack_policy": "explicit",
        }
    )
    return secured_nats


async def _publish_event(client: Client) -> api.PubAck:
    return await client.jetstream().publish("events.users", b"{}", timeout=2)


async def _create_stream(client: Client) -> api.StreamInfo:
    return await client.jsm(timeout=2).add_stream(name="ROGUE", subjects=["rogue.>"])


async def _delete_events(client: Client) -> bool:
    return await client.jsm(timeout=2).delete_stream("EVENTS")


async def _pull_one(client: Client) -> list[Any]:
    subscription = await client.jetstream().pull_subscribe_bind(
        "centrifugo_consumer", stream="EVENTS"
    )
    return await subscription.fetch(1, timeout=2)


# Refusals arrive as a permissions error or, for requests, as no reply in time.
REFUSED = (nats.errors.Error, asyncio.TimeoutError, nats.js.errors.Error)


async def _connect(server: NatsServer, **credentials: str) -> None:
    client = Client()
    try:
        await client.connect(
            server.url, allow_reconnect=False, max_reconnect_attempts=1, **credentials
        )
    finally:
        # nats-py keeps the socket of a refused connection open until closed.
        await client.close()


def test_connection_without_credentials_is_refused(provisioned: NatsServer) -> None:
    with pytest.raises((nats.errors.Error, OSError)):
        asyncio.run(_connect(provisioned))


def test_connection_with_wrong_password_is_refused(provisioned: NatsServer) -> None:
    with pytest.raises((nats.errors.Error, OSError)):
        asyncio.run(_connect(provisioned, user=PUBLISHER_USER, password="wrong"))


def test_publisher_publishes_events_and_is_acknowledged(
    provisioned: NatsServer,
) -> None:
    ack = _as(provisioned, PUBLISHER_USER, _publish_event)

    assert ack.stream == "EVENTS"


@pytest.mark.parametrize(
    ("user", "action"),
    [
        (PUBLISHER_USER, _create_stream),
        (PUBLISHER_USER, _delete_events),
        (PUBLISHER_USER, _pull_one),
        (CENTRIFUGO_USER, _publish_event),
        (CENTRIFUGO_USER, _create_stream),
        (CENTRIFUGO_USER, _delete_events),
        (ADMIN_USER, _publish_event),
    ],
    ids=[
        "publisher-creates-stream",
        "publisher-deletes-stream",
        "publisher-reads-consumer",
        "centrifugo-publishes-event",
        "centrifugo-creates-stream",
        "centrifugo-deletes-stream",
        "admin-publishes-event",
    ],
)
def test_role_outside_its_rights_is_refused_and_changes_nothing(
    provisioned: NatsServer,
    user: str,
    action: Callable[[Client], Awaitable[Any]],
) -> None:
    with pytest.raises(REFUSED):
        _as(provisioned, user, action)

    info = _as(provisioned, ADMIN_USER, lambda c: c.jsm().stream_info("EVENTS"))
    assert info.state.messages == 0


@pytest.mark.parametrize("user", [PUBLISHER_USER, ADMIN_USER])
def test_user_cannot_read_another_users_replies(
    provisioned: NatsServer, user: str
) -> None:
    async def listen_to_default_inbox(client: Client) -> None:
        await client.subscribe("_INBOX.>")
        # A refused subscription is reported on the next round trip.
        await client.flush(timeout=2)
        await asyncio.sleep(0.2)
        if client.last_error is not None:
            raise client.last_error

    with pytest.raises(REFUSED):
        _as(provisioned, user, listen_to_default_inbox)


def test_centrifugo_reads_and_acks_its_durable(provisioned: NatsServer) -> None:
    _as(provisioned, PUBLISHER_USER, _publish_event)

    async def pull_and_ack(client: Client) -> int:
        messages = await _pull_one(client)
        for message in messages:
            await message.ack_sync(timeout=2)
        return len(messages)

    assert _as(provisioned, CENTRIFUGO_USER, pull_and_ack) == 1
    info = _as(
        provisioned,
        ADMIN_USER,
        lambda c: c.jsm().consumer_info("EVENTS", "centrifugo_consumer"),
    )
    assert info.num_ack_pending == 0
    assert info.delivered.stream_seq == 1
