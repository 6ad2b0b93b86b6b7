"""NATS with JetStream in one container, its file store on a named volume."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

# Ports inside the container; the host ports are settings.
CLIENT_PORT = 4222
MONITOR_PORT = 8222
# Where the file store lives inside the container.
STORE_DIR = "/data"
# The name other containers on the stack's network use to reach NATS.
NETWORK_ALIAS = "nats"


@dataclass(frozen=True)
class NatsServerArgs:
    """Settings of the NATS server.

    Attributes:
        image: Image reference; it must run `nats-server` given only flags and
            provide `wget` for the health check (the official `-alpine` images do).
        network_name: Docker network to join.
        bind_address: Host address both published ports listen on.
        client_port: Host port of the client listener.
        monitor_port: Host port of HTTP monitoring.
        labels: Docker labels put on the container and the volume.
    """

    image: str
    network_name: pulumi.Input[str]
    bind_address: str
    client_port: int
    monitor_port: int
    labels: Mapping[str, str]


class NatsServer(pulumi.ComponentResource):
    """A NATS server with JetStream enabled and its store on a named volume."""

    TYPE = "zk-messenger:index:NatsServer"

    container_name: pulumi.Output[str]
    volume_name: pulumi.Output[str]
    internal_url: str
    container: docker.Container

    def __init__(
        self,
        name: str,
        args: NatsServerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        volume = docker.Volume(
            f"{name}-data",
            name=f"{name}-data",
            labels=[
                docker.VolumeLabelArgs(label=k, value=v) for k, v in args.labels.items()
            ],
            opts=child,
        )
        image = docker.RemoteImage(
            f"{name}-image", name=args.image, keep_locally=True, opts=child
        )
        self.container = docker.Container(
            name,
            name=name,
            image=image.image_id,
            command=[
                "--jetstream",
                "--store_dir",
                STORE_DIR,
                "--http_port",
                str(MONITOR_PORT),
                "--server_name",
                name,
            ],
            ports=[
                docker.ContainerPortArgs(
                    internal=CLIENT_PORT,
                    external=args.client_port,
                    ip=args.bind_address,
                ),
                docker.ContainerPortArgs(
                    internal=MONITOR_PORT,
                    external=args.monitor_port,
                    ip=args.bind_address,
                ),
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=volume.name, container_path=STORE_DIR
                )
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=args.network_name, aliases=[NETWORK_ALIAS]
                )
            ],
            healthcheck=docker.ContainerHealthcheckArgs(
                # Healthy only once JetStream has recovered its streams from disk.
                tests=[
                    "CMD",
                    "wget",
                    "-q",
                    "--spider",
                    f"http://127.0.0.1:{MONITOR_PORT}/healthz",
                ],
                interval="2s",
                timeout="2s",
                retries=15,
                start_period="1s",
            ),
            restart="unless-stopped",
            wait=True,
            wait_timeout=120,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in args.labels.items()
            ],
            # pulumi-docker stores a changed health check without applying it.
            opts=pulumi.ResourceOptions(
                parent=self,
                replace_on_changes=["healthcheck"],
                # The fixed name cannot be held by two containers at once.
                delete_before_replace=True,
            ),
        )

        self.container_name = self.container.name
        self.volume_name = volume.name
        self.internal_url = f"nats://{NETWORK_ALIAS}:{CLIENT_PORT}"
        self.register_outputs(
            {"container_name": self.container_name, "volume_name": self.volume_name}
        )
