"""The one way this stack runs a service in Docker.

Both services get the same treatment: a configuration file uploaded (as a secret)
before the container starts, a health check the deployment waits for, a restart
policy, labels, and replacement delete-first because the container name is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

# How long `up` waits for a new container to report healthy, in seconds.
HEALTHY_WITHIN = 120


def http_check(url: str) -> list[str]:
    """Returns a health check that passes when `url` answers 200.

    The official images carry wget from Alpine, the test images from busybox.
    """
    return ["CMD", "wget", "-q", "--spider", url]


@dataclass(frozen=True)
class Port:
    """A container port published on the host.

    Attributes:
        internal: Port inside the container.
        external: Port on the host.
        ip: Host address it listens on.
    """

    internal: int
    external: int
    ip: str


@dataclass(frozen=True)
class ServiceArgs:
    """What differs between the stack's services.

    Attributes:
        image: Image ID or reference.
        command: Arguments after the entrypoint.
        config_path: Where the configuration file goes inside the container.
        config: The configuration file's content; kept secret in the state.
        ports: Published ports.
        network_name: Docker network to join.
        alias: Name other containers on the network use.
        health_check: Command run inside the container; exit 0 means healthy.
        labels: Docker labels.
        entrypoints: Replaces the image's entrypoint when given.
        volumes: Named volumes to mount.
    """

    image: pulumi.Input[str]
    command: Sequence[str]
    config_path: str
    config: pulumi.Input[str]
    ports: Sequence[Port]
    network_name: pulumi.Input[str]
    alias: str
    health_check: Sequence[str]
    labels: Mapping[str, str]
    entrypoints: Sequence[str] | None = None
    volumes: Sequence[docker.ContainerVolumeArgs] = ()


def data_volume(
    name: str, labels: Mapping[str, str], keep: bool, parent: pulumi.Resource
) -> docker.Volume:
    """Returns the named volume `{name}-data`, kept on destroy when `keep`.

    A service's data outlives its container: stopping the services keeps it.
    """
    return docker.Volume(
        f"{name}-data",
        name=f"{name}-data",
        labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in labels.items()],
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=keep),
    )


def local_first_image(
    name: str, image: str, parent: pulumi.Resource
) -> docker.RemoteImage:
    """Returns the image `image`, used as found locally and never removed on destroy."""
    return docker.RemoteImage(
        f"{name}-image",
        name=image,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def service_container(
    name: str,
    args: ServiceArgs,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    """Returns a running, healthy container named `name`."""
    return docker.Container(
        name,
        name=name,
        image=args.image,
        entrypoints=list(args.entrypoints) if args.entrypoints else None,
        command=list(args.command),
        uploads=[
            docker.ContainerUploadArgs(
                file=args.config_path, content=pulumi.Output.secret(args.config)
            )
        ],
        ports=[
            docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=p.ip)
            for p in args.ports
        ],
        volumes=list(args.volumes) or None,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(
                name=args.network_name, aliases=[args.alias]
            )
        ],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(args.health_check),
            interval="2s",
            timeout="2s",
            retries=15,
            start_period="1s",
        ),
        restart="unless-stopped",
        wait=True,
        wait_timeout=HEALTHY_WITHIN,
        labels=[
            docker.ContainerLabelArgs(label=k, value=v) for k, v in args.labels.items()
        ],
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            # pulumi-docker stores a changed health check without applying it.
            replace_on_changes=["healthcheck"],
            # The fixed name cannot be held by two containers at once.
            delete_before_replace=True,
        ),
    )
