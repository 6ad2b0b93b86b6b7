"""Redis, where Centrifugo keeps channel history, so that it outlives Centrifugo.

With Centrifugo's default memory engine, history dies with the process: events the
durable consumer hands over after a restart, before clients re-subscribe, would
reach no one. Kept in Redis (appended to a file on a named volume), they are there
when clients come back and recover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.service import (
    ServiceArgs,
    data_volume,
    local_first_image,
    service_container,
)

PORT = 6379
DATA_DIR = "/data"
CONFIG_PATH = "/redis.conf"
NETWORK_ALIAS = "redis"


def build_config(password: str) -> str:
    """Returns redis.conf: persistence on, a password required."""
    return "\n".join(
        [
            f"port {PORT}",
            f"dir {DATA_DIR}",
            # Every write is appended to disk once a second at most late.
            "appendonly yes",
            "appendfsync everysec",
            f'requirepass "{password}"',
            "",
        ]
    )


@dataclass(frozen=True)
class RedisArgs:
    """Settings of the Redis server.

    Attributes:
        image: Image reference with `redis-server`, `redis-cli`, `sh` and `grep`
            (the official `-alpine` images have them).
        network_name: Docker network to join; Redis publishes no port.
        password: Password clients authenticate with.
        running: Whether the container exists; the volume is kept either way.
        keep_volume: Whether `pulumi destroy` leaves the volume in place.
        labels: Docker labels put on the container and the volume.
    """

    image: str
    network_name: pulumi.Input[str]
    password: pulumi.Output[str]
    running: bool
    keep_volume: bool
    labels: Mapping[str, str]


class Redis(pulumi.ComponentResource):
    """A password-protected Redis appending its data to a named volume."""

    TYPE = "zk-messenger:index:Redis"

    container: docker.Container | None
    volume_name: pulumi.Output[str]
    url: str

    def __init__(
        self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        volume = data_volume(name, args.labels, args.keep_volume, parent=self)
        self.volume_name = volume.name
        self.url = f"redis://{NETWORK_ALIAS}:{PORT}"
        self.container = self._container(name, args, volume) if args.running else None
        self.register_outputs({"volume_name": self.volume_name})

    def _container(
        self, name: str, args: RedisArgs, volume: docker.Volume
    ) -> docker.Container:
        image = local_first_image(name, args.image, parent=self)
        return service_container(
            name,
            ServiceArgs(
                image=image.image_id,
                entrypoints=["redis-server"],
                command=[CONFIG_PATH],
                config_path=CONFIG_PATH,
                config=args.password.apply(build_config),
                ports=[],
                volumes=[
                    docker.ContainerVolumeArgs(
                        volume_name=volume.name, container_path=DATA_DIR
                    )
                ],
                network_name=args.network_name,
                alias=NETWORK_ALIAS,
                # Up once it answers, even if only to say a password is needed: the
                # check then needs no secret in the container's settings.
                health_check=[
                    "CMD-SHELL",
                    "redis-cli ping 2>&1 | grep -q -e PONG -e NOAUTH",
                ],
                labels=args.labels,
            ),
            parent=self,
        )
