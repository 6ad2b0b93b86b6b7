"""The program's resource graph, with Pulumi mocks: what is created, named and wired.

The program runs unmodified (`__main__.py`); a recording mock monitor keeps every
registration request, options included, which plain mocks do not show.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from tests.stack_config import PROJECT, PROJECT_DIR, stack_config

pytestmark = pytest.mark.unit

CONSUMER = "zkm-dev-events-consumer-centrifugo_consumer"


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    dependencies: list[str]
    replace_on_changes: list[str]
    additional_secret_outputs: list[str]
    secret_inputs: set[str]
    retain_on_delete: bool


def _plain(value: Any) -> tuple[Any, bool]:
    """Returns the value without secret wrappers, and whether it held a secret."""
    if pulumi.runtime.rpc.is_rpc_secret(value):
        return _plain(pulumi.runtime.rpc.unwrap_rpc_secret(value))[0], True
    if isinstance(value, dict):
        pairs = {k: _plain(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_plain(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            outputs["imageId"] = f"sha256:{args.name}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = pulumi.runtime.rpc.deserialize_properties(request.object)
            plain = {key: _plain(value) for key, value in raw.items()}
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs={key: value for key, (value, _) in plain.items()},
                    dependencies=list(request.dependencies),
                    replace_on_changes=list(request.replaceOnChanges),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    secret_inputs={key for key, (_, secret) in plain.items() if secret},
                    retain_on_delete=request.retainOnDelete,
                )
            )
        return response


def _run_program(**overrides: Any) -> list[Registration]:
    monitor = _RecordingMonitor(_Mocks())
    pulumi.runtime.set_mocks(_Mocks(), project=PROJECT, stack="dev", monitor=monitor)
    pulumi.runtime.set_all_config(stack_config("dev", **overrides), [])

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")

    program()
    return monitor.registrations


@pytest.fixture(scope="module")
def registrations() -> list[Registration]:
    return _run_program()


def _one(registrations: list[Registration], type_: str, name: str) -> Registration:
    found = [r for r in registrations if r.type == type_ and r.name == name]
    assert len(found) == 1, f"{type_} {name}: {[r.name for r in registrations]}"
    return found[0]


def test_program_registers_every_resource_of_the_stack(
    registrations: list[Registration],
) -> None:
    names = sorted((r.type, r.name) for r in registrations)

    assert names == sorted(
        [
            ("docker:index/network:Network", "zkm-dev-network"),
            ("zk-messenger:index:StackSecrets", "zkm-dev-secrets"),
            *[
                ("pulumi-python:dynamic/secrets:Generated", f"zkm-dev-secrets-{p}")
                for p in (
                    "token-hmac",
                    "api-key",
                    "admin-password",
                    "admin-secret",
                    "nats-admin",
                    "nats-publisher",
                    "nats-centrifugo",
                    "redis",
                )
            ],
            ("zk-messenger:index:NatsServer", "zkm-dev-nats"),
            ("docker:index/volume:Volume", "zkm-dev-nats-data"),
            ("docker:index/remoteImage:RemoteImage", "zkm-dev-nats-image"),
            ("docker:index/container:Container", "zkm-dev-nats"),
            ("zk-messenger:index:StreamWithConsumers", "zkm-dev-events"),
            ("pulumi-python:dynamic/jetstream:Stream", "zkm-dev-events-stream"),
            ("pulumi-python:dynamic/jetstream:Consumer", CONSUMER),
            ("zk-messenger:index:Redis", "zkm-dev-redis"),
            ("docker:index/volume:Volume", "zkm-dev-redis-data"),
            ("docker:index/remoteImage:RemoteImage", "zkm-dev-redis-image"),
            ("docker:index/container:Container", "zkm-dev-redis"),
            ("zk-messenger:index:Centrifugo", "zkm-dev-centrifugo"),
            ("docker:index/remoteImage:RemoteImage", "zkm-dev-centrifugo-image"),
            ("docker:index/container:Container", "zkm-dev-centrifugo"),
        ]
    )


def test_program_parents_every_child_to_its_component(
    registrations: list[Registration],
) -> None:
    components = {r.name: r.urn for r in registrations if r.type.startswith(PROJECT)}
    for registration in registrations:
        owner = next(
            (n for n in components if registration.name.startswith(f"{n}-")), None
        )
        if owner is not None and registration.type != "docker:index/network:Network":
            assert registration.parent == components[owner], registration.name


def test_nats_container_keeps_store_on_named_volume_with_health_wait(
    registrations: list[Registration],
) -> None:
    nats = _one(registrations, "docker:index/container:Container", "zkm-dev-nats")
    inputs = nats.inputs

    assert inputs["name"] == "zkm-dev-nats"
    assert inputs["command"] == ["--config", "/nats-server.conf"]
    assert "uploads" in nats.secret_inputs
    assert inputs["volumes"] == [
        {"volumeName": "zkm-dev-nats-data", "containerPath": "/data"}
    ]
    assert {(p["internal"], p["external"], p["ip"]) for p in inputs["ports"]} == {
        (4222, 4222, "127.0.0.1"),
        (8222, 8222, "127.0.0.1"),
    }
    assert inputs["networksAdvanced"] == [{"name": "zkm-dev", "aliases": ["nats"]}]
    assert inputs["healthcheck"]["tests"][0] == "CMD"
    assert inputs["wait"] is True
    assert inputs["restart"] == "unless-stopped"
    assert nats.replace_on_changes == ["healthcheck"]


def test_stream_and_consumer_are_declared_as_documented(
    registrations: list[Registration],
) -> None:
    stream = _one(
        registrations, "pulumi-python:dynamic/jetstream:Stream", "zkm-dev-events-stream"
    ).inputs
    consumer = _one(
        registrations,
        "pulumi-python:dynamic/jetstream:Consumer",
        CONSUMER,
    ).inputs

    assert stream["stream_name"] == "EVENTS"
    assert stream["subjects"] == ["events.>"]
    assert stream["storage"] == "file"
    assert stream["max_age"] == 86400
    assert stream["connection"]["servers"] == ["nats://127.0.0.1:4222"]
    assert stream["connection"]["timeout"] == 60
    assert stream["connection"]["user"] == "admin"
    assert stream["allow_data_loss"] is False
    assert consumer["durable_name"] == "centrifugo_consumer"
    assert consumer["ack_policy"] == "explicit"
    assert consumer["deliver_policy"] == "all"
    assert consumer["max_ack_pending"] == 100


def test_provisioning_waits_for_nats_and_centrifugo_for_the_consumer(
    registrations: list[Registration],
) -> None:
    nats = _one(registrations, "docker:index/container:Container", "zkm-dev-nats")
    stream = _one(
        registrations, "pulumi-python:dynamic/jetstream:Stream", "zkm-dev-events-stream"
    )
    consumer = _one(
        registrations,
        "pulumi-python:dynamic/jetstream:Consumer",
        CONSUMER,
    )
    centrifugo = _one(
        registrations, "docker:index/container:Container", "zkm-dev-centrifugo"
    )

    assert nats.urn in stream.dependencies
    assert stream.urn in consumer.dependencies
    assert consumer.urn in centrifugo.dependencies
    assert nats.urn in centrifugo.dependencies
    redis = _one(registrations, "docker:index/container:Container", "zkm-dev-redis")
    assert redis.urn in centrifugo.dependencies


def test_centrifugo_gets_generated_config_binding_the_existing_consumer(
    registrations: list[Registration],
) -> None:
    registration = _one(
        registrations, "docker:index/container:Container", "zkm-dev-centrifugo"
    )
    centrifugo = registration.inputs

    assert "uploads" in registration.secret_inputs
    (upload,) = centrifugo["uploads"]
    assert upload["file"] == "/centrifugo/config.json"
    config = json.loads(upload["content"])
    (consumer,) = config["consumers"]
    assert consumer["nats_jetstream"]["url"] == "nats://nats:4222"
    assert config["engine"]["type"] == "redis"
    assert config["engine"]["redis"]["address"] == ["redis://redis:6379"]
    assert consumer["nats_jetstream"]["use_existing_consumer"] is True
    assert consumer["nats_jetstream"]["durable_consumer_name"] == "centrifugo_consumer"
    assert config["client"]["allowed_origins"] == ["http://localhost:3000"]
    assert centrifugo["entrypoints"] == ["/usr/local/bin/centrifugo"]
    assert {(p["internal"], p["ip"]) for p in centrifugo["ports"]} == {
        (8000, "0.0.0.0"),
        (9000, "127.0.0.1"),
    }


def test_generated_secrets_are_secret_outputs(
    registrations: list[Registration],
) -> None:
    generated = [
        r for r in registrations if r.type == "pulumi-python:dynamic/secrets:Generated"
    ]

    assert len(generated) == 8
    for registration in generated:
        assert registration.additional_secret_outputs == ["value"]
        assert registration.inputs["bytes"] == 32


def test_program_with_other_stack_settings_follows_them() -> None:
    registrations = _run_program(
        natsPort=14222, streamName="AUDIT", centrifugoImage="registry.local/cf:v6"
    )

    stream = _one(
        registrations, "pulumi-python:dynamic/jetstream:Stream", "zkm-dev-events-stream"
    )
    image = _one(
        registrations,
        "docker:index/remoteImage:RemoteImage",
        "zkm-dev-centrifugo-image",
    )
    assert stream.inputs["stream_name"] == "AUDIT"
    assert stream.inputs["connection"]["servers"] == ["nats://127.0.0.1:14222"]
    assert image.inputs["name"] == "registry.local/cf:v6"
    assert image.inputs["keepLocally"] is True


def test_program_with_bad_setting_registers_nothing() -> None:
    monitor = _RecordingMonitor(_Mocks())
    pulumi.runtime.set_mocks(_Mocks(), project=PROJECT, stack="dev", monitor=monitor)
    pulumi.runtime.set_all_config(stack_config("dev", natsPort=99999), [])

    with pytest.raises(pulumi.RunError, match="natsPort: 99999"):
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
    assert monitor.registrations == []


def test_nats_config_gives_each_role_only_its_permissions(
    registrations: list[Registration],
) -> None:
    nats = _one(registrations, "docker:index/container:Container", "zkm-dev-nats")

    (upload,) = nats.inputs["uploads"]
    config = json.loads(upload["content"])
    users = {u["user"]: u["permissions"] for u in config["authorization"]["users"]}
    assert config["jetstream"] == {"store_dir": "/data"}
    assert users["publisher"]["publish"] == ["events.>"]
    assert users["admin"]["publish"] == ["$JS.API.>"]
    assert "$JS.API.>" not in users["centrifugo"]["publish"]
    assert (
        "$JS.API.CONSUMER.MSG.NEXT.EVENTS.centrifugo_consumer"
        in users["centrifugo"]["publish"]
    )


def test_program_with_services_stopped_keeps_volume_and_streams_only() -> None:
    registrations = _run_program(servicesRunning=False)

    types = {r.type for r in registrations}
    assert "docker:index/container:Container" not in types
    _one(registrations, "docker:index/volume:Volume", "zkm-dev-nats-data")
    _one(registrations, "docker:index/network:Network", "zkm-dev-network")
    _one(
        registrations, "pulumi-python:dynamic/jetstream:Stream", "zkm-dev-events-stream"
    )
    _one(registrations, "pulumi-python:dynamic/jetstream:Consumer", CONSUMER)


def test_program_with_extra_stream_provisions_it_and_its_consumers() -> None:
    audit = {
        "name": "AUDIT",
        "subjects": ["audit.>"],
        "storage": "memory",
        "maxAge": "1h",
        "keepOnDestroy": True,
        "consumers": [{"name": "archiver", "deliverPolicy": "new"}],
    }

    registrations = _run_program(extraStreams=[audit])

    stream = _one(
        registrations,
        "pulumi-python:dynamic/jetstream:Stream",
        "zkm-dev-stream-AUDIT-stream",
    )
    consumer = _one(
        registrations,
        "pulumi-python:dynamic/jetstream:Consumer",
        "zkm-dev-stream-AUDIT-consumer-archiver",
    )
    events = _one(
        registrations, "pulumi-python:dynamic/jetstream:Stream", "zkm-dev-events-stream"
    )
    assert stream.inputs["subjects"] == ["audit.>"]
    assert stream.inputs["storage"] == "memory"
    assert stream.inputs["max_age"] == 3600
    assert stream.retain_on_delete is True
    assert events.retain_on_delete is False
    assert consumer.inputs["deliver_policy"] == "new"
