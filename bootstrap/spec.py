"""Declared JetStream fields: their units, how they compare and which can change.

Only the fields a stack declares are compared with the live object. Values are
normalised first: Pulumi hands numbers over as floats, nats-py keeps durations in
float seconds and the server in integer nanoseconds, and enums arrive as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from nats.js import api


class Kind(str, Enum):
    """How a declared field's value is normalised before comparing."""

    INT = "int"
    DURATION = "duration"
    TEXT = "text"
    TEXTS = "texts"


@dataclass(frozen=True)
class Field:
    """One declared field of a stream or consumer.

    Attributes:
        kind: How values normalise.
        immutable: The server refuses to change it in place.
        enum: The nats-py enum the field takes, if any.
    """

    kind: Kind
    immutable: bool = False
    enum: type[Enum] | None = None


STREAM_FIELDS: Mapping[str, Field] = {
    "subjects": Field(Kind.TEXTS),
    "description": Field(Kind.TEXT),
    # The server never converts a stream between file and memory storage.
    "storage": Field(Kind.TEXT, immutable=True, enum=api.StorageType),
    "retention": Field(Kind.TEXT, enum=api.RetentionPolicy),
    "discard": Field(Kind.TEXT, enum=api.DiscardPolicy),
    "max_age": Field(Kind.DURATION),
    "max_bytes": Field(Kind.INT),
    "max_msgs": Field(Kind.INT),
    "max_msg_size": Field(Kind.INT),
    "duplicate_window": Field(Kind.DURATION),
    "num_replicas": Field(Kind.INT),
}

CONSUMER_FIELDS: Mapping[str, Field] = {
    "description": Field(Kind.TEXT),
    # A durable keeps its delivery position and ack bookkeeping; the server refuses
    # changes to the policies that define them.
    "deliver_policy": Field(Kind.TEXT, immutable=True, enum=api.DeliverPolicy),
    "ack_policy": Field(Kind.TEXT, immutable=True, enum=api.AckPolicy),
    "replay_policy": Field(Kind.TEXT, immutable=True, enum=api.ReplayPolicy),
    "ack_wait": Field(Kind.DURATION),
    "max_deliver": Field(Kind.INT),
    "max_ack_pending": Field(Kind.INT),
    "filter_subjects": Field(Kind.TEXTS),
}


def normalize(field: Field, value: Any) -> Any:
    """Returns a value in the one form used for comparing (durations in ns)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if field.kind is Kind.INT:
        return int(value)
    if field.kind is Kind.DURATION:
        return round(float(value) * 1e9)
    if field.kind is Kind.TEXTS:
        return [str(v) for v in value]
    return str(value)


def declared(fields: Mapping[str, Field], props: Mapping[str, Any]) -> dict[str, Any]:
    """Returns the declared fields of `props`, normalised; unset fields are left out."""
    return {
        name: normalize(field, props[name])
        for name, field in fields.items()
        if props.get(name) is not None
    }


def live_values(fields: Mapping[str, Field], config: Any) -> dict[str, Any]:
    """Returns every known field of a live nats-py config object, normalised."""
    return {
        name: normalize(field, getattr(config, name, None))
        for name, field in fields.items()
    }


def differences(
    fields: Mapping[str, Field], wanted: Mapping[str, Any], live: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Returns `{field: (live, wanted)}` for each declared field that differs."""
    return {
        name: (live.get(name), value)
        for name, value in wanted.items()
        if name in fields and live.get(name) != value
    }


def for_nats(fields: Mapping[str, Field], props: Mapping[str, Any]) -> dict[str, Any]:
    """Returns the declared fields in nats-py's units and types (seconds, enums)."""
    result: dict[str, Any] = {}
    for name, field in fields.items():
        value = props.get(name)
        if value is None:
            continue
        if field.enum is not None:
            value = field.enum(value)
        elif field.kind is Kind.INT:
            value = int(value)
        elif field.kind is Kind.DURATION:
            value = float(value)
        elif field.kind is Kind.TEXTS:
            value = list(value)
        result[name] = value
    return result


def retention_change_forces_replace(old: Any, new: Any) -> bool:
    """Whether a retention change is one the server refuses in place.

    nats-server 2.10 and later change retention in place except to or from
    `workqueue`, whose consumers follow different rules.
    """
    if old is None or new is None or old == new:
        return False
    return "workqueue" in (str(old), str(new))
