"""Faults survived with no acknowledged event lost, measured on the real Docker stack.

Each scenario deploys a stack of its own, connects one WebSocket receiver per user
(Centrifugo's Python SDK, which reconnects and recovers by itself) and publishes a
numbered series of events for three users, each retried until JetStream acknowledges
it, while the fault happens. Then every acknowledged event must have reached its
user: a repeat is allowed and counted, a missing one fails the test. Each test
prints one `FIGURES` line: events sent, received, lost, duplicated.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import nats.js.errors
import pytest
from nats.js import JetStreamManager, api
from pulumi import automation as auto

from components.settings import parse_duration
from tests.conftest import free_port
from tests.e2e.faultkit import (
    Deployment,
    Publisher,
    deployed,
    merged,
    new_run,
    receivers,
    report,
    tally,
    wait_delivered,
    wait_healthy,
)
from tests.stack_config import PROJECT, defaults

pytestmark = pytest.mark.e2e

# Events per user in a series; three users make 300 events per scenario.
PER_USER = 100
# Seconds a series may take to be acknowledged, faults included.
SEND_BOUND = 90.0
# An event Centrifugo took but did not acknowledge comes again after the consumer's
# ack wait (the dev stack's default); delivery may take that long plus a margin.
DELIVERY_BOUND = parse_duration(defaults()["consumerAckWait"]) + 15.0
# Seconds an `up` may take beyond the provisioning timeout before failing.
UP_OVERHEAD = 30.0


def _stream(d: Deployment) -> api.StreamInfo | None:
    async def look(jsm: JetStreamManager) -> api.StreamInfo | None:
        try:
            return await jsm.stream_info(d.out["streamName"])
        except nats.js.errors.NotFoundError:
            return None

    return d.jetstream(look)


def _consumer(d: Deployment) -> api.ConsumerInfo | None:
    async def look(jsm: JetStreamManager) -> api.ConsumerInfo | None:
        try:
            return await jsm.consumer_info(d.out["streamName"], d.out["consumerName"])
        except nats.js.errors.NotFoundError:
            return None

    return d.jetstream(look)


def _processed_by_centrifugo(d: Deployment) -> int:
    """Returns how many events Centrifugo's consumer handled since it started."""
    metrics = httpx.get(d.out["centrifugoMetricsUrl"], timeout=5).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("centrifugo_consumers_messages_processed_total")
    )


def _set(d: Deployment, key: str, value: str) -> None:
    d.stack.set_config(f"{PROJECT}:{key}", auto.ConfigValue(value))


def _started(container: Any) -> tuple[str, str, int]:
    container.reload()
    state = container.attrs["State"]
    return container.id, state["StartedAt"], container.attrs["RestartCount"]


def test_nats_restarted_then_replaced_during_traffic_keeps_every_acknowledged_event(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    with deployed(tmp_path, "f-restart") as d, receivers(d) as clients:
        run = new_run()
        first_id = d.container("natsContainerName").id
        volume = d.docker.volumes.get(d.out["natsVolumeName"]).attrs["CreatedAt"]

        with Publisher(d.out, run, range(PER_USER)) as series:
            assert series.wait_sent(series.planned // 3, SEND_BOUND)
            d.container("natsContainerName").restart(timeout=10)
            assert series.wait_sent(2 * series.planned // 3, SEND_BOUND)
            # A new monitoring port is a change the container cannot take in
            # place: Pulumi replaces it, on the same named volume.
            _set(d, "natsMonitorPort", str(free_port()))
            up = d.stack.up(color="never")
            sent_all = series.join(SEND_BOUND)
        wait_delivered(clients, run, merged(series), DELIVERY_BOUND)
        stream = _stream(d)
        stored = stream.state.messages if stream else 0
        result = tally(
            "nats-restart-and-replace",
            clients,
            run,
            series,
            stored=stored,
            retried=series.failed_attempts,
        )
        report(request, result.line())

        changes = up.summary.resource_changes or {}
        assert changes.get("replace") == 1, changes
        assert set(changes) <= {"replace", "same"}, changes
        assert d.container("natsContainerName").id != first_id
        assert (
            d.docker.volumes.get(d.out["natsVolumeName"]).attrs["CreatedAt"] == volume
        )
        assert sent_all, f"only {series.count()} of {series.planned} acknowledged"
        assert stored == result.sent, "the stream lost stored events"
        assert result.lost == 0, result.missing_text()
        assert result.foreign == 0


def test_nats_container_removed_during_traffic_is_back_after_next_up_with_its_events(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    # A short provisioning timeout bounds the teardown if NATS stays gone.
    with (
        deployed(tmp_path, "f-removed", {"provisionTimeout": "10s"}) as d,
        receivers(d) as clients,
    ):
        run = new_run()

        with Publisher(d.out, run, range(PER_USER)) as series:
            assert series.wait_sent(series.planned // 3, SEND_BOUND)
            d.container("natsContainerName").remove(force=True)
            # As ./scripts/up.sh runs it: read what really runs first.
            up = d.stack.up(color="never", refresh=True)
            back = any(
                c.name == d.out["natsContainerName"] and wait_healthy(c, 10)
                for c in d.docker.containers.list(all=True)
            )
            sent_all = back and series.join(SEND_BOUND)
        if back:
            wait_delivered(clients, run, merged(series), DELIVERY_BOUND)
        result = tally("nats-removed", clients, run, series, nats_back=back)
        report(request, result.line())

        assert back, (
            f"after `docker rm -f` of NATS the next up reported "
            f"{up.summary.resource_changes} and left NATS missing"
        )
        assert sent_all, f"only {series.count()} of {series.planned} acknowledged"
        assert result.lost == 0, result.missing_text()


def test_centrifugo_stopped_during_traffic_delivers_backlog_to_every_user_after_start(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    with deployed(tmp_path, "f-cfstop") as d, receivers(d) as clients:
        run = new_run()
        centrifugo = d.container("centrifugoContainerName")

        with Publisher(d.out, run, range(PER_USER)) as series:
            assert series.wait_sent(series.planned // 3, SEND_BOUND)
            centrifugo.stop(timeout=10)
            stopped_at = series.count()
            assert series.wait_sent(2 * series.planned // 3, SEND_BOUND)
            backlog = series.count() - stopped_at
            centrifugo.start()
            healthy = wait_healthy(centrifugo)
            sent_all = series.join(SEND_BOUND)
        wait_delivered(clients, run, merged(series), DELIVERY_BOUND)
        consumer = _consumer(d)
        result = tally(
            "centrifugo-stop",
            clients,
            run,
            series,
            backlog=backlog,
            consumed_after_start=_processed_by_centrifugo(d),
            consumer_pending=consumer.num_pending if consumer else None,
            reconnects_recovered=[c.subscribes[1:] for c in clients.values()],
        )
        report(request, result.line())

        assert healthy
        assert sent_all, f"only {series.count()} of {series.planned} acknowledged"
        assert result.lost == 0, (
            f"{result.lost} acknowledged events never reached their user "
            f"({result.missing_text()}), although the durable consumer handed "
            f"Centrifugo its backlog: {result.notes} (recoveries are "
            "(was_recovering, recovered) per reconnect)"
        )


def test_client_disconnected_during_traffic_recovers_missed_events_on_reconnect(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    with deployed(tmp_path, "f-reconnect") as d, receivers(d) as clients:
        run = new_run()

        with Publisher(d.out, run, range(PER_USER)) as series:
            assert series.wait_sent(series.planned // 3, SEND_BOUND)
            for client in clients.values():
                client.drop()
            dropped_at = series.count()
            assert series.wait_sent(2 * series.planned // 3, SEND_BOUND)
            missed = series.count() - dropped_at
            for client in clients.values():
                client.reconnect()
            sent_all = series.join(SEND_BOUND)
        wait_delivered(clients, run, merged(series), DELIVERY_BOUND)
        recoveries = [c.subscribes[-1] for c in clients.values()]
        result = tally(
            "client-reconnect",
            clients,
            run,
            series,
            sent_while_away=missed,
            recovered=recoveries,
        )
        report(request, result.line())

        assert sent_all, f"only {series.count()} of {series.planned} acknowledged"
        assert result.lost == 0, result.missing_text()
        # (was_recovering, recovered): the missed events came from the history.
        assert recoveries == [(True, True)] * len(clients)
        assert result.foreign == 0


def test_up_with_nats_unreachable_fails_in_bounded_time_then_next_up_applies_change(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    timeout = 5.0
    with (
        deployed(tmp_path, "f-offline", {"provisionTimeout": f"{timeout:g}s"}) as d,
        receivers(d) as clients,
    ):
        run = new_run()
        nats_container = d.container("natsContainerName")
        centrifugo_before = _started(d.container("centrifugoContainerName"))
        age_before = _stream(d).config.max_age  # type: ignore[union-attr]

        with Publisher(d.out, run, range(PER_USER)) as series:
            assert series.wait_sent(series.planned // 3, SEND_BOUND)
            # Paused, NATS still accepts connections but answers nothing, as across
            # a partition; a stopped container an `up` that refreshes would start.
            nats_container.pause()
            _set(d, "streamMaxAge", "12h")
            started = time.monotonic()
            with pytest.raises(auto.CommandError) as failed:
                d.stack.up(color="never")
            took = time.monotonic() - started
            pending = d.stack.export_stack().deployment.get("pending_operations")
            centrifugo_after_failure = _started(d.container("centrifugoContainerName"))
            nats_container.unpause()
            assert wait_healthy(nats_container)
            age_after_failure = _stream(d).config.max_age  # type: ignore[union-attr]
            up = d.stack.up(color="never")
            sent_all = series.join(SEND_BOUND)
        wait_delivered(clients, run, merged(series), DELIVERY_BOUND)
        age_after = _stream(d).config.max_age  # type: ignore[union-attr]
        preview = d.stack.preview(color="never")
        result = tally(
            "nats-unreachable-up",
            clients,
            run,
            series,
            failed_after=f"{took:.1f}s",
        )
        report(request, result.line())

        assert f"did not answer within {timeout:g} s" in str(failed.value)
        assert took < timeout + UP_OVERHEAD
        assert not pending
        assert centrifugo_after_failure == centrifugo_before
        assert age_after_failure == age_before == 24 * 3600
        changes = up.summary.resource_changes or {}
        assert changes.get("update") == 1, changes
        assert set(changes) <= {"update", "same"}, changes
        assert age_after == 12 * 3600
        assert set(preview.change_summary) == {"same"}, preview.change_summary
        assert sent_all, f"only {series.count()} of {series.planned} acknowledged"
        assert result.lost == 0, result.missing_text()


def test_consumer_deleted_out_of_band_resumes_delivery_after_next_up_same_centrifugo(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    with deployed(tmp_path, "f-noconsumer") as d, receivers(d) as clients:
        run = new_run()
        centrifugo_before = _started(d.container("centrifugoContainerName"))

        async def delete(jsm: JetStreamManager) -> bool:
            return await jsm.delete_consumer(d.out["streamName"], d.out["consumerName"])

        with Publisher(d.out, run, range(PER_USER)) as series:
            assert series.wait_sent(series.planned // 3, SEND_BOUND)
            d.jetstream(delete)
            assert series.wait_sent(2 * series.planned // 3, SEND_BOUND)
            # As ./scripts/up.sh runs it: read what really runs first.
            up = d.stack.up(color="never", refresh=True)
            sent_all = series.join(SEND_BOUND)
        remade = _consumer(d) is not None
        if remade:  # Without the durable nothing delivers: waiting changes nothing.
            wait_delivered(clients, run, merged(series), DELIVERY_BOUND)
        result = tally(
            "consumer-deleted",
            clients,
            run,
            series,
            consumer_remade=remade,
        )
        report(request, result.line())

        assert sent_all, f"only {series.count()} of {series.planned} acknowledged"
        assert remade, (
            f"the next up reported {up.summary.resource_changes} and did not make "
            "the deleted consumer again"
        )
        assert _started(d.container("centrifugoContainerName")) == centrifugo_before
        assert result.lost == 0, result.missing_text()


def test_stream_deleted_out_of_band_resumes_delivery_after_next_up_same_centrifugo(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    with deployed(tmp_path, "f-nostream") as d, receivers(d) as clients:
        run = new_run()
        centrifugo_before = _started(d.container("centrifugoContainerName"))
        half = PER_USER // 2

        async def delete(jsm: JetStreamManager) -> bool:
            return await jsm.delete_stream(d.out["streamName"])

        with Publisher(d.out, run, range(half)) as before:
            assert before.join(SEND_BOUND)
        # Deleting a stream deletes what it stores: let that be delivered first.
        assert wait_delivered(clients, run, merged(before), DELIVERY_BOUND)
        d.jetstream(delete)
        with Publisher(d.out, run, range(half, PER_USER)) as after:
            # As ./scripts/up.sh runs it: read what really runs first.
            up = d.stack.up(color="never", refresh=True)
            remade = _stream(d) is not None and _consumer(d) is not None
            # Without a stream no event is acknowledged: waiting changes nothing.
            sent_all = remade and after.join(SEND_BOUND)
        if remade:
            wait_delivered(clients, run, merged(before, after), DELIVERY_BOUND)
        result = tally(
            "stream-deleted",
            clients,
            run,
            before,
            after,
            stream_remade=remade,
        )
        report(request, result.line())

        assert remade, (
            f"the next up reported {up.summary.resource_changes} and did not make "
            "the deleted stream and consumer again"
        )
        assert sent_all, f"only {after.count()} of {after.planned} acknowledged"
        assert _started(d.container("centrifugoContainerName")) == centrifugo_before
        assert result.lost == 0, result.missing_text()
