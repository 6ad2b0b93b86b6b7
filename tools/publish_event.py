"""Publishes an event for one or more users into JetStream, as Centrifugo expects it.

Usage: python -m tools.publish_event USER [USER ...] --data JSON
       [--subject SUBJECT] [--msg-id ID] [--stack STACK]

The event goes to the user's `personal:#USER` channel (several users: each one's).
It is published with JetStream, so the command returns only once the stream has
stored it; it prints the stream and sequence number. The NATS URL and the publisher's
credentials come from $ZKM_NATS_URL, $ZKM_NATS_USER and $ZKM_NATS_PASSWORD, or else
from the stack outputs `natsUrl`, `natsPublisherUser` and `natsPublisherPassword`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.js.api import PubAck

from components.centrifugo import PERSONAL_NAMESPACE
from components.nats import PUBLISHER_INBOX
from tools.stack import StackValueError, stack_value

NATS_URL_ENV = "ZKM_NATS_URL"
NATS_USER_ENV = "ZKM_NATS_USER"
NATS_PASSWORD_ENV = "ZKM_NATS_PASSWORD"
DEFAULT_SUBJECT = "events.users"


def personal_channel(user: str) -> str:
    """Returns the channel Centrifugo subscribes `user` to on connect."""
    return f"{PERSONAL_NAMESPACE}:#{user}"


def event_body(users: Sequence[str], data: Any) -> bytes:
    """Returns a Centrifugo consumer command delivering `data` to each user.

    Raises:
        ValueError: No user, or an empty user ID.
    """
    if not users or not all(users):
        raise ValueError("name at least one user, and no empty user ID")
    channels = [personal_channel(user) for user in users]
    if len(channels) == 1:
        command = {
            "method": "publish",
            "payload": {"channel": channels[0], "data": data},
        }
    else:
        command = {
            "method": "broadcast",
            "payload": {"channels": channels, "data": data},
        }
    return json.dumps(command, separators=(",", ":")).encode()


async def publish(
    url: str,
    subject: str,
    users: Sequence[str],
    data: Any,
    msg_id: str | None = None,
    timeout: int = 5,
    credentials: tuple[str, str] | None = None,
) -> PubAck:
    """Publishes one event and waits until JetStream has stored it.

    Args:
        url: NATS server URL.
        subject: Subject under one of the stream's subjects.
        users: Recipients.
        data: Event data, JSON-ready.
        msg_id: Nats-Msg-Id, for de-duplication.
        timeout: Seconds for one connection attempt, and for the acknowledgement.
        credentials: NATS user and password.

    Raises:
        nats.errors.Error: Connecting, or the acknowledgement, failed.
        OSError: The server could not be reached.
    """
    user, password = credentials or (None, None)

    async def quiet(_: Exception) -> None:
        return None

    client = Client()
    try:
        await client.connect(
            servers=[url],
            connect_timeout=timeout,
            allow_reconnect=False,
            # One try, then the caller hears why; nats-py's 0 means "no limit".
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            error_cb=quiet,
            user=user,
            password=password,
            inbox_prefix=PUBLISHER_INBOX,
        )
    except BaseException:
        # nats-py keeps a refused connection's socket open until closed, and
        # asserts when closing a client that never reached the server.
        with contextlib.suppress(nats.errors.Error, OSError, AssertionError):
            await client.close()
        raise
    try:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        return await client.jetstream().publish(
            subject, event_body(users, data), timeout=timeout, headers=headers
        )
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.publish_event", description=__doc__.splitlines()[0]
    )
    parser.add_argument("users", nargs="+", metavar="USER", help="recipient user ID")
    parser.add_argument("--data", required=True, help="event data, as JSON")
    parser.add_argument(
        "--subject", default=DEFAULT_SUBJECT, help=f"subject ({DEFAULT_SUBJECT})"
    )
    parser.add_argument("--msg-id", help="Nats-Msg-Id, to drop repeats in the window")
    parser.add_argument(
        "--stack", help="stack to read the NATS URL and credentials from"
    )
    args = parser.parse_args(argv)

    try:
        data = json.loads(args.data)
    except json.JSONDecodeError as exc:
        print(
            f"publish_event: --data is not JSON ({exc}): {args.data!r}", file=sys.stderr
        )
        return 2
    try:
        url = stack_value("natsUrl", NATS_URL_ENV, args.stack)
        credentials = (
            stack_value("natsPublisherUser", NATS_USER_ENV, args.stack),
            stack_value("natsPublisherPassword", NATS_PASSWORD_ENV, args.stack),
        )
        ack = asyncio.run(
            publish(
                url,
                args.subject,
                args.users,
                data,
                args.msg_id,
                credentials=credentials,
            )
        )
    except (StackValueError, ValueError) as exc:
        print(f"publish_event: {exc}", file=sys.stderr)
        return 2
    except (TimeoutError, nats.errors.Error, OSError) as exc:
        print(
            f"publish_event: publishing to {args.subject!r} failed ({exc!r}); check "
            "that the stack is up and the subject matches the stream's subjects.",
            file=sys.stderr,
        )
        return 1
    if ack.duplicate:
        print(f"duplicate of --msg-id {args.msg_id!r}: already stored at {ack.seq}")
    else:
        print(f"stored in stream {ack.stream} at sequence {ack.seq}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
