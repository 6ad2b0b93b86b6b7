"""Security of the deployed stack, seen from outside like an attacker would.

One deployment serves the module. Client connections need a valid token, a user gets
only their own events, only the client port listens beyond loopback, the HTTP API
and admin UI need their credentials, and browser origins are checked. (Secrets in
the state are covered by tests/e2e/test_stack.py.) Each test prints a `FIGURES` line.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.clients import SseClient
from tests.e2e.faultkit import (
    Deployment,
    Publisher,
    Receiver,
    deployed,
    new_run,
    receivers,
    report,
    wait_delivered,
)
from tests.stack_config import PROJECT, stack_config
from tools.mint_token import mint_token
from tools.publish_event import personal_channel

pytestmark = pytest.mark.e2e

STACK = "sec"
# The dev stack's one allowed browser origin.
(ALLOWED_ORIGIN,) = json.loads(stack_config("dev")[f"{PROJECT}:allowedOrigins"])
ANSWER_TIMEOUT = 5.0
EVENTS_PER_USER = 20


@pytest.fixture(scope="module")
def sec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(tmp_path_factory.mktemp(STACK), STACK) as deployment:
        yield deployment


def _websocket_answer(url: str, token: str | None, origin: str | None = None) -> str:
    """Returns "connected", or how Centrifugo refused a WebSocket connect command."""

    async def attempt() -> str:
        try:
            async with websockets.connect(
                url,
                origin=websockets.Origin(origin) if origin else None,
                open_timeout=ANSWER_TIMEOUT,
            ) as connection:
                connect = {} if token is None else {"token": token}
                await connection.send(json.dumps({"id": 1, "connect": connect}))
                try:
                    raw = await asyncio.wait_for(connection.recv(), ANSWER_TIMEOUT)
                except ConnectionClosed as exc:
                    return f"closed {exc.rcvd.code if exc.rcvd else None}"
        except InvalidStatus as exc:
            return f"http {exc.response.status_code}"
        reply = json.loads(raw)
        if "connect" in reply:
            return "connected"
        return f"error {reply.get('error', {}).get('code')}"

    return asyncio.run(attempt())


def _sse_answer(
    url: str, connect: dict[str, Any] | None, origin: str | None = None
) -> tuple[str, httpx.Headers]:
    """Returns "connected" or the refusal of a uni-SSE connection, and its headers."""
    if connect is not None:
        url = f"{url}?cf_connect={quote(json.dumps(connect))}"
    headers = {"Origin": origin} if origin else {}
    timeout = httpx.Timeout(ANSWER_TIMEOUT)
    with (
        httpx.Client(timeout=timeout) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code != 200:
            return f"http {response.status_code}", response.headers
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line.removeprefix("data:"))
            if "connect" in message:
                return "connected", response.headers
            if "disconnect" in message:
                return f"disconnect {message['disconnect']['code']}", response.headers
        return "closed", response.headers


def _tampered(token: str, user: str) -> str:
    """Returns `token` with its `sub` claim changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = user
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    return f"{header}.{forged.decode()}.{signature}"


def test_connection_without_valid_token_is_refused_over_websocket_and_sse(
    sec: Deployment, request: pytest.FixtureRequest
) -> None:
    now = time.time()
    claims = {"sub": "alice", "exp": int(now) + 300}
    tokens: dict[str, str | None] = {
        "no token": None,
        "empty token": "",
        "signed with another key": mint_token("not-the-stack-key", "alice", 300),
        "signed with the API key": mint_token(sec.out["apiKey"], "alice", 300),
        "unsigned (alg none)": jwt.encode(claims, None, algorithm="none"),
        "claims changed after signing": _tampered(sec.token("alice"), "bob"),
        "expired an hour ago": sec.token("alice", ttl=60, now=now - 3600),
        "not a JWT": "not.a.jwt",
    }

    answers = {}
    for name, token in tokens.items():
        connect = None if token is None else {"token": token}
        answers[f"websocket, {name}"] = _websocket_answer(
            sec.out["centrifugoWebsocketUrl"], token
        )
        answers[f"sse, {name}"] = _sse_answer(sec.out["centrifugoSseUrl"], connect)[0]
    valid = _websocket_answer(sec.out["centrifugoWebsocketUrl"], sec.token("alice"))
    accepted = [name for name, answer in answers.items() if answer == "connected"]
    report(
        request,
        f"FIGURES bad-tokens: tried={len(answers)} "
        f"refused={len(answers) - len(accepted)} accepted={accepted} "
        f"answers={answers}",
    )

    assert valid == "connected"
    assert not accepted, answers


def test_connection_with_anonymous_token_is_refused(
    sec: Deployment, request: pytest.FixtureRequest
) -> None:
    anonymous = jwt.encode(
        {"sub": "", "exp": int(time.time()) + 300},
        sec.out["tokenHmacSecret"],
        algorithm="HS256",
    )

    websocket = _websocket_answer(sec.out["centrifugoWebsocketUrl"], anonymous)
    sse, _ = _sse_answer(sec.out["centrifugoSseUrl"], {"token": anonymous})
    attempts = {}
    if websocket == "connected":
        # What an anonymous connection could reach, for the record.
        with Receiver(sec.out["centrifugoWebsocketUrl"], anonymous) as client:
            attempts = {
                channel: client.try_subscribe(channel)
                for channel in ("personal:#alice", "personal:#", "personal:x")
            }
    refused = [answer != "connected" for answer in (websocket, sse)]
    report(
        request,
        f"FIGURES anonymous-token: tried=2 refused={sum(refused)} "
        f"websocket={websocket!r} sse={sse!r} subscribe_attempts={attempts}",
    )

    assert websocket != "connected", (
        "a correctly signed token with an empty `sub` connects as an anonymous user"
    )
    assert sse != "connected"


class _SseSubscriber(SseClient):
    """A uni-SSE client that also asks, in its connect request, for other channels."""

    def __init__(self, url: str, token: str, channels: list[str]) -> None:
        super().__init__(url, token)
        subs = {channel: {"recover": True, "offset": 0} for channel in channels}
        connect = quote(json.dumps({"token": token, "subs": subs}))
        self._url = f"{url}?cf_connect={connect}"


def test_user_never_receives_another_users_events_even_subscribing_to_their_channel(
    sec: Deployment, request: pytest.FixtureRequest
) -> None:
    run = new_run()
    targets = ["personal:#alice", "personal:alice", "alice", "personal:#alice,bob"]

    with (
        receivers(sec, ("alice", "bob")) as clients,
        _SseSubscriber(
            sec.out["centrifugoSseUrl"], sec.token("bob"), targets
        ) as bob_sse,
    ):
        bob = clients["bob"]
        attempts = {channel: bob.try_subscribe(channel) for channel in targets}
        with Publisher(
            sec.out, run, range(EVENTS_PER_USER), ("alice", "bob")
        ) as series:
            sent_all = series.join(60)
        delivered = wait_delivered(clients, run, series.sent, 30)
        # Events are handled in stream order: once bob's SSE has his last event,
        # every event for alice before it was handled too.
        last = {"run": run, "user": "bob", "n": EVENTS_PER_USER - 1}
        sse_done = bob_sse.inbox.wait_for(lambda p: p.data == last, 30) is not None
        leaked = [
            p
            for p in [*clients["bob"].inbox.items(), *bob_sse.inbox.items()]
            if p.channel != personal_channel("bob")
            or (isinstance(p.data, dict) and p.data.get("user") != "bob")
        ]
    report(
        request,
        f"FIGURES isolation: events_for_alice={len(series.sent['alice'])} "
        f"received_by_bob={len(leaked)} subscribe_attempts={attempts}",
    )

    assert sent_all
    assert delivered
    assert sse_done
    assert not leaked, leaked
    for channel in ("personal:#alice", "personal:alice", "alice"):
        assert attempts[channel].startswith("refused 103"), attempts


def _listening_addresses(port: int) -> set[str]:
    """Returns the local addresses that listen on TCP `port`, read from /proc.

    Reading the kernel's socket tables sends no traffic anywhere.
    """
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = [raw[k : k + 4][::-1] for k in range(0, width // 2, 4)]
            addresses.add(str(ipaddress.ip_address(b"".join(words))))
    return addresses


def _beyond_loopback(port: int) -> bool:
    return any(
        not ipaddress.ip_address(a).is_loopback for a in _listening_addresses(port)
    )


def _listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_only_client_port_listens_beyond_loopback(
    sec: Deployment, request: pytest.FixtureRequest
) -> None:
    ports = {
        "client (WebSocket, SSE)": urlsplit(sec.out["centrifugoSseUrl"]).port,
        "HTTP API, admin UI, metrics": urlsplit(sec.out["centrifugoApiUrl"]).port,
        "NATS": urlsplit(sec.out["natsUrl"]).port,
        "NATS monitoring": urlsplit(sec.out["natsMonitorUrl"]).port,
    }
    beyond = [name for name, port in ports.items() if _beyond_loopback(port or 0)]
    on_loopback = [name for name, port in ports.items() if _listens("127.0.0.1", port)]
    bindings = {
        f"{container}:{inside}": {b["HostIp"] for b in bound}
        for container in ("natsContainerName", "centrifugoContainerName")
        for inside, bound in sec.container(container)
        .attrs["HostConfig"]["PortBindings"]
        .items()
    }
    client_base = sec.out["centrifugoSseUrl"].split("/connection/")[0]
    internal_on_client_port = {
        path: httpx.get(client_base + path, timeout=5).status_code
        for path in ("/", "/api/info", "/metrics", "/health", "/admin/init")
    }
    report(
        request,
        f"FIGURES bindings: beyond_loopback={beyond} (listening sockets) "
        f"bindings={bindings}",
    )

    assert beyond == ["client (WebSocket, SSE)"]
    assert on_loopback == list(ports)
    assert bindings == {
        "natsContainerName:4222/tcp": {"127.0.0.1"},
        "natsContainerName:8222/tcp": {"127.0.0.1"},
        "centrifugoContainerName:8000/tcp": {"0.0.0.0"},
        "centrifugoContainerName:9000/tcp": {"127.0.0.1"},
    }
    assert set(internal_on_client_port.values()) == {404}, internal_on_client_port
    for url in ("centrifugoMetricsUrl", "centrifugoHealthUrl", "natsMonitorUrl"):
        assert httpx.get(sec.out[url], timeout=5).status_code == 200, url


def test_admin_ui_and_http_api_refuse_wrong_credentials(
    sec: Deployment, request: pytest.FixtureRequest
) -> None:
    admin = sec.out["centrifugoAdminUrl"].rstrip("/")
    api = sec.out["centrifugoApiUrl"]
    call = {"method": "info", "params": {}}

    def login(password: str | None) -> httpx.Response:
        form = {} if password is None else {"password": password}
        return httpx.post(f"{admin}/admin/auth", data=form, timeout=5)

    def admin_api(token: str | None) -> int:
        headers = {"Authorization": f"token {token}"} if token else {}
        return httpx.post(
            f"{admin}/admin/api", json=call, headers=headers, timeout=5
        ).status_code

    def http_api(key: str | None) -> int:
        headers = {"X-API-Key": key} if key else {}
        response = httpx.post(f"{api}/info", json={}, headers=headers, timeout=5)
        return response.status_code

    good = login(sec.out["adminPassword"])
    answers = {
        "admin login, no password": login(None).status_code,
        "admin login, wrong password": login("wrong-password").status_code,
        "admin login, API key as password": login(sec.out["apiKey"]).status_code,
        "admin API, no session": admin_api(None),
        "admin API, forged session": admin_api("forged"),
        "HTTP API, no key": http_api(None),
        "HTTP API, wrong key": http_api("wrong-key"),
        "HTTP API, admin password as key": http_api(sec.out["adminPassword"]),
    }
    admitted = [name for name, status in answers.items() if status < 400]
    report(
        request,
        f"FIGURES credentials: tried={len(answers)} "
        f"refused={len(answers) - len(admitted)} answers={answers}",
    )

    assert not admitted, answers
    assert good.status_code == 200
    assert admin_api(good.json()["token"]) == 200
    assert http_api(sec.out["apiKey"]) == 200


def test_browser_origins_are_checked_against_configured_list(
    sec: Deployment, request: pytest.FixtureRequest
) -> None:
    token = sec.token("alice")
    origins = [
        None,
        ALLOWED_ORIGIN,
        "http://evil.example",
        "http://localhost:3000.evil.example",
        "https://localhost:3000",
        "http://localhost:3001",
        "null",
    ]
    websocket = {
        str(origin): _websocket_answer(sec.out["centrifugoWebsocketUrl"], token, origin)
        for origin in origins
    }
    sse = {}
    for origin in origins:
        answer, headers = _sse_answer(
            sec.out["centrifugoSseUrl"], {"token": token}, origin
        )
        sse[str(origin)] = (answer, headers.get("access-control-allow-origin"))
    report(
        request,
        f"FIGURES origins: websocket={websocket} sse_(answer,allow-origin)={sse}",
    )

    assert websocket.pop("None") == "connected"
    assert websocket.pop(ALLOWED_ORIGIN) == "connected"
    assert set(websocket.values()) == {"http 403"}, websocket
    # Uni-SSE answers every origin, and lets only listed ones read the stream:
    # a browser drops a cross-origin response without a matching allow-origin.
    assert sse.pop(ALLOWED_ORIGIN) == ("connected", ALLOWED_ORIGIN)
    sse.pop("None")
    for origin, (_, allowed) in sse.items():
        assert allowed in (None, ""), origin
