"""The JetStream providers' decisions, case by case, without a server.

Three tables: `check` (bad inputs become per-field failures), `diff` (old and new
inputs give no change, an update or a replacement naming its fields) and the plan
against live state (create, nothing, update, replace or refuse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.js import api

from bootstrap.errors import DataLossError, ImmutableChangeError
from bootstrap.provider import (
    Action,
    ConsumerProvider,
    Plan,
    StreamProvider,
    plan_consumer,
    plan_stream,
)

pytestmark = pytest.mark.unit

NS = 10**9
CONNECTION = {"servers": ["nats://127.0.0.1:4222"], "timeout": 60.0}
# Pulumi's placeholder for a value not known during preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

STREAM: dict[str, Any] = {
    "connection": CONNECTION,
    "stream_name": "EVENTS",
    "subjects": ["events.>"],
    "storage": "file",
    "retention": "limits",
    "max_age": 3600.0,
    "max_bytes": -1.0,
    "max_msgs": -1.0,
    "duplicate_window": 120.0,
    "allow_data_loss": False,
}
CONSUMER: dict[str, Any] = {
    "connection": CONNECTION,
    "stream_name": "EVENTS",
    "stream_identity": "EVENTS/file/no-workqueue",
    "durable_name": "centrifugo_consumer",
    "deliver_policy": "all",
    "ack_policy": "explicit",
    "ack_wait": 30.0,
    "max_ack_pending": 100.0,
    "max_deliver": -1.0,
}


@dataclass(frozen=True)
class DiffCase:
    """Old inputs changed by `change` give `changes` and `replaces`."""

    id: str
    change: dict[str, Any]
    changes: bool
    replaces: list[str] = field(default_factory=list)
    old: dict[str, Any] = field(default_factory=dict)


STREAM_DIFFS = [
    DiffCase("nothing changed", {}, False),
    DiffCase("floats against ints", {"max_age": 3600, "max_bytes": -1}, False),
    DiffCase("max age", {"max_age": 7200.0}, True),
    DiffCase("max bytes", {"max_bytes": 1024.0}, True),
    DiffCase("max msgs", {"max_msgs": 10.0}, True),
    DiffCase("duplicate window", {"duplicate_window": 60.0}, True),
    DiffCase("description", {"description": "events"}, True),
    DiffCase("subjects", {"subjects": ["events.>", "more.>"]}, True),
    DiffCase("discard policy", {"discard": "new"}, True),
    DiffCase("replicas", {"num_replicas": 3.0}, True),
    DiffCase("max message size", {"max_msg_size": 1024.0}, True),
    DiffCase("storage", {"storage": "memory"}, True, ["storage"]),
    DiffCase("retention to workqueue", {"retention": "workqueue"}, True, ["retention"]),
    DiffCase(
        "retention from workqueue",
        {"retention": "limits"},
        True,
        ["retention"],
        old={"retention": "workqueue"},
    ),
    DiffCase("retention limits to interest", {"retention": "interest"}, True),
    DiffCase(
        "rename, loss allowed",
        {"stream_name": "EVENTS2", "allow_data_loss": True},
        True,
        ["stream_name"],
    ),
    DiffCase("connection only", {"connection": {**CONNECTION, "timeout": 5.0}}, True),
    DiffCase("allow data loss toggled", {"allow_data_loss": True}, True),
    DiffCase("field newly declared", {"description": "x"}, True),
    DiffCase("field no longer declared", {"max_msgs": None}, False),
    DiffCase(
        "storage and max age", {"storage": "memory", "max_age": 1.0}, True, ["storage"]
    ),
]

CONSUMER_DIFFS = [
    DiffCase("nothing changed", {}, False),
    DiffCase("floats against ints", {"ack_wait": 30, "max_ack_pending": 100}, False),
    DiffCase("deliver policy", {"deliver_policy": "new"}, True, ["deliver_policy"]),
    DiffCase("ack policy", {"ack_policy": "all"}, True, ["ack_policy"]),
    DiffCase("replay policy", {"replay_policy": "original"}, True, ["replay_policy"]),
    DiffCase("ack wait", {"ack_wait": 60.0}, True),
    DiffCase("max ack pending", {"max_ack_pending": 10.0}, True),
    DiffCase("max deliver", {"max_deliver": 5.0}, True),
    DiffCase("filter subjects", {"filter_subjects": ["events.a"]}, True),
    DiffCase("description", {"description": "centrifugo"}, True),
    DiffCase("durable renamed", {"durable_name": "other"}, True, ["durable_name"]),
    DiffCase(
        "stream replaced",
        {"stream_identity": "EVENTS/memory/no-workqueue"},
        True,
        ["stream_identity"],
    ),
    DiffCase("stream renamed", {"stream_name": "EVENTS2"}, True, ["stream_name"]),
]


def _changed(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    result = {**base, **change}
    return {k: v for k, v in result.items() if v is not None}


@pytest.mark.parametrize("case", STREAM_DIFFS, ids=lambda c: c.id)
def test_stream_diff_gives_change_and_replacement_per_field(case: DiffCase) -> None:
    olds = _changed(STREAM, case.old)

    diff = StreamProvider().diff("EVENTS", olds, _changed(olds, case.change))

    assert diff.changes is case.changes
    assert diff.replaces == case.replaces
    # Only a renamed stream goes first: it holds the subjects the new one needs.
    assert diff.delete_before_replace is ("stream_name" in case.replaces)


@pytest.mark.parametrize("case", CONSUMER_DIFFS, ids=lambda c: c.id)
def test_consumer_diff_gives_change_and_replacement_per_field(case: DiffCase) -> None:
    olds = _changed(CONSUMER, case.old)

    diff = ConsumerProvider().diff("x", olds, _changed(olds, case.change))

    assert diff.changes is case.changes
    assert diff.replaces == case.replaces
    assert diff.delete_before_replace is True


def _stream_info(messages: int = 0, **config: Any) -> api.StreamInfo:
    wire = {
        "name": "EVENTS",
        "subjects": ["events.>"],
        "storage": "file",
        "retention": "limits",
        "max_age": 3600 * NS,
        "max_bytes": -1,
        "max_msgs": -1,
        "duplicate_window": 120 * NS,
        "discard": "old",
        "num_replicas": 1,
        # Server-filled fields the stack never declares.
        "max_consumers": -1,
        "max_msg_size": -1,
        "deny_delete": False,
        **config,
    }
    state = {"messages": messages, "bytes": 0, "first_seq": 0, "last_seq": messages}
    return api.StreamInfo.from_response(
        {"config": wire, "state": {**state, "consumer_count": 0}}
    )


def _consumer_info(**config: Any) -> api.ConsumerInfo:
    wire = {
        "durable_name": "centrifugo_consumer",
        "deliver_policy": "all",
        "ack_policy": "explicit",
        "ack_wait": 30 * NS,
        "max_ack_pending": 100,
        "max_deliver": -1,
        "replay_policy": "instant",
        "max_waiting": 512,
        **config,
    }
    seq = {"consumer_seq": 0, "stream_seq": 0}
    return api.ConsumerInfo.from_response(
        {
            "stream_name": "EVENTS",
            "name": "centrifugo_consumer",
            "created": "2026-01-01T00:00:00Z",
            "config": wire,
            "delivered": seq,
            "ack_floor": seq,
            "num_ack_pending": 0,
            "num_redelivered": 0,
            "num_waiting": 0,
            "num_pending": 0,
        }
    )


@dataclass(frozen=True)
class PlanCase:
    """Declared `change` against live state gives `plan`, or raises `error`."""

    id: str
    change: dict[str, Any]
    live: Any
    plan: Plan | None = None
    error: type[Exception] | None = None
    words: tuple[str, ...] = ()


STREAM_PLANS = [
    PlanCase("missing", {}, None, Plan(Action.CREATE)),
    PlanCase("identical", {}, _stream_info(), Plan(Action.NONE)),
    PlanCase("identical with messages", {}, _stream_info(9), Plan(Action.NONE)),
    PlanCase(
        "server fields left undeclared",
        {"max_bytes": None, "max_msgs": None},
        _stream_info(max_bytes=99, max_msgs=5),
        Plan(Action.NONE),
    ),
    PlanCase(
        "max age drifted",
        {},
        _stream_info(max_age=60 * NS),
        Plan(Action.UPDATE, ("max_age",)),
    ),
    PlanCase(
        "several mutable fields",
        {"max_msgs": 10.0, "description": "d"},
        _stream_info(),
        Plan(Action.UPDATE, ("description", "max_msgs")),
    ),
    PlanCase(
        "storage differs, empty",
        {"storage": "memory"},
        _stream_info(),
        Plan(Action.REPLACE, ("storage",)),
    ),
    PlanCase(
        "storage differs, holding messages",
        {"storage": "memory"},
        _stream_info(4),
        error=DataLossError,
        words=("storage is 'file'", "'memory'", "4 message(s)", "streamAllowDataLoss"),
    ),
    PlanCase(
        "storage differs, loss allowed",
        {"storage": "memory", "allow_data_loss": True},
        _stream_info(4),
        Plan(Action.REPLACE, ("storage",), 4),
    ),
    PlanCase(
        "retention to workqueue, holding messages",
        {"retention": "workqueue"},
        _stream_info(1),
        error=DataLossError,
        words=("retention", "1 message(s)"),
    ),
    PlanCase(
        "retention to interest is in place",
        {"retention": "interest"},
        _stream_info(1),
        Plan(Action.UPDATE, ("retention",)),
    ),
]

CONSUMER_PLANS = [
    PlanCase("missing", {}, None, Plan(Action.CREATE)),
    PlanCase("identical", {}, _consumer_info(), Plan(Action.NONE)),
    PlanCase(
        "max ack pending differs",
        {"max_ack_pending": 10.0},
        _consumer_info(),
        Plan(Action.UPDATE, ("max_ack_pending",)),
    ),
    PlanCase(
        "deliver policy differs",
        {"deliver_policy": "new"},
        _consumer_info(),
        error=ImmutableChangeError,
        words=("deliver_policy is 'all'", "'new'", "delete the consumer by hand"),
    ),
    PlanCase(
        "ack policy differs",
        {},
        _consumer_info(ack_policy="none"),
        error=ImmutableChangeError,
        words=("ack_policy is 'none'",),
    ),
]


def _check_plan(case: PlanCase, plan: Any, base: dict[str, Any]) -> None:
    props = _changed(base, case.change)
    if case.error is None:
        assert plan(props, case.live) == case.plan
        return
    with pytest.raises(case.error) as raised:
        plan(props, case.live)
    for words in case.words:
        assert words in str(raised.value)


@pytest.mark.parametrize("case", STREAM_PLANS, ids=lambda c: c.id)
def test_stream_plan_against_live_state(case: PlanCase) -> None:
    _check_plan(case, plan_stream, STREAM)


@pytest.mark.parametrize("case", CONSUMER_PLANS, ids=lambda c: c.id)
def test_consumer_plan_against_live_state(case: PlanCase) -> None:
    _check_plan(case, plan_consumer, CONSUMER)


@pytest.mark.parametrize(
    ("provider", "base", "change", "failing"),
    [
        (StreamProvider(), STREAM, {"stream_name": "EV ENTS"}, "stream_name"),
        (StreamProvider(), STREAM, {"stream_name": "a.b"}, "stream_name"),
        (StreamProvider(), STREAM, {"storage": "disk"}, "storage"),
        (StreamProvider(), STREAM, {"retention": "forever"}, "retention"),
        (StreamProvider(), STREAM, {"discard": "oldest"}, "discard"),
        (StreamProvider(), STREAM, {"subjects": []}, "subjects"),
        (ConsumerProvider(), CONSUMER, {"durable_name": "a*b"}, "durable_name"),
        (ConsumerProvider(), CONSUMER, {"deliver_policy": "first"}, "deliver_policy"),
        (ConsumerProvider(), CONSUMER, {"ack_policy": "sometimes"}, "ack_policy"),
    ],
)
def test_check_with_bad_input_fails_on_that_field(
    provider: Any, base: dict[str, Any], change: dict[str, Any], failing: str
) -> None:
    result = provider.check({}, _changed(base, change))

    assert [f.property for f in result.failures] == [failing]
    assert repr(next(iter(change.values()))) in result.failures[0].reason


@pytest.mark.parametrize(
    ("provider", "base"), [(StreamProvider(), STREAM), (ConsumerProvider(), CONSUMER)]
)
def test_check_with_good_or_unknown_input_passes(provider: Any, base: dict) -> None:
    good = provider.check({}, base)
    unknown = provider.check({}, {**base, "stream_name": UNKNOWN, "storage": UNKNOWN})

    assert good.failures == []
    assert unknown.failures == []
