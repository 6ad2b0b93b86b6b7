"""Dynamic providers that converge JetStream streams and durable consumers.

Both providers follow one rule: compare only what the stack declares, write only
when something differs, and never destroy stored messages unless the stack allows
it. An object that already exists is adopted: identical means no write, a mutable
difference is updated read-modify-write (so live settings the stack leaves out
survive), and a difference the server cannot apply in place needs a replacement.

A stream is replaced inside `create` (the engine creates the replacement before it
deletes the old resource), where the data-loss guard can look at the live stream:
a stream holding messages is only replaced when `allow_data_loss` is set. `delete`
then finds a stream that no longer matches the old resource and leaves it alone.
Consumers are replaced delete-first; a replaced stream replaces its consumers too,
through their `stream_identity` input.

The providers hold no state (each call opens its own connection), so Pulumi can
pickle them into the stack's state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from nats.js import api
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc

from bootstrap import client, spec
from bootstrap.client import Connection, JetStream
from bootstrap.errors import DataLossError, ImmutableChangeError, NatsUnavailableError

T = TypeVar("T")

log = logging.getLogger(__name__)

# Names the server accepts for streams and durables: no spaces, dots or wildcards.
_NAME = re.compile(r"^[^\s.*>/\\]{1,255}$")
# Inputs that steer the provider rather than declare what to build on the server.
_NOT_DECLARED = ("connection", "allow_data_loss")
_STREAM_IDENTITY = ("stream_name",)
# How a dynamic provider sees a value not known yet, during `preview`.
_UNKNOWN = rpc.UNKNOWN
# A consumer lives inside one stream: a replaced stream needs new consumers.
_CONSUMER_IDENTITY = ("stream_name", "durable_name", "stream_identity")
_ALLOW_HINT = (
    "set the stream's allowDataLoss setting to true (`pulumi config set "
    "streamAllowDataLoss true` for the events stream) and run `pulumi up` again"
)


def _failures_for_name(props: Mapping[str, Any], key: str) -> list[CheckFailure]:
    value = props.get(key)
    if isinstance(value, str) and not _NAME.match(value):
        return [
            CheckFailure(
                key,
                f"{value!r} is not a valid JetStream name; use letters, digits, '-' "
                "and '_' without spaces, dots or wildcards.",
            )
        ]
    return []


def _failures_for_fields(
    fields: Mapping[str, spec.Field], props: Mapping[str, Any]
) -> list[CheckFailure]:
    failures = []
    for name, field in fields.items():
        value = props.get(name)
        if field.enum is None or not isinstance(value, str) or value == _UNKNOWN:
            continue
        allowed = [member.value for member in field.enum]
        if value not in allowed:
            failures.append(
                CheckFailure(name, f"{value!r} is not one of {', '.join(allowed)}.")
            )
    return failures


def immutable_differences(
    fields: Mapping[str, spec.Field], found: Mapping[str, tuple[Any, Any]]
) -> dict[str, tuple[Any, Any]]:
    """Returns the differences the server refuses to apply in place."""
    immutable = {name: pair for name, pair in found.items() if fields[name].immutable}
    if "retention" in found and spec.retention_change_forces_replace(
        *found["retention"]
    ):
        immutable["retention"] = found["retention"]
    return immutable


def _diff(
    fields: Mapping[str, spec.Field],
    identity: tuple[str, ...],
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    delete_before_replace: bool,
) -> DiffResult:
    found = spec.differences(
        fields, spec.declared(fields, news), spec.declared(fields, olds)
    )
    replaces = [key for key in identity if olds.get(key) != news.get(key)]
    replaces += sorted(immutable_differences(fields, found))
    changed = bool(found) or any(olds.get(k) != news.get(k) for k in _NOT_DECLARED)
    return DiffResult(
        changes=changed or bool(replaces),
        replaces=replaces,
        delete_before_replace=delete_before_replace,
    )


def _run(
    props: Mapping[str, Any], action: Callable[[JetStream, Any], Awaitable[T]]
) -> T:
    """Runs `action(js, props)` on a connection made from `props`."""
    return client.run(Connection.from_props(props), lambda js: action(js, props))


def _read(
    id_: str,
    props: dict[str, Any],
    fields: Mapping[str, spec.Field],
    name: str,
    look: Callable[[JetStream], Awaitable[Any]],
) -> ReadResult:
    """Reads a live object for `refresh`: its declared fields, or that it is gone."""
    try:
        info = client.run(Connection.from_props(props), look)
    except NatsUnavailableError as exc:
        log.warning("kept the last known state of %s: %s", name, exc)
        return ReadResult(id_, props)
    if info is None:
        log.warning("%s is gone from the server", name)
        return ReadResult("", {})
    return ReadResult(id_, _live_outputs(fields, props, info.config))


def _describe(found: Mapping[str, tuple[Any, Any]]) -> str:
    return "; ".join(
        f"{name} is {live!r} but the stack declares {wanted!r}"
        for name, (live, wanted) in found.items()
    )


def _live_outputs(
    fields: Mapping[str, spec.Field], props: Mapping[str, Any], config: Any
) -> dict[str, Any]:
    """Returns `props` with each declared field replaced by its live value."""
    outs = dict(props)
    for name in spec.declared(fields, props):
        value = getattr(config, name, None)
        outs[name] = value.value if isinstance(value, Enum) else value
    return outs


class StreamProvider(ResourceProvider):
    """Creates, adopts, updates, replaces and deletes one JetStream stream."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _failures_for_name(news, "stream_name")
        failures += _failures_for_fields(spec.STREAM_FIELDS, news)
        subjects = news.get("subjects")
        if isinstance(subjects, list) and not subjects:
            failures.append(
                CheckFailure("subjects", "[] captures nothing; declare a subject.")
            )
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        renamed = olds.get("stream_name") != news.get("stream_name")
        if renamed:
            # The old stream goes when the resource is renamed; guard it here,
            # since its `delete` cannot tell a rename from a destroy.
            _guard_rename(olds, news)
        # A renamed stream captures the same subjects as the old one, and the
        # server refuses two streams on one subject: the old one goes first.
        return _diff(spec.STREAM_FIELDS, _STREAM_IDENTITY, olds, news, renamed)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = props["stream_name"]
        _run(props, _converge_stream)
        return CreateResult(name, dict(props))

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        _run(news, _converge_stream)
        return UpdateResult(dict(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        async def look(js: JetStream) -> api.StreamInfo | None:
            return await js.stream(props["stream_name"])

        name = f"stream {props['stream_name']!r}"
        return _read(id_, props, spec.STREAM_FIELDS, name, look)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            _run(props, _delete_stream)
        except NatsUnavailableError as exc:
            # With the services stopped the stream cannot be reached; it stays in
            # the store, which goes with the volume unless that is kept.
            log.warning("left stream %r as it is: %s", props["stream_name"], exc)


def _guard_rename(olds: Mapping[str, Any], news: Mapping[str, Any]) -> None:
    if news.get("allow_data_loss") or not isinstance(news.get("stream_name"), str):
        return

    async def count(js: JetStream) -> int:
        info = await js.stream(olds["stream_name"])
        return info.state.messages if info is not None else 0

    messages = client.run(Connection.from_props(olds), count)
    if messages:
        raise DataLossError(
            f"Renaming stream {olds['stream_name']!r} to {news['stream_name']!r} "
            f"replaces it, and the old stream's {messages} message(s) would be "
            f"deleted. To allow it, {_ALLOW_HINT}; or keep the old name."
        )


class Action(str, Enum):
    """What converging one object to its declared fields takes."""

    CREATE = "create"
    NONE = "none"
    UPDATE = "update"
    REPLACE = "replace"


@dataclass(frozen=True)
class Plan:
    """The outcome of comparing declared fields with the live object.

    Attributes:
        action: What to do.
        fields: The declared fields that differ.
        messages: Messages the live stream holds (lost on a replacement).
    """

    action: Action
    fields: tuple[str, ...] = ()
    messages: int = 0


def plan_stream(props: Mapping[str, Any], info: api.StreamInfo | None) -> Plan:
    """Decides how to make the live stream match `props`.

    Raises:
        DataLossError: Only a replacement would do, the stream holds messages and
            the stack does not allow losing them.
    """
    if info is None:
        return Plan(Action.CREATE)
    wanted = spec.declared(spec.STREAM_FIELDS, props)
    live = spec.live_values(spec.STREAM_FIELDS, info.config)
    found = spec.differences(spec.STREAM_FIELDS, wanted, live)
    if not found:
        return Plan(Action.NONE)
    immutable = immutable_differences(spec.STREAM_FIELDS, found)
    if not immutable:
        return Plan(Action.UPDATE, tuple(sorted(found)))
    messages = info.state.messages
    if messages and not props.get("allow_data_loss"):
        raise DataLossError(
            f"Stream {props['stream_name']!r} must be replaced because "
            f"{_describe(immutable)}, and the server cannot change that in place; "
            f"replacing it deletes the {messages} message(s) it holds. To allow it, "
            f"{_ALLOW_HINT}; or declare the live value to keep the stream as it is."
        )
    return Plan(Action.REPLACE, tuple(sorted(immutable)), messages)


async def _converge_stream(js: JetStream, props: Mapping[str, Any]) -> None:
    """Makes the live stream match the declared fields; writes only on a change."""
    name = props["stream_name"]
    settings = spec.for_nats(spec.STREAM_FIELDS, props)
    info = await js.stream(name)
    plan = plan_stream(props, info)

    if plan.action is Action.CREATE:
        await js.add_stream(api.StreamConfig(name=name, **settings))
    elif plan.action is Action.UPDATE and info is not None:
        # Send the whole live config back with the declared fields changed: the
        # server resets every field an update leaves out.
        await js.update_stream(info.config.evolve(**settings))
    elif plan.action is Action.REPLACE:
        await js.delete_stream(name)
        await js.add_stream(api.StreamConfig(name=name, **settings))
    log_plan("stream", name, plan)


def log_plan(kind: str, name: str, plan: Plan) -> None:
    """Logs one line per state change; a replacement that lost messages warns."""
    if plan.action is Action.REPLACE and plan.messages:
        log.warning(
            "replaced %s %r (%s), deleting %d message(s)",
            kind,
            name,
            ", ".join(plan.fields),
            plan.messages,
        )
    else:
        log.info("%s %r: %s %s", kind, name, plan.action.value, ", ".join(plan.fields))


async def _delete_stream(js: JetStream, props: Mapping[str, Any]) -> None:
    name = props["stream_name"]
    info = await js.stream(name)
    if info is None:
        return
    live = spec.live_values(spec.STREAM_FIELDS, info.config)
    found = spec.differences(
        spec.STREAM_FIELDS, spec.declared(spec.STREAM_FIELDS, props), live
    )
    if immutable_differences(spec.STREAM_FIELDS, found):
        # The stream of this name is the replacement made by `create`.
        log.info("stream %r was replaced; keeping the replacement", name)
        return
    await js.delete_stream(name)
    log.info("deleted stream %r", name)


class ConsumerProvider(ResourceProvider):
    """Creates, adopts, updates and deletes one durable JetStream consumer."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _failures_for_name(news, "stream_name")
        failures += _failures_for_name(news, "durable_name")
        failures += _failures_for_fields(spec.CONSUMER_FIELDS, news)
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Two durables of one name cannot exist side by side: delete first.
        return _diff(spec.CONSUMER_FIELDS, _CONSUMER_IDENTITY, olds, news, True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        _run(props, _converge_consumer)
        return CreateResult(_consumer_id(props), dict(props))

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        _run(news, _converge_consumer)
        return UpdateResult(dict(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        async def look(js: JetStream) -> api.ConsumerInfo | None:
            return await js.consumer(props["stream_name"], props["durable_name"])

        name = f"consumer {_consumer_id(props)!r}"
        return _read(id_, props, spec.CONSUMER_FIELDS, name, look)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        async def remove(js: JetStream) -> bool:
            return await js.delete_consumer(props["stream_name"], props["durable_name"])

        try:
            if client.run(Connection.from_props(props), remove):
                log.info("deleted consumer %r", _consumer_id(props))
        except NatsUnavailableError as exc:
            log.warning("left consumer %r as it is: %s", _consumer_id(props), exc)


def _consumer_id(props: Mapping[str, Any]) -> str:
    return f"{props['stream_name']}/{props['durable_name']}"


def plan_consumer(props: Mapping[str, Any], info: api.ConsumerInfo | None) -> Plan:
    """Decides how to make the live durable match `props`.

    Raises:
        ImmutableChangeError: The durable exists with a field the server cannot
            change in place.
    """
    if info is None:
        return Plan(Action.CREATE)
    wanted = spec.declared(spec.CONSUMER_FIELDS, props)
    live = spec.live_values(spec.CONSUMER_FIELDS, info.config)
    found = spec.differences(spec.CONSUMER_FIELDS, wanted, live)
    if not found:
        return Plan(Action.NONE)
    immutable = immutable_differences(spec.CONSUMER_FIELDS, found)
    if immutable:
        raise ImmutableChangeError(
            f"Consumer {_consumer_id(props)!r} already exists and differs in fields "
            f"the server cannot change in place: {_describe(immutable)}. Declare "
            "the live values, or delete the consumer by hand (its delivery position "
            "is lost; with deliver policy `all` the stored messages are delivered "
            "again), then run `pulumi up` again."
        )
    return Plan(Action.UPDATE, tuple(sorted(found)))


async def _converge_consumer(js: JetStream, props: Mapping[str, Any]) -> None:
    """Makes the live durable match the declared fields; writes only on a change."""
    stream, durable = props["stream_name"], props["durable_name"]
    settings = spec.for_nats(spec.CONSUMER_FIELDS, props)
    info = await js.consumer(stream, durable)
    plan = plan_consumer(props, info)

    if plan.action is Action.CREATE:
        config = api.ConsumerConfig(durable_name=durable, **settings)
        await js.put_consumer(stream, config)
    elif plan.action is Action.UPDATE and info is not None:
        await js.put_consumer(stream, info.config.evolve(**settings))
    log_plan("consumer", _consumer_id(props), plan)
