"""NATS with JetStream in one container, its file store on a named volume.

The server's configuration is generated here and uploaded into the container before
it starts. Clients must authenticate, each role with its own generated password and
only the permissions it needs: `admin` manages JetStream (provisioning), `publisher`
publishes events, and `centrifugo` reads from its durable consumers only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.service import (
    Port,
    ServiceArgs,
    data_volume,
    http_check,
    local_first_image,
    service_container,
)

# Ports inside the container; the host ports are settings.
CLIENT_PORT = 4222
MONITOR_PORT = 8222
# Where the file store lives inside the container.
STORE_DIR = "/data"
CONFIG_PATH = "/nats-server.conf"
# The name other containers on the stack's network use to reach NATS.
NETWORK_ALIAS = "nats"
ADMIN_USER = "admin"
PUBLISHER_USER = "publisher"
CENTRIFUGO_USER = "centrifugo"
# Replies to requests (JetStream API answers, publish acks, pulled messages) come
# back on inbox subjects. Each user reads only its own inbox, so none sees another's
# replies: admin and publisher clients set these prefixes (nats-py `inbox_prefix`,
# nats.go `nats.CustomInboxPrefix`); Centrifugo, which cannot, keeps the default.
ADMIN_INBOX = "_INBOX_admin"
PUBLISHER_INBOX = "_INBOX_publisher"
CENTRIFUGO_INBOX = "_INBOX"


@dataclass(frozen=True)
class Durable:
    """A durable consumer Centrifugo may read from.

    Attributes:
        stream: The stream's name.
        name: The durable's name.
    """

    stream: str
    name: str


@dataclass(frozen=True)
class NatsPasswords:
    """Plain passwords of the three NATS users, as they go into the config file."""

    admin: str
    publisher: str
    centrifugo: str


def centrifugo_permissions(durables: Sequence[Durable]) -> dict[str, list[str]]:
    """Returns what Centrifugo may do: look up, pull from and ack its durables."""
    publish = ["$JS.API.INFO"]
    for durable in durables:
        publish += [
            f"$JS.API.STREAM.INFO.{durable.stream}",
            f"$JS.API.CONSUMER.INFO.{durable.stream}.{durable.name}",
            f"$JS.API.CONSUMER.MSG.NEXT.{durable.stream}.{durable.name}",
            f"$JS.ACK.{durable.stream}.{durable.name}.>",
        ]
    return {"publish": publish, "subscribe": [f"{CENTRIFUGO_INBOX}.>"]}


def build_config(
    *,
    server_name: str,
    passwords: NatsPasswords,
    event_subjects: Sequence[str],
    durables: Sequence[Durable],
) -> dict[str, object]:
    """Returns nats-server's configuration (JSON, which nats-server reads as is)."""
    return {
        "server_name": server_name,
        "port": CLIENT_PORT,
        "http_port": MONITOR_PORT,
        "jetstream": {"store_dir": STORE_DIR},
        "authorization": {
            "users": [
                {
                    "user": ADMIN_USER,
                    "password": passwords.admin,
                    "permissions": {
                        "publish": ["$JS.API.>"],
                        "subscribe": [f"{ADMIN_INBOX}.>"],
                    },
                },
                {
                    "user": PUBLISHER_USER,
                    "password": passwords.publisher,
                    "permissions": {
                        "publish": list(event_subjects),
                        "subscribe": [f"{PUBLISHER_INBOX}.>"],
                    },
                },
                {
                    "user": CENTRIFUGO_USER,
                    "password": passwords.centrifugo,
                    "permissions": centrifugo_permissions(durables),
                },
            ]
        },
    }


@dataclass(frozen=True)
class NatsServerArgs:
    """Settings of the NATS server.

    Attributes:
        image: Image reference; it must run `nats-server` given only flags and
            provide `wget` for the health check (the official `-alpine` images do).
        running: Whether the container exists; the volume is kept either way.
        keep_volume: Whether `pulumi destroy` leaves the volume (and so the
            streams stored in it) in place.
        network_name: Docker network to join.
        bind_address: Host address both published ports listen on.
        client_port: Host port of the client listener.
        monitor_port: Host port of HTTP monitoring.
        event_subjects: Subjects the publisher user may publish to.
        durables: Durable consumers the centrifugo user may read.
        admin_password: Password of the `admin` user.
        publisher_password: Password of the `publisher` user.
        centrifugo_password: Password of the `centrifugo` user.
        labels: Docker labels put on the container and the volume.
    """

    image: str
    running: bool
    keep_volume: bool
    network_name: pulumi.Input[str]
    bind_address: str
    client_port: int
    monitor_port: int
    event_subjects: Sequence[str]
    durables: Sequence[Durable]
    admin_password: pulumi.Output[str]
    publisher_password: pulumi.Output[str]
    centrifugo_password: pulumi.Output[str]
    labels: Mapping[str, str]


class NatsServer(pulumi.ComponentResource):
    """A NATS server with JetStream enabled and its store on a named volume."""

    TYPE = "zk-messenger:index:NatsServer"

    container_name: pulumi.Output[str] | None
    volume_name: pulumi.Output[str]
    internal_url: str
    container: docker.Container | None

    def __init__(
        self,
        name: str,
        args: NatsServerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        volume = data_volume(name, args.labels, args.keep_volume, parent=self)
        self.volume_name = volume.name
        self.internal_url = f"nats://{NETWORK_ALIAS}:{CLIENT_PORT}"
        self.container = self._container(name, args, volume) if args.running else None
        self.container_name = self.container.name if self.container else None
        self.register_outputs(
            {"container_name": self.container_name, "volume_name": self.volume_name}
        )

    def _container(
        self, name: str, args: NatsServerArgs, volume: docker.Volume
    ) -> docker.Container:
        config = pulumi.Output.all(
            args.admin_password, args.publisher_password, args.centrifugo_password
        ).apply(
            lambda values: json.dumps(
                build_config(
                    server_name=name,
                    passwords=NatsPasswords(*values),
                    event_subjects=args.event_subjects,
                    durables=args.durables,
                ),
                indent=2,
            )
        )
        image = local_first_image(name, args.image, parent=self)
        return service_container(
            name,
            ServiceArgs(
                image=image.image_id,
                command=["--config", CONFIG_PATH],
                config_path=CONFIG_PATH,
                config=config,
                ports=[
                    Port(CLIENT_PORT, args.client_port, args.bind_address),
                    Port(MONITOR_PORT, args.monitor_port, args.bind_address),
                ],
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=volume.name, container_path=STORE_DIR
                    )
                ],
                network_name=args.network_name,
                alias=NETWORK_ALIAS,
                # Healthy only once JetStream has recovered its streams from disk.
                health_check=http_check(f"http://127.0.0.1:{MONITOR_PORT}/healthz"),
                labels=args.labels,
            ),
            parent=self,
        )
