"""Stack settings: the stack's Pulumi config turned into typed, validated values.

Every setting has a default in `Pulumi.yaml`; a stack file such as `Pulumi.dev.yaml`
overrides what it names. `load_settings` checks all of them before the program creates
anything, and reports every bad value at once, so a `pulumi preview` with a bad setting
fails with nothing changed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import pulumi
from pulumi.runtime.config import is_config_secret

T = TypeVar("T")

# JetStream and Centrifugo both limit names to these characters.
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DURABLE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUBJECT_TOKEN = re.compile(r"^[^\s.*>]+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "none")


class DeliverPolicy(str, Enum):
    """Where a new durable consumer starts reading the stream."""

    ALL = "all"
    NEW = "new"


class SettingsError(pulumi.RunError):
    """One or more stack settings are invalid; the message lists each of them."""


@dataclass(frozen=True)
class StreamSettings:
    """The JetStream stream that carries events to Centrifugo.

    Attributes:
        name: Stream name.
        subjects: Subjects the stream captures.
        max_age: Oldest message kept, in seconds; 0 keeps messages forever.
        max_bytes: Size limit in bytes; -1 is unlimited.
        max_msgs: Message count limit; -1 is unlimited.
        duplicate_window: Window for de-duplicating by message ID, in seconds.
    """

    name: str
    subjects: tuple[str, ...]
    max_age: float
    max_bytes: int
    max_msgs: int
    duplicate_window: float


@dataclass(frozen=True)
class ConsumerSettings:
    """The durable pull consumer Centrifugo reads events from.

    Attributes:
        name: Durable name.
        deliver_policy: Where a new durable starts reading.
        ack_wait: Seconds before an unacknowledged message is redelivered.
        max_ack_pending: Messages in flight before delivery pauses.
        max_deliver: Delivery attempts per message; -1 is unlimited.
    """

    name: str
    deliver_policy: DeliverPolicy
    ack_wait: float
    max_ack_pending: int
    max_deliver: int


@dataclass(frozen=True)
class PersonalNamespaceSettings:
    """Options of the Centrifugo `personal` namespace.

    Attributes:
        history_size: Publications kept per channel for recovery; 0 turns history off.
        history_ttl: Seconds a channel's history is kept.
        presence: Whether Centrifugo tracks who is connected to each channel.
        force_recovery: Whether reconnecting clients recover missed publications.
    """

    history_size: int
    history_ttl: float
    presence: bool
    force_recovery: bool


@dataclass(frozen=True)
class GivenSecrets:
    """Secrets the user set with `pulumi config set --secret`; None means generate."""

    token_hmac_secret: pulumi.Output[str] | None
    api_key: pulumi.Output[str] | None
    admin_password: pulumi.Output[str] | None
    admin_secret: pulumi.Output[str] | None


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, validated.

    Attributes:
        stack: Stack name; it prefixes every Docker object's name.
        nats_image: NATS server image reference.
        centrifugo_image: Centrifugo v6 image reference.
        bind_address: Host address for NATS, the HTTP API, admin UI and monitoring.
        client_bind_address: Host address for Centrifugo's client transports.
        nats_port: Host port of the NATS client listener.
        nats_monitor_port: Host port of NATS HTTP monitoring.
        centrifugo_port: Host port of Centrifugo's WebSocket and SSE endpoints.
        centrifugo_internal_port: Host port of Centrifugo's API, admin UI and metrics.
        stream: The events stream.
        consumer: Centrifugo's durable consumer.
        personal: The `personal` namespace.
        allowed_origins: Browser origins Centrifugo accepts.
        log_level: Centrifugo log level.
        provision_timeout: Seconds provisioning waits for JetStream to answer.
        secrets: Secrets given in config.
    """

    stack: str
    nats_image: str
    centrifugo_image: str
    bind_address: str
    client_bind_address: str
    nats_port: int
    nats_monitor_port: int
    centrifugo_port: int
    centrifugo_internal_port: int
    stream: StreamSettings
    consumer: ConsumerSettings
    personal: PersonalNamespaceSettings
    allowed_origins: tuple[str, ...]
    log_level: str
    provision_timeout: float
    secrets: GivenSecrets

    @property
    def prefix(self) -> str:
        """Prefix of every Docker object's name, unique per stack on one host."""
        return f"zkm-{self.stack}"


def parse_duration(text: str) -> float:
    """Parses a Go-style duration ("90s", "1h30m", "500ms", "0") into seconds.

    Raises:
        ValueError: The text is not a non-negative duration.
    """
    text = text.strip()
    if text == "0":
        return 0.0
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 90s or 1h30m")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


class _Reader:
    """Reads raw config values and collects one message per bad setting."""

    def __init__(self, config: pulumi.Config) -> None:
        self._config = config
        self.errors: list[str] = []

    def _raw(self, key: str) -> str | None:
        value = self._config.get(key)
        if value is None:
            self.errors.append(
                f"{key}: no value; Pulumi.yaml declares a default for every setting, "
                f"so restore its `config:` entry or run "
                f"`pulumi config set {key} VALUE`."
            )
        return value

    def bad(self, key: str, value: object, fix: str) -> None:
        self.errors.append(f"{key}: {value!r} is not valid; {fix}")

    def parsed(self, key: str, parse: Callable[[str], T], fix: str) -> T | None:
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            return parse(raw)
        except (ValueError, TypeError):
            self.bad(key, raw, fix)
            return None

    def string(self, key: str) -> str:
        return self._raw(key) or ""

    def integer(self, key: str, low: int, high: int, fix: str) -> int:
        value = self.parsed(key, int, fix)
        if value is not None and not low <= value <= high:
            self.bad(key, value, fix)
        return value if value is not None else low

    def boolean(self, key: str) -> bool:
        value = self.parsed(key, _parse_bool, "use true or false.")
        return bool(value)

    def duration(self, key: str, fix: str) -> float:
        value = self.parsed(key, parse_duration, fix)
        return value if value is not None else 0.0

    def strings(self, key: str, fix: str) -> tuple[str, ...]:
        value = self.parsed(key, _parse_string_list, fix)
        return value if value is not None else ()

    def secret(self, key: str) -> pulumi.Output[str] | None:
        if self._config.get(key) is None:
            return None
        if not is_config_secret(self._config.full_key(key)):
            self.errors.append(
                f"{key}: is stored in plain text in the stack file; remove it with "
                f"`pulumi config rm {key}` and set it again with "
                f"`pulumi config set --secret {key} VALUE`, or leave it unset to have "
                f"one generated."
            )
            return None
        return self._config.get_secret(key)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


def _parse_string_list(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(text)
    return tuple(value)


def _valid_subject(subject: str) -> bool:
    tokens = subject.split(".")
    for index, token in enumerate(tokens):
        if token == ">" and index == len(tokens) - 1:
            continue
        if token != "*" and not _SUBJECT_TOKEN.match(token):
            return False
    return True


def _valid_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _valid_image(text: str) -> bool:
    return bool(text) and not any(c.isspace() for c in text) and text == text.lower()


def _check_ports(reader: _Reader, ports: Mapping[str, int]) -> None:
    seen: dict[int, str] = {}
    for key, port in ports.items():
        if port in seen:
            reader.bad(
                key,
                port,
                f"it is already used by {seen[port]}; give each port its own number.",
            )
        seen[port] = key


def load_settings(
    config: pulumi.Config | None = None, stack: str | None = None
) -> Settings:
    """Reads and validates every stack setting.

    Args:
        config: The project's config bag; the current project's by default.
        stack: The stack name; the current stack's by default.

    Raises:
        SettingsError: At least one setting is invalid; the message names each
            setting, its bad value and the fix.
    """
    reader = _Reader(config or pulumi.Config())
    stack = stack or pulumi.get_stack()
    port_fix = "use a TCP port number from 1 to 65535."

    nats_image = reader.string("natsImage")
    centrifugo_image = reader.string("centrifugoImage")
    for key, image in (
        ("natsImage", nats_image),
        ("centrifugoImage", centrifugo_image),
    ):
        if not _valid_image(image):
            reader.bad(
                key, image, "give an image reference such as `nats:2.11-alpine`."
            )

    bind_address = reader.string("bindAddress")
    client_bind_address = reader.string("clientBindAddress")
    for key, address in (
        ("bindAddress", bind_address),
        ("clientBindAddress", client_bind_address),
    ):
        if not _valid_address(address):
            reader.bad(key, address, "give an IP address such as 127.0.0.1 or 0.0.0.0.")

    ports = {
        key: reader.integer(key, 1, 65535, port_fix)
        for key in (
            "natsPort",
            "natsMonitorPort",
            "centrifugoPort",
            "centrifugoInternalPort",
        )
    }
    _check_ports(reader, ports)

    stream = _stream_settings(reader)
    consumer = _consumer_settings(reader)
    personal = PersonalNamespaceSettings(
        history_size=reader.integer(
            "personalHistorySize", 0, 1_000_000, "use a count from 0 to 1000000."
        ),
        history_ttl=reader.duration(
            "personalHistoryTtl", "use a duration such as 300s or 24h."
        ),
        presence=reader.boolean("personalPresence"),
        force_recovery=reader.boolean("personalForceRecovery"),
    )
    if personal.force_recovery and not (personal.history_size and personal.history_ttl):
        reader.bad(
            "personalForceRecovery",
            True,
            "recovery needs history: set personalHistorySize and personalHistoryTtl "
            "above 0, or set personalForceRecovery to false.",
        )

    allowed_origins = reader.strings(
        "allowedOrigins",
        'give a JSON list of origins, e.g. ["https://app.example.com"].',
    )
    log_level = reader.string("logLevel")
    if log_level not in _LOG_LEVELS:
        reader.bad("logLevel", log_level, f"use one of {', '.join(_LOG_LEVELS)}.")
    provision_timeout = reader.duration(
        "provisionTimeout", "use a duration such as 60s."
    )
    if provision_timeout <= 0:
        reader.bad("provisionTimeout", provision_timeout, "use a duration above 0.")

    secrets = GivenSecrets(
        token_hmac_secret=reader.secret("tokenHmacSecret"),
        api_key=reader.secret("apiKey"),
        admin_password=reader.secret("adminPassword"),
        admin_secret=reader.secret("adminSecret"),
    )

    if reader.errors:
        raise SettingsError(
            f"{len(reader.errors)} invalid setting(s) in stack {stack!r}; nothing was "
            "changed:\n  - " + "\n  - ".join(reader.errors)
        )
    return Settings(
        stack=stack,
        nats_image=nats_image,
        centrifugo_image=centrifugo_image,
        bind_address=bind_address,
        client_bind_address=client_bind_address,
        nats_port=ports["natsPort"],
        nats_monitor_port=ports["natsMonitorPort"],
        centrifugo_port=ports["centrifugoPort"],
        centrifugo_internal_port=ports["centrifugoInternalPort"],
        stream=stream,
        consumer=consumer,
        personal=personal,
        allowed_origins=allowed_origins,
        log_level=log_level,
        provision_timeout=provision_timeout,
        secrets=secrets,
    )


def _stream_settings(reader: _Reader) -> StreamSettings:
    name = reader.string("streamName")
    if not _STREAM_NAME.match(name):
        reader.bad(
            "streamName", name, "use 1 to 64 letters, digits, '-' or '_', e.g. EVENTS."
        )
    subjects = reader.strings(
        "streamSubjects", 'give a JSON list of NATS subjects, e.g. ["events.>"].'
    )
    if not subjects:
        reader.bad("streamSubjects", list(subjects), "give at least one subject.")
    for subject in subjects:
        if not _valid_subject(subject):
            reader.bad(
                "streamSubjects",
                subject,
                "use dot-separated tokens without spaces; '*' matches one token and "
                "'>' (last only) the rest, e.g. events.>.",
            )
    if len(set(subjects)) != len(subjects):
        reader.bad("streamSubjects", list(subjects), "list each subject once.")
    limit_fix = "use -1 for unlimited or a positive number."
    max_bytes = reader.integer("streamMaxBytes", -1, 2**63 - 1, limit_fix)
    max_msgs = reader.integer("streamMaxMsgs", -1, 2**63 - 1, limit_fix)
    for key, value in (("streamMaxBytes", max_bytes), ("streamMaxMsgs", max_msgs)):
        if value == 0:
            reader.bad(key, value, limit_fix)
    max_age = reader.duration(
        "streamMaxAge", "use a duration such as 72h, or 0 to keep messages forever."
    )
    duplicate_window = reader.duration(
        "streamDuplicateWindow", "use a duration such as 2m."
    )
    if max_age and duplicate_window > max_age:
        reader.bad(
            "streamDuplicateWindow",
            duplicate_window,
            f"the server refuses a window longer than streamMaxAge ({max_age:g} s); "
            "shorten the window or raise streamMaxAge.",
        )
    return StreamSettings(
        name=name,
        subjects=subjects,
        max_age=max_age,
        max_bytes=max_bytes,
        max_msgs=max_msgs,
        duplicate_window=duplicate_window,
    )


def _consumer_settings(reader: _Reader) -> ConsumerSettings:
    name = reader.string("consumerName")
    if not _DURABLE_NAME.match(name):
        reader.bad(
            "consumerName",
            name,
            "use 1 to 64 letters, digits, '-' or '_', e.g. centrifugo_consumer.",
        )
    policy_raw = reader.string("consumerDeliverPolicy")
    try:
        policy = DeliverPolicy(policy_raw)
    except ValueError:
        reader.bad(
            "consumerDeliverPolicy",
            policy_raw,
            "use `all` (deliver every stored event) or `new` (only events published "
            "after the consumer was made).",
        )
        policy = DeliverPolicy.ALL
    ack_wait = reader.duration("consumerAckWait", "use a duration such as 30s.")
    if ack_wait <= 0:
        reader.bad("consumerAckWait", ack_wait, "use a duration above 0, e.g. 30s.")
    max_deliver = reader.integer(
        "consumerMaxDeliver", -1, 2**31 - 1, "use -1 for unlimited or a number above 0."
    )
    if max_deliver == 0:
        reader.bad("consumerMaxDeliver", 0, "use -1 for unlimited or a number above 0.")
    return ConsumerSettings(
        name=name,
        deliver_policy=policy,
        ack_wait=ack_wait,
        max_ack_pending=reader.integer(
            "consumerMaxAckPending", 1, 2**31 - 1, "use a number above 0, e.g. 100."
        ),
        max_deliver=max_deliver,
    )
