"""Pulumi resources for a JetStream stream and a durable consumer.

Each resource passes its declared fields to a provider in `bootstrap.provider`.
Durations are in seconds; a field left as None is not declared, so the server's
value is kept and never shows as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from bootstrap.provider import ConsumerProvider, StreamProvider


@dataclass(frozen=True)
class ConnectionArgs:
    """How provisioning reaches JetStream; credentials are kept secret in the state.

    Attributes:
        servers: NATS URLs as seen from the machine running Pulumi.
        timeout: Seconds to wait for JetStream to answer before failing.
        user: User name, with `password`.
        password: Password of `user`.
        token: Authentication token, instead of a user.
        credentials_file: Path of a `.creds` file.
        tls_ca_file: CA bundle to verify the server with; turns TLS on.
        tls_cert_file: Client certificate.
        tls_key_file: Key of the client certificate.
        inbox_prefix: Subject prefix of replies, for servers that give each user
            its own inbox.
    """

    servers: pulumi.Input[list[str]]
    timeout: float = 60.0
    user: pulumi.Input[str] | None = None
    password: pulumi.Input[str] | None = None
    token: pulumi.Input[str] | None = None
    credentials_file: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    inbox_prefix: str | None = None


@dataclass(frozen=True)
class StreamArgs:
    """A stream's declared fields (nats-py names; durations in seconds)."""

    connection: ConnectionArgs
    stream_name: str
    subjects: list[str]
    allow_data_loss: bool = False
    keep_on_destroy: bool = False
    storage: str = "file"
    retention: str | None = "limits"
    discard: str | None = None
    description: str | None = None
    max_age: float | None = None
    max_bytes: int | None = None
    max_msgs: int | None = None
    max_msg_size: int | None = None
    duplicate_window: float | None = None
    num_replicas: int | None = None


def stream_identity(args: StreamArgs) -> str:
    """Returns what changes exactly when the server must replace the stream.

    A consumer takes it as an input, so it is replaced along with its stream; it
    is known before deployment, so `preview` shows both replacements.
    """
    workqueue = "workqueue" if args.retention == "workqueue" else "no-workqueue"
    return f"{args.stream_name}/{args.storage}/{workqueue}"


@dataclass(frozen=True)
class ConsumerArgs:
    """A durable pull consumer's declared fields (durations in seconds)."""

    connection: ConnectionArgs
    stream_name: pulumi.Input[str]
    stream_identity: str
    durable_name: str
    deliver_policy: str = "all"
    ack_policy: str = "explicit"
    replay_policy: str | None = None
    description: str | None = None
    ack_wait: float | None = None
    max_deliver: int | None = None
    max_ack_pending: int | None = None
    filter_subjects: list[str] | None = None


def _shallow(args: Any) -> dict[str, Any]:
    # dataclasses.asdict would deep-copy the Outputs inside.
    values = {field.name: getattr(args, field.name) for field in fields(args)}
    return {key: value for key, value in values.items() if value is not None}


def _props(args: StreamArgs | ConsumerArgs) -> dict[str, Any]:
    props = _shallow(args)
    # Secret as a whole: it may carry a password or a token.
    props["connection"] = pulumi.Output.secret(_shallow(args.connection))
    # Pulumi's own option, not something the server sees.
    props.pop("keep_on_destroy", None)
    return props


class Stream(Resource, module="jetstream", name="Stream"):
    """A JetStream stream, adopted when it already exists."""

    stream_name: pulumi.Output[str]
    subjects: pulumi.Output[list[str]]
    storage: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: StreamArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(retain_on_delete=args.keep_on_destroy)
        )
        super().__init__(StreamProvider(), resource_name, _props(args), opts)


class Consumer(Resource, module="jetstream", name="Consumer"):
    """A durable JetStream consumer, adopted when it already exists."""

    stream_name: pulumi.Output[str]
    durable_name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: ConsumerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(ConsumerProvider(), resource_name, _props(args), opts)
