"""A small synchronous wrapper around nats-py's JetStream management API.

Pulumi calls provider methods synchronously on worker threads, so each call opens
its own connection inside a fresh event loop and closes it before returning: nothing
is kept between calls, which also keeps the providers picklable. This module is the
one place where nats-py's exceptions become `bootstrap.errors` exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamManager, api

from bootstrap.errors import (
    ImmutableChangeError,
    JetStreamRequestError,
    NatsUnavailableError,
    ProvisioningError,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

# How nats-server words a refused change of a field that cannot change in place;
# the error codes it uses for them (10012, 10052) also cover other failures.
_IMMUTABLE_WORDING = (
    "can not change",
    "can not be updated",
    "cannot be updated",
    "with a different configuration",
)
# What to do about the refusals a declared setting can cause (nats-server's
# errors.json codes).
_HINTS = {
    10065: "another stream already captures these subjects; make them disjoint",
    10058: "a stream of this name exists with another configuration",
    10099: "a workqueue stream takes one unfiltered consumer only",
    10003: "the server refused a value as out of range",
}
# Seconds one connection attempt may take before the next one starts.
_ATTEMPT_TIMEOUT = 2
# Seconds between connection attempts while JetStream is starting.
_RETRY_PAUSE = 0.5
# Seconds one JetStream API request may take.
_REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Connection:
    """Where and how long to look for JetStream, and how to authenticate.

    Attributes:
        servers: NATS URLs, tried in turn.
        timeout: Seconds to keep trying before giving up.
        user: User name, with `password`.
        password: Password of `user`.
        token: Authentication token, instead of a user.
        credentials_file: Path of a `.creds` file (JWT and NKey seed).
        tls_ca_file: CA bundle to verify the server with; turns TLS on.
        tls_cert_file: Client certificate, for servers that verify clients.
        tls_key_file: Key of the client certificate.
        inbox_prefix: Subject prefix of replies to this client's requests.
    """

    servers: tuple[str, ...]
    timeout: float
    user: str | None = None
    password: str | None = None
    token: str | None = None
    credentials_file: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    inbox_prefix: str = "_INBOX"

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Connection:
        """Reads the `connection` input of a stream or consumer resource."""
        connection = dict(props["connection"])
        return cls(
            servers=tuple(connection.pop("servers")),
            timeout=float(connection.pop("timeout")),
            **{k: v for k, v in connection.items() if v},
        )

    def options(self) -> dict[str, Any]:
        """Returns the authentication and TLS options of `nats.connect`."""
        options: dict[str, Any] = {}
        if self.user:
            options["user"], options["password"] = self.user, self.password
        if self.token:
            options["token"] = self.token
        if self.credentials_file:
            options["user_credentials"] = self.credentials_file
        if self.tls_ca_file or self.tls_cert_file:
            context = ssl.create_default_context(cafile=self.tls_ca_file)
            if self.tls_cert_file:
                context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
            options["tls"] = context
        return options

    def describe(self) -> str:
        """Returns the server list without any credentials a URL may carry."""
        return ", ".join(_without_credentials(url) for url in self.servers)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname is None:
        return url
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class JetStream:
    """JetStream management calls for one connection, with errors translated."""

    def __init__(self, manager: JetStreamManager) -> None:
        self._manager = manager

    async def stream(self, name: str) -> api.StreamInfo | None:
        """Returns the stream's info, or None when it does not exist."""
        with _translated(f"stream {name!r}"):
            try:
                return await self._manager.stream_info(name)
            except nats.js.errors.NotFoundError:
                return None

    async def add_stream(self, config: api.StreamConfig) -> api.StreamInfo:
        """Creates a stream."""
        with _translated(f"stream {config.name!r}"):
            return await self._manager.add_stream(config)

    async def update_stream(self, config: api.StreamConfig) -> api.StreamInfo:
        """Replaces a stream's whole configuration with `config`."""
        with _translated(f"stream {config.name!r}"):
            return await self._manager.update_stream(config)

    async def delete_stream(self, name: str) -> bool:
        """Deletes a stream; returns False when it was already gone."""
        with _translated(f"stream {name!r}"):
            try:
                return await self._manager.delete_stream(name)
            except nats.js.errors.NotFoundError:
                return False

    async def consumer(self, stream: str, durable: str) -> api.ConsumerInfo | None:
        """Returns a durable's info, or None when it (or its stream) is gone."""
        with _translated(f"consumer {durable!r} of stream {stream!r}"):
            try:
                return await self._manager.consumer_info(stream, durable)
            except nats.js.errors.NotFoundError:
                return None

    async def put_consumer(
        self, stream: str, config: api.ConsumerConfig
    ) -> api.ConsumerInfo:
        """Creates a durable consumer, or updates it when it exists."""
        with _translated(f"consumer {config.durable_name!r} of stream {stream!r}"):
            return await self._manager.add_consumer(stream, config)

    async def delete_consumer(self, stream: str, durable: str) -> bool:
        """Deletes a durable consumer; returns False when it was already gone."""
        with _translated(f"consumer {durable!r} of stream {stream!r}"):
            try:
                return await self._manager.delete_consumer(stream, durable)
            except nats.js.errors.NotFoundError:
                return False


@contextlib.contextmanager
def _translated(subject: str) -> Iterator[None]:
    """Turns nats-py failures of one request into provisioning errors."""
    try:
        yield
    except nats.js.errors.APIError as exc:
        said = f"the server answered {exc.description!r} (err_code {exc.err_code})"
        if any(words in (exc.description or "") for words in _IMMUTABLE_WORDING):
            raise ImmutableChangeError(
                f"JetStream {subject}: {said}; the change needs the object to be "
                "replaced, see the stream's allowDataLoss setting."
            ) from exc
        hint = _HINTS.get(
            exc.err_code or 0, "check the declared settings against the server's rules"
        )
        raise JetStreamRequestError(f"JetStream {subject}: {said}; {hint}.") from exc
    except (TimeoutError, nats.errors.Error, OSError) as exc:
        raise JetStreamRequestError(
            f"JetStream {subject}: the request failed ({exc!r}); check that NATS is "
            "running and retry."
        ) from exc


def run(connection: Connection, action: Callable[[JetStream], Awaitable[T]]) -> T:
    """Connects, runs `action`, closes; blocking the calling thread throughout.

    Raises:
        NatsUnavailableError: JetStream did not answer within the timeout.
        ProvisioningError: The action failed.
    """
    return asyncio.run(_run(connection, action))


async def _run(
    connection: Connection, action: Callable[[JetStream], Awaitable[T]]
) -> T:
    client = await _connect(connection)
    try:
        return await action(JetStream(client.jsm(timeout=_REQUEST_TIMEOUT)))
    finally:
        with contextlib.suppress(nats.errors.Error, OSError):
            await client.close()


async def _connect(connection: Connection) -> Client:
    """Connects and waits until JetStream answers, up to the connection's timeout."""
    deadline = time.monotonic() + connection.timeout
    attempts = 0
    while True:
        attempts += 1
        remaining = max(deadline - time.monotonic(), _ATTEMPT_TIMEOUT)
        try:
            return await asyncio.wait_for(_try_connect(connection), remaining)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            last_error = exc
        if time.monotonic() + _RETRY_PAUSE >= deadline:
            break
        log.debug("JetStream not ready (%r); retrying", last_error)
        await asyncio.sleep(_RETRY_PAUSE)
    raise NatsUnavailableError(
        f"JetStream at {connection.describe()} did not answer within "
        f"{connection.timeout:g} s ({attempts} attempts, last error: {last_error!r}). "
        "Check that the NATS container is running and healthy (`servicesRunning` "
        "true) and that its client port is published at that address, then run "
        "the command again; nothing was changed in JetStream."
    ) from last_error


async def _try_connect(connection: Connection) -> Client:
    seen: list[Exception] = []

    async def remember(error: Exception) -> None:
        seen.append(error)

    try:
        client = await _open(connection, remember)
    except nats.errors.NoServersError as exc:
        # Report why the servers failed rather than that none is left to try.
        raise (seen[-1] if seen else exc) from None
    try:
        # JetStream answers only once the server has recovered its streams.
        await client.jsm(timeout=_ATTEMPT_TIMEOUT).account_info()
    except BaseException:
        await client.close()
        raise
    return client


async def _open(
    connection: Connection, error_cb: Callable[[Exception], Awaitable[None]]
) -> Client:
    client = Client()
    try:
        await client.connect(
            servers=list(connection.servers),
            connect_timeout=_ATTEMPT_TIMEOUT,
            allow_reconnect=False,
            # nats-py treats 0 as "no limit" while choosing a server; 1 means each
            # server is tried once per call.
            max_reconnect_attempts=1,
            # Pauses between attempts are the caller's (`_RETRY_PAUSE`).
            reconnect_time_wait=0,
            error_cb=error_cb,
            # Replies come to an inbox only this user may read.
            inbox_prefix=connection.inbox_prefix,
            **connection.options(),
        )
    except BaseException:
        # nats-py keeps the socket of a refused connection open until closed, and
        # asserts when closing a client that never got as far as the server.
        with contextlib.suppress(nats.errors.Error, OSError, AssertionError):
            await client.close()
        raise
    return client


__all__ = [
    "Connection",
    "JetStream",
    "ProvisioningError",
    "run",
]
