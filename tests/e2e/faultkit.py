"""Counted event series for the fault and security tests, on a stack of their own.

A scenario deploys its own stack (`deployed`), connects one `Receiver` per user, lets
a `Publisher` send a numbered series of events while the fault happens, and ends with
a `Tally`: events sent (acknowledged by JetStream), received, lost and repeated.
Every wait here is bounded in count and in time, and everything dials 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import centrifuge
import docker
import nats
import nats.errors
from docker.errors import APIError, NotFound
from nats.aio.client import Client
from nats.js import JetStreamManager
from pulumi import automation as auto

from tests.clients import Publication, WebSocketClient
from tests.e2e.harness import RUN_ID, open_local_stack, outputs
from tests.figures import report
from tools.mint_token import mint_token
from tools.publish_event import event_body, personal_channel

T = TypeVar("T")

__all__ = [
    "USERS",
    "Deployment",
    "Publisher",
    "Receiver",
    "Tally",
    "deployed",
    "leftovers",
    "merged",
    "new_run",
    "receivers",
    "report",
    "tally",
    "wait_delivered",
    "wait_healthy",
]

USERS = ("alice", "bob", "carol")
SUBJECT = "events.faults"
# Seconds one publish attempt may wait for its JetStream acknowledgement.
PUBLISH_TIMEOUT = 2.0
# Seconds between two attempts at an unacknowledged event.
RETRY_PAUSE = 0.2
# Lifetime of the tokens the receivers connect with, in seconds.
TOKEN_TTL = 900
NOTHING_LEFT: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}


def label(stack_name: str) -> str:
    """Returns the Docker label every object of `stack_name` carries."""
    return f"zk-messenger.stack={stack_name}"


def leftovers(client: docker.DockerClient, stack_name: str) -> dict[str, list[str]]:
    """Returns the stack's containers, networks and volumes still in Docker."""
    selector = {"label": label(stack_name)}
    return {
        "containers": [
            c.name for c in client.containers.list(all=True, filters=selector)
        ],
        "networks": [n.name for n in client.networks.list(filters=selector)],
        "volumes": [v.name for v in client.volumes.list(filters=selector)],
    }


@dataclass(frozen=True)
class Deployment:
    """A deployed stack and what a test needs to reach it."""

    name: str
    stack: auto.Stack = field(repr=False)
    # The outputs hold the stack's secrets: kept out of failure reports.
    out: dict[str, Any] = field(repr=False)
    docker: docker.DockerClient = field(repr=False)

    def container(self, output: str) -> Any:
        """Returns the Docker container named by a stack output."""
        return self.docker.containers.get(self.out[output])

    def token(self, user: str, ttl: int = TOKEN_TTL, now: float | None = None) -> str:
        """Returns a connection token for `user` signed with the stack's key."""
        return mint_token(self.out["tokenHmacSecret"], user, ttl, now=now)

    def jetstream(self, action: Callable[[JetStreamManager], Awaitable[T]]) -> T:
        """Runs `action` with a JetStream manager, as the stack's NATS admin user."""

        async def run() -> T:
            client = await _connect(self.out, "Admin", 5.0)
            try:
                return await action(client.jsm(timeout=5))
            finally:
                await _close(client)

        return asyncio.run(run())


@contextlib.contextmanager
def deployed(
    workdir: Path, name: str, config: Mapping[str, str] | None = None
) -> Iterator[Deployment]:
    """Deploys the dev settings on local images and free ports, as stack `name-RUN`.

    Whatever happens inside, the stack is destroyed afterwards (its stopped or
    paused containers running again, so the JetStream objects can be deleted) and
    anything a failed destroy leaves in Docker is removed by its label. A failing
    destroy fails the test only when the test itself passed.
    """
    stack_name = f"{name}-{RUN_ID}"
    client = docker.from_env()
    try:
        assert leftovers(client, stack_name) == NOTHING_LEFT, (
            f"an earlier run left stack {stack_name!r} behind; remove it first"
        )
        stack = open_local_stack(workdir, stack_name)
        for key, value in (config or {}).items():
            stack.set_config(f"zk-messenger:{key}", auto.ConfigValue(value))
        passed = False
        try:
            stack.up(color="never")
            yield Deployment(stack_name, stack, outputs(stack), client)
            passed = True
        finally:
            _teardown(client, stack, stack_name, raise_errors=passed)
    finally:
        client.close()


def _teardown(
    client: docker.DockerClient, stack: auto.Stack, stack_name: str, raise_errors: bool
) -> None:
    selector = {"label": label(stack_name)}
    for container in client.containers.list(all=True, filters=selector):
        with contextlib.suppress(APIError):
            if container.status == "paused":
                container.unpause()
            elif container.status != "running":
                container.start()
    try:
        stack.destroy(color="never")
    except auto.CommandError:
        if raise_errors:
            raise
    finally:
        for container in client.containers.list(all=True, filters=selector):
            with contextlib.suppress(NotFound):
                container.remove(force=True, v=True)
        for network in client.networks.list(filters=selector):
            with contextlib.suppress(NotFound):
                network.remove()
        for volume in client.volumes.list(filters=selector):
            with contextlib.suppress(NotFound):
                volume.remove(force=True)


def wait_healthy(container: Any, timeout: float = 60.0) -> bool:
    """Waits until a container's health check reports healthy; returns whether."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            container.reload()
        except NotFound:
            return False
        status = (container.attrs["State"].get("Health") or {}).get("Status")
        if container.status == "running" and status == "healthy":
            return True
        time.sleep(0.2)
    return False


class Publisher:
    """Publishes numbered events for several users, each retried until acknowledged.

    It connects as the stack's publisher user, read from the stack outputs `out`.
    Used as a context manager: the series starts on entering and is stopped on
    leaving. Events go round-robin over the users, one at a time, each with a
    `Nats-Msg-Id`, so a retry of an event the stream stored but whose
    acknowledgement was lost is dropped by the stream's duplicate window. An event
    counts as sent only once JetStream has acknowledged it.
    """

    def __init__(
        self,
        out: Mapping[str, Any],
        run: str,
        numbers: range,
        users: Iterable[str] = USERS,
        pause: float = 0.01,
        deadline: float = 120.0,
    ) -> None:
        self.run = run
        self.numbers = numbers
        self.users = tuple(users)
        self.sent: dict[str, set[int]] = {user: set() for user in self.users}
        self.failed_attempts = 0
        self._out = out
        self._pause = pause
        self._deadline = time.monotonic() + deadline
        self._changed = threading.Condition()
        self._done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(PUBLISH_TIMEOUT + 5)

    @property
    def planned(self) -> int:
        """Events this publisher is to send."""
        return len(self.users) * len(self.numbers)

    def count(self) -> int:
        """Events acknowledged so far."""
        with self._changed:
            return sum(len(numbers) for numbers in self.sent.values())

    def wait_sent(self, count: int, timeout: float) -> bool:
        """Waits until `count` events are acknowledged; returns whether they are."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(len(n) for n in self.sent.values()) < count:
                remaining = deadline - time.monotonic()
                if self._done.is_set() or remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def join(self, timeout: float) -> bool:
        """Waits up to `timeout` for the whole series; returns whether all was sent."""
        self._thread.join(timeout)
        return not self._thread.is_alive() and self.count() == self.planned

    def _run(self) -> None:
        try:
            asyncio.run(self._series())
        finally:
            self._done.set()
            with self._changed:
                self._changed.notify_all()

    async def _series(self) -> None:
        client: Client | None = None
        try:
            for number in self.numbers:
                for user in self.users:
                    client = await self._publish(client, user, number)
                    if client is None:
                        return
                    await asyncio.sleep(self._pause)
        finally:
            if client is not None:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await client.close()

    async def _publish(
        self, client: Client | None, user: str, number: int
    ) -> Client | None:
        """Publishes one event until acknowledged; None once stopped or too late."""
        body = event_body([user], {"run": self.run, "user": user, "n": number})
        headers = {"Nats-Msg-Id": f"{self.run}-{user}-{number}"}
        while time.monotonic() < self._deadline and not self._stop.is_set():
            try:
                if client is None or not client.is_connected:
                    await _close(client)
                    client = None
                    client = await _connect(self._out, "Publisher", PUBLISH_TIMEOUT)
                await client.jetstream().publish(
                    SUBJECT, body, timeout=PUBLISH_TIMEOUT, headers=headers
                )
            except (TimeoutError, nats.errors.Error, OSError):
                self.failed_attempts += 1
                await _close(client)
                client = None
                await asyncio.sleep(RETRY_PAUSE)
                continue
            with self._changed:
                self.sent[user].add(number)
                self._changed.notify_all()
            return client
        await _close(client)
        return None


async def _connect(out: Mapping[str, Any], role: str, timeout: float) -> Client:
    """Connects once as the stack's `role` user ("Publisher" or "Admin").

    nats-py leaves the socket of a failed first connection open when reconnecting
    is off (e.g. Docker's proxy accepting while the container is down): it is
    closed here.
    """
    client = Client()
    try:
        await client.connect(
            servers=[out["natsUrl"]],
            user=out[f"nats{role}User"],
            password=out[f"nats{role}Password"],
            inbox_prefix=out[f"nats{role}InboxPrefix"],
            connect_timeout=timeout,
            allow_reconnect=False,
            error_cb=_quiet,
        )
    except BaseException:
        await _close(client)
        raise
    return client


async def _quiet(_error: Exception) -> None:
    """Swallows nats-py's error callbacks: a refused attempt is simply retried."""


async def _close(client: Client | None) -> None:
    if client is not None:
        # nats-py asserts when closing a client that never reached the server.
        with contextlib.suppress(nats.errors.Error, OSError, AssertionError):
            await client.close()


class Receiver(WebSocketClient):
    """A WebSocket client (Centrifugo's Python SDK) that also records recoveries.

    The SDK reconnects by itself and, on reconnecting, asks to recover its personal
    channel from the last offset and epoch it saw.
    """

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        # (was_recovering, recovered) of each server-side subscription, in order.
        self.subscribes: list[tuple[bool, bool]] = []

    def _events(self) -> centrifuge.ClientEventHandler:
        base: Any = type(super()._events())
        outer = self

        class Events(base):  # type: ignore[misc]
            async def on_subscribed(
                self, ctx: centrifuge.ServerSubscribedContext
            ) -> None:
                outer.subscribes.append((ctx.was_recovering, ctx.recovered))

        return Events()

    def drop(self) -> None:
        """Disconnects, keeping the position the next connect recovers from."""
        assert self._client is not None
        self._call(self._client.disconnect())

    def reconnect(self, timeout: float = 10.0) -> None:
        """Connects again and waits for the server's answer."""
        assert self._client is not None
        self.connected.clear()
        self.disconnect_code = None
        self._call(self._client.connect())
        assert self.connected.wait(timeout), "no answer to the reconnect"
        assert self.disconnect_code is None, f"refused: {self.disconnect_code}"

    def try_subscribe(self, channel: str, timeout: float = 5.0) -> str:
        """Asks to subscribe to `channel`; returns "subscribed" or the refusal."""
        assert self._client is not None
        outcome: asyncio.Future[str] = self._loop.create_future()

        class Events(centrifuge.SubscriptionEventHandler):
            async def on_subscribed(self, ctx: centrifuge.SubscribedContext) -> None:
                if not outcome.done():
                    outcome.set_result("subscribed")

            async def on_unsubscribed(
                self, ctx: centrifuge.UnsubscribedContext
            ) -> None:
                if not outcome.done():
                    outcome.set_result(f"refused {ctx.code} {ctx.reason}")

        async def attempt() -> str:
            assert self._client is not None
            subscription = self._client.new_subscription(channel, events=Events())
            await subscription.subscribe()
            return await asyncio.wait_for(outcome, timeout)

        return str(self._call(attempt(), timeout + 5))

    def numbers(self, run: str, user: str) -> list[int]:
        """Returns the numbers of `user`'s events of `run` received, repeats kept."""
        return [
            p.data["n"]
            for p in self.inbox.items()
            if _of_run(p, run) and p.data.get("user") == user
        ]

    def foreign(self, run: str, user: str) -> list[Publication]:
        """Returns events of `run` received that were not `user`'s own."""
        return [
            p
            for p in self.inbox.items()
            if _of_run(p, run)
            and (p.data.get("user") != user or p.channel != personal_channel(user))
        ]


def _of_run(publication: Publication, run: str) -> bool:
    data = publication.data
    return isinstance(data, dict) and data.get("run") == run


@contextlib.contextmanager
def receivers(
    deployment: Deployment, users: Iterable[str] = USERS
) -> Iterator[dict[str, Receiver]]:
    """Connects one `Receiver` per user over WebSocket."""
    with contextlib.ExitStack() as stack:
        yield {
            user: stack.enter_context(
                Receiver(
                    deployment.out["centrifugoWebsocketUrl"], deployment.token(user)
                )
            )
            for user in users
        }


def new_run() -> str:
    """Returns an identifier marking one scenario's events."""
    return uuid.uuid4().hex[:12]


def wait_delivered(
    clients: Mapping[str, Receiver],
    run: str,
    sent: Mapping[str, set[int]],
    timeout: float,
) -> bool:
    """Waits until every user has every event sent to them; returns whether."""
    deadline = time.monotonic() + timeout
    while True:
        if all(
            sent[user] <= set(client.numbers(run, user))
            for user, client in clients.items()
        ):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


@dataclass(frozen=True)
class Tally:
    """What one scenario's series came to, over all its users.

    Attributes:
        scenario: Short name of the scenario.
        sent: Events JetStream acknowledged.
        received: Acknowledged events that reached their user at least once.
        lost: Acknowledged events that never reached their user.
        duplicates: Deliveries beyond the first of an event.
        foreign: Events that reached a user they were not for.
        unsent: Events of the series never acknowledged.
        missing: The lost events' numbers, by user.
        notes: Further figures of the scenario.
    """

    scenario: str
    sent: int
    received: int
    lost: int
    duplicates: int
    foreign: int
    unsent: int
    missing: dict[str, list[int]]
    notes: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """Returns the scenario's figures on one line."""
        extra = "".join(f" {key}={value}" for key, value in self.notes.items())
        return (
            f"FIGURES {self.scenario}: sent={self.sent} received={self.received} "
            f"lost={self.lost} duplicates={self.duplicates} foreign={self.foreign} "
            f"unsent={self.unsent}{extra}"
        )

    def missing_text(self) -> str:
        """Returns the lost events as `user: first..last (count)`, for messages."""
        return ", ".join(
            f"{user}: {numbers[0]}..{numbers[-1]} ({len(numbers)})"
            for user, numbers in self.missing.items()
        )


def tally(
    scenario: str,
    clients: Mapping[str, Receiver],
    run: str,
    *series: Publisher,
    **notes: Any,
) -> Tally:
    """Counts, per user, the sent events received, missing and repeated."""
    sent = merged(*series)
    received = lost = duplicates = foreign = 0
    missing: dict[str, list[int]] = {}
    for user, client in clients.items():
        got = client.numbers(run, user)
        unique = set(got)
        received += len(sent[user] & unique)
        gone = sorted(sent[user] - unique)
        if gone:
            missing[user] = gone
        lost += len(gone)
        duplicates += len(got) - len(unique)
        foreign += len(client.foreign(run, user))
    total = sum(len(numbers) for numbers in sent.values())
    unsent = sum(publisher.planned for publisher in series) - total
    return Tally(
        scenario, total, received, lost, duplicates, foreign, unsent, missing, notes
    )


def merged(*series: Publisher) -> dict[str, set[int]]:
    """Returns what several publishers of one run sent, by user."""
    result: dict[str, set[int]] = {}
    for publisher in series:
        for user, numbers in publisher.sent.items():
            result.setdefault(user, set()).update(numbers)
    return result
