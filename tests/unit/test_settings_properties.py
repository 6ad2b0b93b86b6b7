"""Generated stack settings: validation accepts or explains them and never crashes.

Hypothesis feeds `load_settings` config overrides of every kind a user can type or a
stack file can hold: missing and misspelt keys, booleans, huge and negative numbers,
floats with NaN and infinity, free text, lists and maps, near-valid durations, ports,
origins and extra streams, and secrets given in plain text. Runs are derandomised, so
CI sees the same inputs every time. Each test prints a `FIGURES` line with the
inputs it tried.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.centrifugo import CentrifugoSecrets, ConsumerBinding, build_config
from components.settings import (
    SECRET_SETTINGS,
    Settings,
    SettingsError,
    load_settings,
)
from tests.figures import report
from tests.stack_config import PROJECT, defaults, stack_config

pytestmark = pytest.mark.unit

SETTINGS = sorted(defaults())
KNOWN = {*SETTINGS, *SECRET_SETTINGS}
MISSPELT = ["natsport", "streamMaxAgee", "extraStream", "x"]
EXAMPLES = 500
# One error of a SettingsError: "  - key: ...", "  - key[0].field: ...".
_ERROR_LINE = re.compile(r"^  - (?P<key>[A-Za-z]+)[\[.:]")
# Go's time.ParseDuration syntax, which Centrifugo uses for its durations.
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
# NATS keeps durations in int64 nanoseconds.
_MAX_NANOSECONDS = 2**63 - 1

_UNITS = st.sampled_from(["ns", "us", "µs", "ms", "s", "m", "h", "", "d", " s"])
_DURATIONS = st.builds(
    lambda number, fraction, unit: f"{number}{fraction}{unit}",
    st.integers(min_value=-5, max_value=10**13),
    st.sampled_from(["", ".5", ".25", ".", ".000001"]),
    _UNITS,
) | st.sampled_from(["0", "1h30m", "2m", "300s", "-1s", "1e3s", "", " 5s"])
_NUMBERS = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
    [0, 1, -1, 4222, 65535, 65536, 2**31 - 1, 2**63 - 1, 2**63]
)
_TEXT = st.text(max_size=40)
_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    _NUMBERS,
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    _DURATIONS,
    st.lists(_TEXT, max_size=3),
    st.lists(_NUMBERS, max_size=3),
    st.dictionaries(st.text(max_size=5), _NUMBERS, max_size=2),
)
_SUBJECTS = st.lists(
    st.sampled_from(["events.>", "audit.>", "a.*", ">", "a.>.b", "a..b", "ä.b", ""]),
    max_size=3,
)
_CONSUMER = st.dictionaries(
    st.sampled_from(["name", "deliverPolicy", "ackWait", "maxAckPending", "odd"]),
    st.sampled_from(["c1", "all", "new", "last", "30s", "0", 5, -1]) | _ANY_VALUE,
    max_size=4,
)
_EXTRA_STREAM = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "subjects",
            "storage",
            "retention",
            "maxAge",
            "duplicateWindow",
            "allowDataLoss",
            "consumers",
            "odd",
        ]
    ),
    st.one_of(
        st.sampled_from(["AUDIT", "EVENTS", "file", "memory", "workqueue", "1h"]),
        _SUBJECTS,
        st.lists(_CONSUMER, max_size=2),
        _ANY_VALUE,
    ),
    max_size=6,
)
_NEAR_VALID: dict[str, st.SearchStrategy[Any]] = {
    "natsImage": st.sampled_from(["nats:2.11-alpine", "NATS:latest", "a b", ""]),
    "centrifugoImage": st.sampled_from(["centrifugo/centrifugo:v6.9.1", "x\n"]),
    "bindAddress": st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "localhost"]),
    "clientBindAddress": st.sampled_from(["0.0.0.0", "::", "256.0.0.1", "1.2.3"]),
    "streamName": st.sampled_from(["EVENTS", "a" * 64, "a" * 65, "ev ents"]),
    "streamSubjects": _SUBJECTS,
    "consumerName": st.sampled_from(["centrifugo_consumer", "c.c", "c-1", "*"]),
    "consumerDeliverPolicy": st.sampled_from(["all", "new", "ALL", "last", ""]),
    "personalPresence": st.sampled_from([True, False, "TRUE", "yes", 1]),
    "personalForceRecovery": st.sampled_from([True, False, "False", "no", 0]),
    "allowedOrigins": st.lists(
        st.sampled_from(["http://localhost:3000", "*", "[", "https://A.example"]),
        max_size=3,
    ),
    "extraStreams": st.lists(_EXTRA_STREAM, max_size=2),
    "logLevel": st.sampled_from(["trace", "debug", "info", "warn", "INFO", "all"]),
}


@st.composite
def _overrides(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Draws config overrides (None removes a key) and the keys given as secrets."""
    keys = draw(
        st.lists(st.sampled_from([*sorted(KNOWN), *MISSPELT]), max_size=6, unique=True)
    )
    values: dict[str, Any] = {}
    for key in keys:
        if key in SECRET_SETTINGS:
            values[key] = draw(_TEXT)
        elif key in _NEAR_VALID:
            values[key] = draw(_NEAR_VALID[key] | _ANY_VALUE)
        else:
            values[key] = draw(_ANY_VALUE)
    secret = draw(st.lists(st.sampled_from(SECRET_SETTINGS), max_size=4, unique=True))
    return values, tuple(key for key in secret if key in values)


def _load(overrides: dict[str, Any], secret_keys: tuple[str, ...]) -> Settings:
    pulumi.runtime.set_all_config(
        stack_config("dev", **overrides), [f"{PROJECT}:{k}" for k in secret_keys]
    )
    return load_settings(pulumi.Config(PROJECT), stack="dev")


def _check_explained(error: SettingsError, overrides: dict[str, Any]) -> None:
    message = str(error)
    header, *rest = message.splitlines()
    # A line of its own per bad setting (a value may carry more lines).
    items = [line for line in rest if line.startswith("  - ")]
    named = [_ERROR_LINE.match(line) for line in items]
    assert header.startswith(f"{len(items)} invalid setting(s)"), message
    assert "nothing was changed" in header, message
    assert items, message
    assert all(named), message
    keys = {match.group("key") for match in named if match}
    # A misspelt key is named as given; every other one is a known setting.
    assert keys <= KNOWN | set(overrides), message
    # The defaults are valid, so the message speaks of a setting the user touched
    # (a clash may be reported on the other setting involved).
    assert any(key in message for key in overrides), (overrides, message)


def _check_accepted(result: Settings) -> None:
    ports = [
        result.nats_port,
        result.nats_monitor_port,
        result.centrifugo_port,
        result.centrifugo_internal_port,
    ]
    assert all(1 <= port <= 65535 for port in ports), ports
    assert len(set(ports)) == len(ports), ports
    assert result.provision_timeout > 0
    durations = [result.personal.history_ttl, result.provision_timeout]
    for stream in result.streams:
        assert stream.name
        assert stream.subjects
        assert stream.max_bytes == -1 or stream.max_bytes > 0
        assert stream.max_msgs == -1 or stream.max_msgs > 0
        durations += [stream.max_age, stream.duplicate_window]
        for consumer in stream.consumers:
            assert consumer.ack_wait > 0
            assert consumer.max_ack_pending > 0
            durations.append(consumer.ack_wait)
    assert all(math.isfinite(value) and value >= 0 for value in durations)


def test_load_settings_with_generated_values_accepts_or_names_each_bad_setting(
    request: pytest.FixtureRequest,
) -> None:
    outcomes = {"accepted": 0, "explained": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(_overrides())
    def check(drawn: tuple[dict[str, Any], tuple[str, ...]]) -> None:
        overrides, secret_keys = drawn
        try:
            result = _load(overrides, secret_keys)
        except SettingsError as error:
            outcomes["explained"] += 1
            _check_explained(error, overrides)
            return
        outcomes["accepted"] += 1
        _check_accepted(result)

    try:
        check()
    finally:
        report(
            request,
            f"FIGURES bad-input: tried={sum(outcomes.values())} "
            f"accepted={outcomes['accepted']} explained={outcomes['explained']}",
        )


def _history_ttl(result: Settings) -> str:
    config = build_config(
        redis_url="redis://redis:6379",
        consumer=ConsumerBinding(
            "nats://nats:4222", "EVENTS", ("events.>",), "c", "all", 1, "u"
        ),
        personal=result.personal,
        allowed_origins=result.allowed_origins,
        log_level=result.log_level,
        secrets=CentrifugoSecrets("h", "a", "p", "s", "n", "r"),
    )
    return str(config["channel"]["namespaces"][0]["history_ttl"])


def test_accepted_durations_are_ones_centrifugo_and_nats_can_read(
    request: pytest.FixtureRequest,
) -> None:
    outcomes = {"accepted": 0, "refused": 0}
    keys = [
        "streamMaxAge",
        "streamDuplicateWindow",
        "consumerAckWait",
        "personalHistoryTtl",
    ]

    @settings(
        max_examples=EXAMPLES // 2,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.dictionaries(st.sampled_from(keys), _DURATIONS, min_size=1))
    # Values a user may well set: 12.5 days of history, a stream kept ~300 years.
    @example({"personalHistoryTtl": "300h"})
    @example({"streamMaxAge": "2600000h"})
    def check(overrides: dict[str, Any]) -> None:
        try:
            result = _load(overrides, ())
        except SettingsError:
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        ttl = _history_ttl(result)
        assert _GO_DURATION.match(ttl), f"Centrifugo cannot read {ttl!r}: {overrides}"
        for seconds in (
            result.stream.max_age,
            result.stream.duplicate_window,
            result.consumer.ack_wait,
        ):
            nanoseconds = round(seconds * 1e9)
            assert nanoseconds <= _MAX_NANOSECONDS, f"NATS overflows: {overrides}"

    try:
        check()
    finally:
        report(
            request,
            f"FIGURES durations: tried={sum(outcomes.values())} "
            f"accepted={outcomes['accepted']} refused={outcomes['refused']}",
        )
