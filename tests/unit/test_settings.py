"""Stack settings: defaults load, and each bad value is named with its fix."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
import pytest

from components.settings import (
    DeliverPolicy,
    Settings,
    SettingsError,
    load_settings,
    parse_duration,
)
from tests.stack_config import PROJECT, stack_config

pytestmark = pytest.mark.unit


def _load(secret_keys: tuple[str, ...] = (), **overrides: Any) -> Settings:
    pulumi.runtime.set_all_config(
        stack_config("dev", **overrides), [f"{PROJECT}:{k}" for k in secret_keys]
    )
    return load_settings(pulumi.Config(PROJECT), stack="dev")


def test_load_settings_with_dev_stack_gives_documented_values() -> None:
    settings = _load()

    assert settings.prefix == "zkm-dev"
    assert settings.stream.name == "EVENTS"
    assert settings.stream.subjects == ("events.>",)
    assert settings.stream.max_age == 24 * 3600
    assert settings.consumer.name == "centrifugo_consumer"
    assert settings.consumer.deliver_policy is DeliverPolicy.ALL
    assert settings.consumer.ack_wait == 30
    assert settings.bind_address == "127.0.0.1"
    assert settings.allowed_origins == ("http://localhost:3000",)
    assert settings.secrets.api_key is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90s", 90), ("1h30m", 5400), ("500ms", 0.5), ("2m", 120)],
)
def test_parse_duration_with_go_durations_gives_seconds(
    text: str, seconds: float
) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-1s", "10", "1d", "s", "1h 2m", "abc"])
def test_parse_duration_with_malformed_text_raises(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


# Each case: the setting, a bad value, and a word the fix must mention.
BAD_SETTINGS = [
    ("natsImage", "", "image reference"),
    ("centrifugoImage", "Has Spaces:1", "image reference"),
    ("bindAddress", "localhost:80", "IPv4 address"),
    ("clientBindAddress", "999.1.1.1", "IPv4 address"),
    ("clientBindAddress", "::1", "IPv4 address"),
    ("streamMaxAge", "1000000h", "100 years"),
    ("consumerAckWait", "99999999999h", "100 years"),
    ("streamDuplicateWindow", "0", "above 0"),
    ("streamSubjects", [">"], "NATS's own subjects"),
    ("streamSubjects", ["$JS.API.>"], "NATS's own subjects"),
    ("streamSubjects", ["_INBOX.>"], "NATS's own subjects"),
    ("streamSubjects", ["a.>", "a.b"], "same stream"),
    ("natsPort", 0, "1 to 65535"),
    ("natsMonitorPort", 70000, "1 to 65535"),
    ("centrifugoPort", "eighty", "1 to 65535"),
    ("centrifugoInternalPort", 4222, "already used"),
    ("streamName", "EV.ENTS", "letters"),
    ("streamName", "", "letters"),
    ("streamSubjects", [], "at least one"),
    ("streamSubjects", ["events.>.x"], "tokens"),
    ("streamSubjects", ["events with space"], "tokens"),
    ("streamSubjects", ["a.>", "a.>"], "once"),
    ("streamSubjects", "events.>", "JSON list"),
    ("streamMaxAge", "-5s", "duration"),
    ("streamMaxAge", "1 week", "duration"),
    ("streamMaxBytes", 0, "unlimited"),
    ("streamMaxBytes", -2, "unlimited"),
    ("streamMaxMsgs", "many", "unlimited"),
    ("streamDuplicateWindow", "2 minutes", "duration"),
    ("streamDuplicateWindow", "48h", "longer than the stream"),
    ("consumerName", "centrifugo.consumer", "letters"),
    ("consumerDeliverPolicy", "last", "all"),
    ("consumerAckWait", "0", "above 0"),
    ("consumerMaxAckPending", 0, "above 0"),
    ("consumerMaxDeliver", 0, "unlimited"),
    ("personalHistorySize", -1, "0 to 1000000"),
    ("personalHistoryTtl", "forever", "duration"),
    ("personalPresence", "yes", "true or false"),
    ("allowedOrigins", "http://x", "JSON list"),
    ("allowedOrigins", ["https://App.example.com"], "lower-case origin"),
    ("allowedOrigins", ["https://[app"], "without brackets"),
    ("allowedOrigins", ["app.example.com"], "lower-case origin"),
    ("logLevel", "verbose", "one of"),
    ("provisionTimeout", "0", "above 0"),
]


@pytest.mark.parametrize(("key", "value", "fix"), BAD_SETTINGS)
def test_load_settings_with_bad_value_names_setting_value_and_fix(
    key: str, value: Any, fix: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(**{key: value})

    message = str(raised.value)
    assert f"{key}: " in message
    assert fix in message
    assert "nothing was changed" in message


AUDIT = {"name": "AUDIT", "subjects": ["audit.>"]}
# Each case: settings, then the setting the message names and a word of the fix.
BAD_STRUCTURED = [
    (
        {"extraStreams": [{"name": "AUDIT", "subjects": ["events.a"]}]},
        "extraStreams[0].subjects: 'events.a'",
        "overlaps",
    ),
    (
        {"extraStreams": [{"name": "AUDIT", "subjects": ["*.x"]}]},
        "extraStreams[0].subjects: '*.x'",
        "overlaps",
    ),
    (
        {"extraStreams": [AUDIT, {"name": "AUDIT", "subjects": ["b.>"]}]},
        "extraStreams[1].name: 'AUDIT'",
        "own name",
    ),
    (
        {"extraStreams": [{"name": "EVENTS", "subjects": ["b.>"]}]},
        "extraStreams[0].name: 'EVENTS'",
        "own name",
    ),
    (
        {"extraStreams": [{**AUDIT, "storage": "disk"}]},
        "extraStreams[0].storage: 'disk'",
        "file, memory",
    ),
    (
        {"extraStreams": [{**AUDIT, "retention": "forever"}]},
        "extraStreams[0].retention: 'forever'",
        "workqueue",
    ),
    (
        {"extraStreams": [{**AUDIT, "maxAge": "1 day"}]},
        "extraStreams[0].maxAge: '1 day'",
        "duration",
    ),
    (
        {"extraStreams": [{**AUDIT, "sizeLimit": 5}]},
        "extraStreams[0].sizeLimit: is not a field",
        "maxBytes",
    ),
    (
        {"extraStreams": [{"subjects": ["a.>"]}]},
        "extraStreams[0].name: no value",
        "set it",
    ),
    ({"extraStreams": ["AUDIT"]}, "extraStreams[0]: 'AUDIT'", "JSON object"),
    (
        {"extraStreams": [{**AUDIT, "consumers": [{"name": "a"}, {"name": "a"}]}]},
        "extraStreams[0].name: 'AUDIT'",
        "consumers its own name",
    ),
    (
        {"extraStreams": [{**AUDIT, "consumers": [{"name": "a b"}]}]},
        "extraStreams[0].consumers[0].name: 'a b'",
        "letters",
    ),
    (
        {
            "extraStreams": [
                {
                    **AUDIT,
                    "retention": "workqueue",
                    "consumers": [{"name": "w", "deliverPolicy": "new"}],
                }
            ]
        },
        "extraStreams[0].retention: 'workqueue'",
        "deliverPolicy all",
    ),
    ({"natsPortt": 4222}, "natsPortt: is not a setting", "spelling"),
    ({"natsPort": 9000}, "centrifugoInternalPort: 9000", "already used"),
]


@pytest.mark.parametrize(("overrides", "named", "fix"), BAD_STRUCTURED)
def test_load_settings_with_bad_structured_value_names_its_place_and_fix(
    overrides: dict[str, Any], named: str, fix: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(**overrides)

    assert named in str(raised.value)
    assert fix in str(raised.value)


def test_load_settings_with_valid_extra_stream_reads_every_field() -> None:
    settings = _load(
        extraStreams=[
            {
                **AUDIT,
                "storage": "memory",
                "retention": "interest",
                "maxAge": "1h",
                "maxBytes": 1024,
                "keepOnDestroy": True,
                "consumers": [{"name": "archiver", "ackWait": "1m"}],
            }
        ]
    )

    (events, audit) = settings.streams
    assert events.name == "EVENTS"
    assert audit.storage.value == "memory"
    assert audit.retention.value == "interest"
    assert audit.max_age == 3600
    assert audit.max_bytes == 1024
    assert audit.keep_on_destroy is True
    assert audit.consumers[0].ack_wait == 60
    assert audit.consumers[0].deliver_policy is DeliverPolicy.ALL


def test_load_settings_with_several_bad_values_reports_each() -> None:
    with pytest.raises(SettingsError) as raised:
        _load(natsPort=0, logLevel="loud", streamName="a b")

    message = str(raised.value)
    assert "3 invalid setting(s)" in message
    for key in ("natsPort", "logLevel", "streamName"):
        assert f"{key}: " in message


def test_load_settings_with_plaintext_secret_refuses_it() -> None:
    with pytest.raises(SettingsError, match="apiKey: is stored in plain text"):
        _load(apiKey="hunter2")


def test_load_settings_with_encrypted_secret_uses_it() -> None:
    settings = _load(secret_keys=("apiKey",), apiKey="given-key")

    api_key = settings.secrets.api_key
    assert api_key is not None
    loop = asyncio.get_event_loop()
    assert loop.run_until_complete(api_key.future()) == "given-key"
    assert loop.run_until_complete(api_key.is_secret()) is True


def test_load_settings_with_recovery_but_no_history_is_refused() -> None:
    with pytest.raises(SettingsError, match="personalForceRecovery"):
        _load(personalHistorySize=0)


def test_load_settings_with_missing_name_reports_it_once() -> None:
    with pytest.raises(SettingsError) as raised:
        _load(extraStreams=[{"subjects": ["a.>"]}])

    assert "1 invalid setting(s)" in str(raised.value)
