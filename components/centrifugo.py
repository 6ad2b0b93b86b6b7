"""Centrifugo v6 in one container, configured from the stack's settings.

The configuration is generated here, uploaded into the container before it starts,
and kept secret in the state because it carries the HMAC key, the API key and the
admin credentials. Centrifugo reads events from the durable JetStream consumer that
`bootstrap` provisions; it only looks that consumer up (`use_existing_consumer`), so
the stack is the consumer's one owner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from components.service import (
    Port,
    ServiceArgs,
    http_check,
    local_first_image,
    service_container,
)
from components.settings import PersonalNamespaceSettings

# Ports inside the container; the host ports are settings.
CLIENT_PORT = 8000
INTERNAL_PORT = 9000
CONFIG_PATH = "/centrifugo/config.json"
# The official image and the test image both keep the binary here.
BINARY = "/usr/local/bin/centrifugo"
PERSONAL_NAMESPACE = "personal"
# Name of the consumer entry inside Centrifugo's configuration.
CONSUMER_ENTRY = "events"


@dataclass(frozen=True)
class ConsumerBinding:
    """The JetStream consumer Centrifugo reads from.

    Attributes:
        nats_url: NATS URL as seen from inside the Docker network.
        stream_name: Stream the durable belongs to.
        subjects: The stream's subjects.
        durable_name: The durable consumer, which must already exist.
        deliver_policy: The durable's deliver policy.
        max_ack_pending: The durable's max ack pending.
        nats_user: NATS user Centrifugo authenticates as.
    """

    nats_url: str
    stream_name: str
    subjects: tuple[str, ...]
    durable_name: str
    deliver_policy: str
    max_ack_pending: int
    nats_user: str


@dataclass(frozen=True)
class CentrifugoSecrets:
    """Plain secret values, as they go into the configuration file."""

    token_hmac_secret: str
    api_key: str
    admin_password: str
    admin_secret: str
    nats_password: str
    redis_password: str


def _duration(seconds: float) -> str:
    # Whole milliseconds: Go durations take no exponent, and `:g` would round.
    return f"{round(seconds * 1000)}ms"


def build_config(
    *,
    redis_url: str,
    consumer: ConsumerBinding,
    personal: PersonalNamespaceSettings,
    allowed_origins: tuple[str, ...],
    log_level: str,
    secrets: CentrifugoSecrets,
) -> dict[str, Any]:
    """Returns Centrifugo's configuration as a JSON-ready dict (v6 key names)."""
    return {
        "log": {"level": log_level},
        "http_server": {
            "port": CLIENT_PORT,
            # The API, admin UI, metrics and health answer on this port only, so
            # they can be published on loopback while clients reach the main one.
            "internal_port": str(INTERNAL_PORT),
        },
        "client": {
            "token": {"hmac_secret_key": secrets.token_hmac_secret},
            # A signed token with an empty `sub` would otherwise connect anonymously.
            "disallow_anonymous_connection_tokens": True,
            "allowed_origins": list(allowed_origins),
            "subscribe_to_user_personal_channel": {
                "enabled": True,
                "personal_channel_namespace": PERSONAL_NAMESPACE,
            },
        },
        "channel": {
            "namespaces": [
                {
                    "name": PERSONAL_NAMESPACE,
                    "presence": personal.presence,
                    "history_size": personal.history_size,
                    "history_ttl": _duration(personal.history_ttl),
                    "force_recovery": personal.force_recovery,
                    # Only the user named after '#' may subscribe to personal:#user.
                    "allow_user_limited_channels": True,
                }
            ]
        },
        "websocket": {"disabled": False},
        "uni_sse": {"enabled": True},
        "http_api": {"key": secrets.api_key},
        "admin": {
            "enabled": True,
            "password": secrets.admin_password,
            "secret": secrets.admin_secret,
        },
        "health": {"enabled": True},
        "prometheus": {"enabled": True},
        # Centrifugo would otherwise report usage to its authors over the internet.
        "usage_stats": {"disabled": True},
        # History in Redis outlives a Centrifugo restart: events the consumer hands
        # over before clients re-subscribe are there when they recover.
        "engine": {
            "type": "redis",
            "redis": {"address": [redis_url], "password": secrets.redis_password},
        },
        "consumers": [
            {
                "name": CONSUMER_ENTRY,
                "enabled": True,
                "type": "nats_jetstream",
                "nats_jetstream": {
                    "url": consumer.nats_url,
                    "username": consumer.nats_user,
                    "password": secrets.nats_password,
                    "stream_name": consumer.stream_name,
                    "subjects": list(consumer.subjects),
                    "durable_consumer_name": consumer.durable_name,
                    "use_existing_consumer": True,
                    "deliver_policy": consumer.deliver_policy,
                    "max_ack_pending": consumer.max_ack_pending,
                },
            }
        ],
    }


@dataclass(frozen=True)
class CentrifugoArgs:
    """Settings of the Centrifugo container.

    Attributes:
        image: Image reference; it must keep the binary at /usr/local/bin/centrifugo
            and provide `wget` for the health check (the official image does).
        network_name: Docker network to join.
        bind_address: Host address of the API, admin UI, metrics and health port.
        client_bind_address: Host address of the WebSocket and SSE port.
        port: Host port of the WebSocket and SSE endpoints.
        internal_port: Host port of the API, admin UI, metrics and health.
        consumer: The JetStream consumer to read events from.
        redis_url: Redis holding channel history, as seen from the network.
        start_after: The provisioned consumer and the NATS container;
            Centrifugo starts after they exist.
        personal: Options of the `personal` namespace.
        allowed_origins: Browser origins accepted.
        log_level: Centrifugo log level.
        token_hmac_secret: HMAC key of client connection tokens.
        api_key: Key of the HTTP API.
        admin_password: Password of the admin web UI.
        admin_secret: Key signing admin UI sessions.
        nats_password: Password of Centrifugo's NATS user.
        redis_password: Password of Redis.
        labels: Docker labels put on the container.
    """

    image: str
    network_name: pulumi.Input[str]
    bind_address: str
    client_bind_address: str
    port: int
    internal_port: int
    consumer: ConsumerBinding
    redis_url: str
    start_after: Sequence[pulumi.Resource]
    personal: PersonalNamespaceSettings
    allowed_origins: tuple[str, ...]
    log_level: str
    token_hmac_secret: pulumi.Output[str]
    api_key: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    admin_secret: pulumi.Output[str]
    nats_password: pulumi.Output[str]
    redis_password: pulumi.Output[str]
    labels: Mapping[str, str]


class Centrifugo(pulumi.ComponentResource):
    """A Centrifugo v6 server delivering JetStream events to user channels."""

    TYPE = "zk-messenger:index:Centrifugo"

    container_name: pulumi.Output[str]
    container: docker.Container

    def __init__(
        self,
        name: str,
        args: CentrifugoArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)

        config = pulumi.Output.all(
            args.token_hmac_secret,
            args.api_key,
            args.admin_password,
            args.admin_secret,
            args.nats_password,
            args.redis_password,
        ).apply(
            lambda values: json.dumps(
                build_config(
                    redis_url=args.redis_url,
                    consumer=args.consumer,
                    personal=args.personal,
                    allowed_origins=args.allowed_origins,
                    log_level=args.log_level,
                    secrets=CentrifugoSecrets(*values),
                ),
                indent=2,
                sort_keys=True,
            )
        )
        image = local_first_image(name, args.image, parent=self)
        self.container = service_container(
            name,
            ServiceArgs(
                image=image.image_id,
                entrypoints=[BINARY],
                command=["--config", CONFIG_PATH],
                config_path=CONFIG_PATH,
                config=config,
                ports=[
                    Port(CLIENT_PORT, args.port, args.client_bind_address),
                    Port(INTERNAL_PORT, args.internal_port, args.bind_address),
                ],
                network_name=args.network_name,
                alias="centrifugo",
                health_check=http_check(f"http://127.0.0.1:{INTERNAL_PORT}/health"),
                labels=args.labels,
            ),
            parent=self,
            # The consumer must exist: Centrifugo exits at start without it.
            depends_on=args.start_after,
        )

        self.container_name = self.container.name
        self.register_outputs({"container_name": self.container_name})
