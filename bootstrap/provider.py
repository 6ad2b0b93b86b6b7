"""Dynamic providers that converge a JetStream stream and a durable consumer.

Both providers follow one rule: compare only what the stack declares, write only
when something differs, and never destroy stored messages on their own. An object
that already exists is adopted: identical means no write, a mutable difference is
updated read-modify-write (so live settings the stack leaves out survive), and an
immutable difference is refused with a message saying what to do.

The providers hold no state (each call opens its own connection), so Pulumi can
pickle them into the stack's state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

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

from bootstrap import client, spec
from bootstrap.client import Connection, JetStream
from bootstrap.errors import ImmutableChangeError

log = logging.getLogger(__name__)

# Names the server accepts for streams and durables: no spaces, dots or wildcards.
_NAME = re.compile(r"^[^\s.*>/\\]{1,255}$")
# Inputs that say how to reach the server rather than what to build there.
_NOT_DECLARED = ("connection",)


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
        if field.enum is None or not isinstance(value, str):
            continue
        allowed = [member.value for member in field.enum]
        if value not in allowed:
            failures.append(
                CheckFailure(name, f"{value!r} is not one of {', '.join(allowed)}.")
            )
    return failures


def _replaced_fields(
    fields: Mapping[str, spec.Field],
    identity: tuple[str, ...],
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
) -> list[str]:
    """Returns the fields whose change the server cannot apply in place."""
    replaces = [key for key in identity if olds.get(key) != news.get(key)]
    old_values = spec.declared(fields, olds)
    for name, value in spec.declared(fields, news).items():
        if fields[name].immutable and old_values.get(name, value) != value:
            replaces.append(name)
    if spec.retention_change_forces_replace(
        olds.get("retention"), news.get("retention")
    ):
        replaces.append("retention")
    return replaces


def _diff(
    fields: Mapping[str, spec.Field],
    identity: tuple[str, ...],
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
) -> DiffResult:
    wanted = spec.declared(fields, news)
    changed = bool(spec.differences(fields, wanted, spec.declared(fields, olds)))
    changed = changed or any(olds.get(key) != news.get(key) for key in identity)
    changed = changed or any(olds.get(key) != news.get(key) for key in _NOT_DECLARED)
    replaces = _replaced_fields(fields, identity, olds, news)
    return DiffResult(
        changes=changed or bool(replaces),
        replaces=replaces,
        # Two objects of one name cannot exist side by side in JetStream.
        delete_before_replace=True,
    )


def _refuse_immutable(
    what: str,
    fields: Mapping[str, spec.Field],
    found: Mapping[str, tuple[Any, Any]],
) -> None:
    immutable = {name: pair for name, pair in found.items() if fields[name].immutable}
    if "retention" in found and spec.retention_change_forces_replace(
        *found["retention"]
    ):
        immutable["retention"] = found["retention"]
    if not immutable:
        return
    detail = "; ".join(
        f"{name} is {live!r} but the stack declares {wanted!r}"
        for name, (live, wanted) in immutable.items()
    )
    raise ImmutableChangeError(
        f"{what} already exists and differs in fields the server cannot change in "
        f"place: {detail}. Declare the live values in the stack, or delete the "
        "object by hand if its messages may go, then run `pulumi up` again."
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
    """Creates, adopts, updates and deletes one JetStream stream."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _failures_for_name(news, "stream_name")
        failures += _failures_for_fields(spec.STREAM_FIELDS, news)
        subjects = news.get("subjects")
        if isinstance(subjects, list) and not subjects:
            failures.append(CheckFailure("subjects", "declare at least one subject."))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(spec.STREAM_FIELDS, ("stream_name",), olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = props["stream_name"]
        client.run(Connection.from_props(props), lambda js: _converge_stream(js, props))
        return CreateResult(name, dict(props))

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        client.run(Connection.from_props(news), lambda js: _converge_stream(js, news))
        return UpdateResult(dict(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        async def look(js: JetStream) -> api.StreamInfo | None:
            return await js.stream(props["stream_name"])

        info = client.run(Connection.from_props(props), look)
        if info is None:
            log.warning("stream %r is gone from the server", props["stream_name"])
            return ReadResult("", {})
        return ReadResult(id_, _live_outputs(spec.STREAM_FIELDS, props, info.config))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        async def remove(js: JetStream) -> bool:
            return await js.delete_stream(props["stream_name"])

        if client.run(Connection.from_props(props), remove):
            log.info("deleted stream %r", props["stream_name"])


async def _converge_stream(js: JetStream, props: Mapping[str, Any]) -> None:
    """Makes the live stream match the declared fields; writes only on a change."""
    name = props["stream_name"]
    settings = spec.for_nats(spec.STREAM_FIELDS, props)
    info = await js.stream(name)
    if info is None:
        await js.add_stream(api.StreamConfig(name=name, **settings))
        log.info("created stream %r", name)
        return

    wanted = spec.declared(spec.STREAM_FIELDS, props)
    live = spec.live_values(spec.STREAM_FIELDS, info.config)
    found = spec.differences(spec.STREAM_FIELDS, wanted, live)
    if not found:
        log.info("stream %r unchanged", name)
        return
    _refuse_immutable(f"Stream {name!r}", spec.STREAM_FIELDS, found)

    # Send the whole live config back with the declared fields changed: the server
    # resets every field an update leaves out.
    await js.update_stream(info.config.evolve(**settings))
    log.info("updated stream %r: %s", name, ", ".join(sorted(found)))


class ConsumerProvider(ResourceProvider):
    """Creates, adopts, updates and deletes one durable JetStream consumer."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _failures_for_name(news, "stream_name")
        failures += _failures_for_name(news, "durable_name")
        failures += _failures_for_fields(spec.CONSUMER_FIELDS, news)
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        identity = ("stream_name", "durable_name")
        return _diff(spec.CONSUMER_FIELDS, identity, olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        client.run(
            Connection.from_props(props), lambda js: _converge_consumer(js, props)
        )
        return CreateResult(_consumer_id(props), dict(props))

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        client.run(Connection.from_props(news), lambda js: _converge_consumer(js, news))
        return UpdateResult(dict(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        async def look(js: JetStream) -> api.ConsumerInfo | None:
            return await js.consumer(props["stream_name"], props["durable_name"])

        info = client.run(Connection.from_props(props), look)
        if info is None:
            log.warning("consumer %r is gone from the server", _consumer_id(props))
            return ReadResult("", {})
        outs = _live_outputs(spec.CONSUMER_FIELDS, props, info.config)
        return ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        async def remove(js: JetStream) -> bool:
            return await js.delete_consumer(props["stream_name"], props["durable_name"])

        if client.run(Connection.from_props(props), remove):
            log.info("deleted consumer %r", _consumer_id(props))


def _consumer_id(props: Mapping[str, Any]) -> str:
    return f"{props['stream_name']}/{props['durable_name']}"


async def _converge_consumer(js: JetStream, props: Mapping[str, Any]) -> None:
    """Makes the live durable match the declared fields; writes only on a change."""
    stream, durable = props["stream_name"], props["durable_name"]
    settings = spec.for_nats(spec.CONSUMER_FIELDS, props)
    info = await js.consumer(stream, durable)
    if info is None:
        config = api.ConsumerConfig(durable_name=durable, **settings)
        await js.put_consumer(stream, config)
        log.info("created consumer %r", _consumer_id(props))
        return

    wanted = spec.declared(spec.CONSUMER_FIELDS, props)
    live = spec.live_values(spec.CONSUMER_FIELDS, info.config)
    found = spec.differences(spec.CONSUMER_FIELDS, wanted, live)
    if not found:
        log.info("consumer %r unchanged", _consumer_id(props))
        return
    _refuse_immutable(f"Consumer {_consumer_id(props)!r}", spec.CONSUMER_FIELDS, found)

    await js.put_consumer(stream, info.config.evolve(**settings))
    log.info("updated consumer %r: %s", _consumer_id(props), ", ".join(sorted(found)))
