"""Real Centrifugo clients for tests: uni-directional SSE and WebSocket.

Each client runs on a background thread and records every publication it gets,
so a test can wait for one event and then check what else arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import centrifuge
import httpx


@dataclass(frozen=True)
class Publication:
    """One publication a client received."""

    channel: str
    data: Any


class _Inbox:
    """Publications received so far, with a bounded wait for a wanted one."""

    def __init__(self) -> None:
        self._items: list[Publication] = []
        self._changed = threading.Condition()

    def add(self, publication: Publication) -> None:
        with self._changed:
            self._items.append(publication)
            self._changed.notify_all()

    def items(self) -> list[Publication]:
        with self._changed:
            return list(self._items)

    def wait_for(
        self, wanted: Callable[[Publication], bool], timeout: float
    ) -> Publication | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for item in self._items:
                    if wanted(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)


class SseClient:
    """A uni-directional SSE connection (`/connection/uni_sse`), no SDK needed."""

    def __init__(self, url: str, token: str) -> None:
        connect = quote(json.dumps({"token": token}))
        self._url = f"{url}?cf_connect={connect}"
        self.inbox = _Inbox()
        self.connected = threading.Event()
        self.status: int | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as http,
                http.stream("GET", self._url) as response,
            ):
                self.status = response.status_code
                if response.status_code != 200:
                    self.connected.set()
                    return
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    self._handle(line)
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.connected.set()

    def _handle(self, line: str) -> None:
        if not line.startswith("data:"):
            return
        message = json.loads(line.removeprefix("data:").strip() or "{}")
        if "connect" in message:
            self.connected.set()
        elif "pub" in message:
            data = message["pub"].get("data")
            self.inbox.add(Publication(message.get("channel", ""), data))

    def __enter__(self) -> SseClient:
        self._thread.start()
        if not self.connected.wait(10) or self.status != 200:
            raise ConnectionError(
                f"SSE connect failed: status {self.status}, error {self.error!r}"
            )
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()


class WebSocketClient:
    """A WebSocket connection through Centrifugo's Python SDK."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self.inbox = _Inbox()
        self.connected = threading.Event()
        self.disconnect_code: int | None = None
        self._loop = asyncio.new_event_loop()
        self._client: centrifuge.Client | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _events(self) -> centrifuge.ClientEventHandler:
        outer = self

        class Events(centrifuge.ClientEventHandler):
            async def on_connected(self, ctx: centrifuge.ConnectedContext) -> None:
                outer.connected.set()

            async def on_disconnected(
                self, ctx: centrifuge.DisconnectedContext
            ) -> None:
                outer.disconnect_code = ctx.code
                outer.connected.set()

            async def on_publication(
                self, ctx: centrifuge.ServerPublicationContext
            ) -> None:
                outer.inbox.add(Publication(ctx.channel, ctx.pub.data))

        return Events()

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> WebSocketClient:
        self._thread.start()

        async def make() -> centrifuge.Client:
            return centrifuge.Client(
                self._url, token=self._token, events=self._events()
            )

        self._client = self._call(make())
        self._call(self._client.connect())
        if not self.connected.wait(10) or self.disconnect_code is not None:
            self.__exit__()
            raise ConnectionError(f"WebSocket connect failed: {self.disconnect_code}")
        return self

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._call(self._client.disconnect())

        async def drain() -> None:
            # The SDK leaves keepalive and close tasks behind after disconnect: let
            # the closing handshake finish, then cancel what still waits.
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=3.0)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._call(drain())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@contextlib.contextmanager
def both_transports(
    sse_url: str, websocket_url: str, token: str
) -> Iterator[tuple[SseClient, WebSocketClient]]:
    """Connects one user over SSE and over WebSocket at once."""
    with SseClient(sse_url, token) as sse, WebSocketClient(websocket_url, token) as ws:
        yield sse, ws
