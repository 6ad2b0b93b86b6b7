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
E = TypeVar("E", bound=Enum)

# JetStream and Centrifugo both limit names to these characters.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ORIGIN = re.compile(r"^(\*|[a-z*][a-z0-9+.*-]*://[a-z0-9.*:-]+)$")
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
# Longest duration accepted, in seconds: far below the servers' int64 nanoseconds.
_LONGEST = 100 * 365 * 24 * 3600
_LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "none")
# Secrets are generated unless set with `pulumi config set --secret`.
SECRET_SETTINGS = ("tokenHmacSecret", "apiKey", "adminPassword", "adminSecret")


class DeliverPolicy(str, Enum):
    """Where a new durable consumer starts reading the stream."""

    ALL = "all"
    NEW = "new"


class SettingsError(pulumi.RunError):
    """One or more stack settings are invalid; the message lists each of them."""


class Storage(str, Enum):
    """Where JetStream keeps a stream's messages."""

    FILE = "file"
    MEMORY = "memory"


class Retention(str, Enum):
    """When JetStream removes a stream's messages."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORKQUEUE = "workqueue"


@dataclass(frozen=True)
class ConsumerSettings:
    """A durable pull consumer.

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
class StreamSettings:
    """A JetStream stream and its durable consumers.

    Attributes:
        name: Stream name.
        subjects: Subjects the stream captures.
        storage: File or memory.
        retention: When messages are removed.
        max_age: Oldest message kept, in seconds; 0 keeps messages forever.
        max_bytes: Size limit in bytes; -1 is unlimited.
        max_msgs: Message count limit; -1 is unlimited.
        duplicate_window: Window for de-duplicating by message ID, in seconds.
        description: Free text shown by NATS tools.
        allow_data_loss: Whether `up` may replace the stream while it holds
            messages, deleting them, when a changed field cannot change in place.
        keep_on_destroy: Whether `pulumi destroy` leaves the stream and its
            messages on the server.
        consumers: The stream's durable consumers.
    """

    name: str
    subjects: tuple[str, ...]
    storage: Storage
    retention: Retention
    max_age: float
    max_bytes: int
    max_msgs: int
    duplicate_window: float
    description: str
    allow_data_loss: bool
    keep_on_destroy: bool
    consumers: tuple[ConsumerSettings, ...]


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
        services_running: Whether the NATS and Centrifugo containers exist; false
            stops the services and keeps the volume, the streams and the state.
        nats_image: NATS server image reference.
        centrifugo_image: Centrifugo v6 image reference.
        redis_image: Redis image reference.
        bind_address: Host address for NATS, the HTTP API, admin UI and monitoring.
        client_bind_address: Host address for Centrifugo's client transports.
        nats_port: Host port of the NATS client listener.
        nats_monitor_port: Host port of NATS HTTP monitoring.
        centrifugo_port: Host port of Centrifugo's WebSocket and SSE endpoints.
        centrifugo_internal_port: Host port of Centrifugo's API, admin UI and metrics.
        streams: Every stream, the events stream first.
        personal: The `personal` namespace.
        allowed_origins: Browser origins Centrifugo accepts.
        log_level: Centrifugo log level.
        provision_timeout: Seconds provisioning waits for JetStream to answer.
        secrets: Secrets given in config.
    """

    stack: str
    services_running: bool
    nats_image: str
    centrifugo_image: str
    redis_image: str
    bind_address: str
    client_bind_address: str
    nats_port: int
    nats_monitor_port: int
    centrifugo_port: int
    centrifugo_internal_port: int
    streams: tuple[StreamSettings, ...]
    personal: PersonalNamespaceSettings
    allowed_origins: tuple[str, ...]
    log_level: str
    provision_timeout: float
    secrets: GivenSecrets

    @property
    def prefix(self) -> str:
        """Prefix of every Docker object's name, unique per stack on one host."""
        return f"zkm-{self.stack}"

    @property
    def stream(self) -> StreamSettings:
        """The events stream Centrifugo reads."""
        return self.streams[0]

    @property
    def keep_data(self) -> bool:
        """Whether destroy keeps the volumes: a kept stream lives in them."""
        return any(stream.keep_on_destroy for stream in self.streams)

    @property
    def consumer(self) -> ConsumerSettings:
        """Centrifugo's durable consumer on the events stream."""
        return self.stream.consumers[0]


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


def _as_text(value: object) -> str | None:
    """Returns a structured value in the text form stack config values have."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


class _Reader:
    """Reads raw setting values and collects one message per bad setting.

    A reader reads either the stack's config or one object of a structured
    setting such as `extraStreams`, where `label` names the setting in messages
    (e.g. `extraStreams[0].maxAge`) and `defaults` fills optional fields.
    """

    def __init__(
        self,
        get: Callable[[str], str | None],
        errors: list[str],
        label: Callable[[str], str] = str,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        self._get = get
        self.errors = errors
        self.label = label
        self._defaults = defaults or {}

    def _raw(self, key: str) -> str | None:
        value = self._get(key)
        if value is None:
            value = self._defaults.get(key)
        if value is None:
            self.errors.append(
                f"{self.label(key)}: no value; set it (see the settings table in "
                "README.md)."
            )
        return value

    def bad(self, key: str, value: object, fix: str) -> None:
        self.errors.append(f"{self.label(key)}: {value!r} is not valid; {fix}")

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

    def name(self, key: str, example: str) -> str:
        """Reads a stream or consumer name (a missing one is reported once)."""
        raw = self._raw(key)
        if raw is not None and not _NAME.match(raw):
            self.bad(
                key, raw, f"use 1 to 64 letters, digits, '-' or '_', e.g. {example}."
            )
        return raw or ""

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
        if value is not None and value > _LONGEST:
            self.bad(key, self._raw(key), f"the longest is 100 years (876000h); {fix}")
        return value if value is not None else 0.0

    def strings(self, key: str, fix: str) -> tuple[str, ...]:
        value = self.parsed(key, _parse_string_list, fix)
        return value if value is not None else ()

    def choice(self, key: str, enum: type[E], fix: str) -> E:
        raw = self.string(key)
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            self.bad(key, raw, f"use one of {allowed}; {fix}")
            return next(iter(enum))


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


def subjects_overlap(first: str, second: str) -> bool:
    """Whether some subject matches both patterns (JetStream refuses that)."""
    a, b = first.split("."), second.split(".")
    for index in range(max(len(a), len(b))):
        if index >= len(a) or index >= len(b):
            return False
        if ">" in (a[index], b[index]):
            return True
        if "*" not in (a[index], b[index]) and a[index] != b[index]:
            return False
    return True


def _valid_address(text: str) -> bool:
    # IPv4 only: the URLs the stack builds from these do not bracket IPv6.
    try:
        ipaddress.IPv4Address(text)
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


# Every setting the program reads; anything else under the project's namespace is
# a typo or a leftover, and is refused rather than silently ignored.
KNOWN_SETTINGS = frozenset(
    {
        "servicesRunning",
        "natsImage",
        "centrifugoImage",
        "redisImage",
        "bindAddress",
        "clientBindAddress",
        "natsPort",
        "natsMonitorPort",
        "centrifugoPort",
        "centrifugoInternalPort",
        "streamName",
        "streamSubjects",
        "streamMaxAge",
        "streamMaxBytes",
        "streamMaxMsgs",
        "streamDuplicateWindow",
        "streamAllowDataLoss",
        "streamKeepOnDestroy",
        "consumerName",
        "consumerDeliverPolicy",
        "consumerAckWait",
        "consumerMaxAckPending",
        "consumerMaxDeliver",
        "extraStreams",
        "personalHistorySize",
        "personalHistoryTtl",
        "personalPresence",
        "personalForceRecovery",
        "allowedOrigins",
        "logLevel",
        "provisionTimeout",
        *SECRET_SETTINGS,
    }
)


def _unknown_settings(project: str) -> list[str]:
    keys = set(pulumi.runtime.config.CONFIG.get()) | set(
        pulumi.runtime.config.get_config_env()
    )
    prefix = f"{project}:"
    return sorted(
        key.removeprefix(prefix)
        for key in keys
        if key.startswith(prefix)
        and key.removeprefix(prefix).split(".")[0].split("[")[0] not in KNOWN_SETTINGS
    )


def _secret(
    config: pulumi.Config, reader: _Reader, key: str
) -> pulumi.Output[str] | None:
    if config.get(key) is None:
        return None
    if not is_config_secret(config.full_key(key)):
        reader.errors.append(
            f"{key}: is stored in plain text in the stack file; remove it with "
            f"`pulumi config rm {key}` and set it again with "
            f"`pulumi config set --secret {key} VALUE`, or leave it unset to have "
            f"one generated."
        )
        return None
    return config.get_secret(key)


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
    config = config or pulumi.Config()
    stack = stack or pulumi.get_stack()
    errors: list[str] = []
    reader = _Reader(config.get, errors)
    port_fix = "use a TCP port number from 1 to 65535."

    for key in _unknown_settings(config.name):
        errors.append(
            f"{key}: is not a setting of this project; check its spelling against "
            f"the settings table in README.md, or remove it with "
            f"`pulumi config rm {key}`."
        )

    nats_image = reader.string("natsImage")
    centrifugo_image = reader.string("centrifugoImage")
    redis_image = reader.string("redisImage")
    for key, image in (
        ("natsImage", nats_image),
        ("centrifugoImage", centrifugo_image),
        ("redisImage", redis_image),
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
            reader.bad(
                key, address, "give an IPv4 address such as 127.0.0.1 or 0.0.0.0."
            )

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

    streams = (_events_stream(reader), *_extra_streams(reader))
    _check_streams(reader, streams)

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
    for origin in allowed_origins:
        # Centrifugo matches them as globs against the lower-cased Origin header:
        # capitals never match, and a bracket makes it exit at start.
        if not _ORIGIN.match(origin):
            reader.bad(
                "allowedOrigins",
                origin,
                "give a lower-case origin such as https://app.example.com "
                "(a '*' may stand for any part), without brackets or spaces.",
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
        token_hmac_secret=_secret(config, reader, "tokenHmacSecret"),
        api_key=_secret(config, reader, "apiKey"),
        admin_password=_secret(config, reader, "adminPassword"),
        admin_secret=_secret(config, reader, "adminSecret"),
    )
    services_running = reader.boolean("servicesRunning")

    if errors:
        raise SettingsError(
            f"{len(errors)} invalid setting(s) in stack {stack!r}; nothing was "
            "changed:\n  - " + "\n  - ".join(errors)
        )
    return Settings(
        stack=stack,
        services_running=services_running,
        nats_image=nats_image,
        centrifugo_image=centrifugo_image,
        redis_image=redis_image,
        bind_address=bind_address,
        client_bind_address=client_bind_address,
        nats_port=ports["natsPort"],
        nats_monitor_port=ports["natsMonitorPort"],
        centrifugo_port=ports["centrifugoPort"],
        centrifugo_internal_port=ports["centrifugoInternalPort"],
        streams=streams,
        personal=personal,
        allowed_origins=allowed_origins,
        log_level=log_level,
        provision_timeout=provision_timeout,
        secrets=secrets,
    )


# Field names of one `extraStreams` entry and of one of its `consumers`, with the
# defaults of the optional ones (in stack config text form).
_STREAM_FIELDS = {
    "name": None,
    "subjects": None,
    "storage": "file",
    "retention": "limits",
    "maxAge": "0",
    "maxBytes": "-1",
    "maxMsgs": "-1",
    "duplicateWindow": "2m",
    "description": "",
    "allowDataLoss": "false",
    "keepOnDestroy": "false",
    "consumers": "[]",
}
_CONSUMER_FIELDS = {
    "name": None,
    "deliverPolicy": "all",
    "ackWait": "30s",
    "maxAckPending": "1000",
    "maxDeliver": "-1",
}


def _events_stream(reader: _Reader) -> StreamSettings:
    """The stream Centrifugo reads, from the flat `stream*` and `consumer*` keys."""
    consumer = _consumer(
        reader,
        {
            "name": "consumerName",
            "deliverPolicy": "consumerDeliverPolicy",
            "ackWait": "consumerAckWait",
            "maxAckPending": "consumerMaxAckPending",
            "maxDeliver": "consumerMaxDeliver",
        },
    )
    return _stream(
        reader,
        {
            "name": "streamName",
            "subjects": "streamSubjects",
            "maxAge": "streamMaxAge",
            "maxBytes": "streamMaxBytes",
            "maxMsgs": "streamMaxMsgs",
            "duplicateWindow": "streamDuplicateWindow",
            "allowDataLoss": "streamAllowDataLoss",
            "keepOnDestroy": "streamKeepOnDestroy",
        },
        # Centrifugo's stream is always a file-backed limits stream.
        fixed={"storage": Storage.FILE, "retention": Retention.LIMITS},
        consumers=(consumer,),
    )


def _extra_streams(reader: _Reader) -> list[StreamSettings]:
    entries = reader.parsed(
        "extraStreams",
        json.loads,
        'give a JSON list of stream objects, e.g. [{"name": "AUDIT", '
        '"subjects": ["audit.>"]}].',
    )
    if entries is None:
        return []
    if not isinstance(entries, list):
        reader.bad("extraStreams", entries, "give a JSON list of stream objects.")
        return []
    streams = []
    for index, entry in enumerate(entries):
        label = f"extraStreams[{index}]"
        item = _object_reader(reader, entry, label, _STREAM_FIELDS)
        if item is None:
            continue
        consumers = []
        for c_index, c_entry in enumerate(_list_field(item, entry, "consumers")):
            c_label = f"{label}.consumers[{c_index}]"
            c_item = _object_reader(reader, c_entry, c_label, _CONSUMER_FIELDS)
            if c_item is not None:
                consumers.append(_consumer(c_item, {k: k for k in _CONSUMER_FIELDS}))
        streams.append(
            _stream(
                item,
                {k: k for k in _STREAM_FIELDS if k != "consumers"},
                consumers=tuple(consumers),
            )
        )
    return streams


def _object_reader(
    parent: _Reader, entry: object, label: str, fields: Mapping[str, str | None]
) -> _Reader | None:
    if not isinstance(entry, dict):
        parent.errors.append(f"{label}: {entry!r} is not valid; give a JSON object.")
        return None
    for key in sorted(set(entry) - set(fields)):
        parent.errors.append(
            f"{label}.{key}: is not a field here; use {', '.join(fields)}."
        )
    defaults = {k: v for k, v in fields.items() if v is not None}
    return _Reader(
        lambda key: _as_text(entry.get(key)),
        parent.errors,
        label=lambda key: f"{label}.{key}",
        defaults=defaults,
    )


def _list_field(reader: _Reader, entry: Mapping[str, object], key: str) -> list[object]:
    value = entry.get(key, [])
    if not isinstance(value, list):
        reader.bad(key, value, "give a JSON list.")
        return []
    return value


def _stream(
    reader: _Reader,
    keys: Mapping[str, str],
    consumers: tuple[ConsumerSettings, ...],
    fixed: Mapping[str, Enum] | None = None,
) -> StreamSettings:
    fixed = fixed or {}
    name = reader.name(keys["name"], "EVENTS")
    subjects = reader.strings(
        keys["subjects"], 'give a JSON list of NATS subjects, e.g. ["events.>"].'
    )
    if not subjects:
        reader.bad(keys["subjects"], list(subjects), "give at least one subject.")
    for subject in subjects:
        if not _valid_subject(subject):
            reader.bad(
                keys["subjects"],
                subject,
                "use dot-separated tokens without spaces; '*' matches one token and "
                "'>' (last only) the rest, e.g. events.>.",
            )
    if len(set(subjects)) != len(subjects):
        reader.bad(keys["subjects"], list(subjects), "list each subject once.")
    for subject in subjects:
        if subject.split(".")[0] in (">", "*") or subject.startswith(("$", "_INBOX")):
            reader.bad(
                keys["subjects"],
                subject,
                "a stream must not capture NATS's own subjects ($JS, $SYS, _INBOX) "
                "or everything; start with a token of your own, e.g. events.>.",
            )
    for i, first in enumerate(subjects):
        for second in subjects[i + 1 :]:
            if subjects_overlap(first, second):
                reader.bad(
                    keys["subjects"],
                    second,
                    f"it overlaps {first!r} of the same stream; keep the wider one.",
                )

    limit_fix = "use -1 for unlimited or a positive number."
    max_bytes = reader.integer(keys["maxBytes"], -1, 2**63 - 1, limit_fix)
    max_msgs = reader.integer(keys["maxMsgs"], -1, 2**63 - 1, limit_fix)
    for key, value in ((keys["maxBytes"], max_bytes), (keys["maxMsgs"], max_msgs)):
        if value == 0:
            reader.bad(key, value, limit_fix)
    max_age = reader.duration(
        keys["maxAge"], "use a duration such as 72h, or 0 to keep messages forever."
    )
    duplicate_window = reader.duration(
        keys["duplicateWindow"], "use a duration such as 2m."
    )
    if duplicate_window <= 0:
        # The server stores its own 2m for 0, which would show as drift forever.
        reader.bad(keys["duplicateWindow"], duplicate_window, "use a duration above 0.")
    if max_age and duplicate_window > max_age:
        reader.bad(
            keys["duplicateWindow"],
            duplicate_window,
            f"the server refuses a window longer than the stream's max age "
            f"({max_age:g} s); shorten the window or raise the max age.",
        )

    storage = fixed.get("storage") or reader.choice(
        keys["storage"], Storage, "file survives restarts."
    )
    retention = fixed.get("retention") or reader.choice(
        keys["retention"], Retention, "limits keeps messages until a limit is hit."
    )
    if retention is Retention.WORKQUEUE and len(consumers) > 1:
        reader.bad(
            keys["retention"],
            retention.value,
            "a workqueue stream takes one consumer (each message goes to one "
            "reader); declare one, or use limits retention.",
        )
    if retention is Retention.WORKQUEUE:
        for consumer in consumers:
            if consumer.deliver_policy is not DeliverPolicy.ALL:
                reader.bad(
                    keys["retention"],
                    retention.value,
                    f"consumer {consumer.name!r} of a workqueue stream must use "
                    "deliverPolicy all.",
                )
    names = [c.name for c in consumers]
    if len(set(names)) != len(names):
        reader.bad(keys["name"], name, "give each of its consumers its own name.")
    return StreamSettings(
        name=name,
        subjects=subjects,
        storage=Storage(storage),
        retention=Retention(retention),
        max_age=max_age,
        max_bytes=max_bytes,
        max_msgs=max_msgs,
        duplicate_window=duplicate_window,
        description=reader.string(keys["description"]) if "description" in keys else "",
        allow_data_loss=reader.boolean(keys["allowDataLoss"]),
        keep_on_destroy=reader.boolean(keys["keepOnDestroy"]),
        consumers=consumers,
    )


def _consumer(reader: _Reader, keys: Mapping[str, str]) -> ConsumerSettings:
    name = reader.name(keys["name"], "centrifugo_consumer")
    policy = reader.choice(
        keys["deliverPolicy"],
        DeliverPolicy,
        "`all` delivers every stored event, `new` only later ones.",
    )
    ack_wait = reader.duration(keys["ackWait"], "use a duration such as 30s.")
    if ack_wait <= 0:
        reader.bad(keys["ackWait"], ack_wait, "use a duration above 0, e.g. 30s.")
    max_deliver = reader.integer(
        keys["maxDeliver"], -1, 2**31 - 1, "use -1 for unlimited or a number above 0."
    )
    if max_deliver == 0:
        reader.bad(keys["maxDeliver"], 0, "use -1 for unlimited or a number above 0.")
    return ConsumerSettings(
        name=name,
        deliver_policy=policy,
        ack_wait=ack_wait,
        max_ack_pending=reader.integer(
            keys["maxAckPending"], 1, 2**31 - 1, "use a number above 0, e.g. 100."
        ),
        max_deliver=max_deliver,
    )


def _stream_setting(index: int, field: str) -> str:
    """Names a field of the index-th stream as the user sets it."""
    if index == 0:
        return {"name": "streamName", "subjects": "streamSubjects"}[field]
    return f"extraStreams[{index - 1}].{field}"


def _check_streams(reader: _Reader, streams: tuple[StreamSettings, ...]) -> None:
    """Refuses duplicate stream names and subjects two streams would both capture."""
    seen: dict[str, int] = {}
    for index, stream in enumerate(streams):
        if stream.name in seen:
            reader.bad(
                _stream_setting(index, "name"),
                stream.name,
                f"{_stream_setting(seen[stream.name], 'name')} already names a "
                "stream so; give each stream its own name.",
            )
        seen.setdefault(stream.name, index)
    for i, first in enumerate(streams):
        for j, second in enumerate(streams[i + 1 :], start=i + 1):
            for a in first.subjects:
                for b in second.subjects:
                    if subjects_overlap(a, b):
                        reader.bad(
                            _stream_setting(j, "subjects"),
                            b,
                            f"it overlaps {a!r} of stream {first.name!r}, and "
                            "JetStream refuses a subject two streams capture; make "
                            "them disjoint.",
                        )
