"""``docker:index/container:Container`` in the test stand-in: its lifecycle in Docker.

As in pulumi-docker 5.2.0, a container is created stopped, attached to its
``networksAdvanced`` networks (leaving the default bridge), given its ``uploads``, then
started. With ``wait`` the create waits for the health check to report healthy. A
container that exists but fails to get there is recorded with its outputs and the error,
so ``destroy`` still removes it.

Only ``restart`` and ``mustRun`` (false to true starts the container) are applied in
place; ``healthcheck``, ``wait`` and ``waitTimeout`` are stored; every other field
replaces the container.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import docker
from docker.errors import APIError, DockerException, NotFound

from . import container_spec as spec
from .base import (
    CheckFailure,
    DiffPlan,
    Field,
    ResourceHandler,
    ResourceInitError,
    StandinError,
)
from .wire import Props, is_secret, reveal

POLL_SECONDS = 0.5
"""Pause between two looks at a starting container, in seconds."""

LOG_TAIL_LINES = 40
"""How many of the container's last log lines a failure message shows."""


class ContainerHandler(ResourceHandler):
    """Docker containers with pulumi-docker 5.2.0's create, wait and update rules."""

    token: ClassVar[str] = "docker:index/container:Container"
    fields: ClassVar[tuple[Field, ...]] = spec.FIELDS

    def __init__(self, cancelled: threading.Event) -> None:
        """Share the provider's cancellation flag, which stops any wait.

        Args:
            cancelled: Set when the engine cancels the operation.
        """
        self._cancelled = cancelled

    def complete(self, inputs: Props) -> Props:
        """Fill the nested defaults of ports, the health check and uploads."""
        return spec.fill_defaults(inputs)

    def validate(self, inputs: Props) -> list[CheckFailure]:
        """Refuse bad or unimplemented container inputs."""
        return spec.validate(inputs)

    def diff(self, olds: Props, news: Props) -> DiffPlan:
        """Compare field by field; host ports Docker chose are not a change."""
        return super().diff(olds, with_known_ports(olds, news))

    def create(self, api: docker.APIClient, props: Props) -> tuple[str, Props]:
        """Create, connect, upload into and start the container, then wait for it."""
        plain = reveal(props)
        host_args, create_args = spec.create_arguments(plain)
        host_config = api.create_host_config(**host_args)
        created = api.create_container(host_config=host_config, **create_args)
        container_id: str = created["Id"]
        outputs = {**props, "id": container_id}
        try:
            self._prepare(api, container_id, plain)
            api.start(container_id)
            self._await_ready(api, container_id, plain)
            outputs = with_bound_ports(api, container_id, outputs)
        except (StandinError, DockerException) as exc:
            message = f"Container {plain['name']!r} was created but is not ready: {exc}"
            raise ResourceInitError(message, container_id, outputs) from exc
        return container_id, outputs

    def read(
        self, api: docker.APIClient, resource_id: str, outputs: Props
    ) -> tuple[str, Props] | None:
        """Return the stored outputs, with the restart policy and run state read back.

        A stopped container gets ``mustRun`` false, so that the next update starts it
        again, as upstream does.
        """
        try:
            info = api.inspect_container(resource_id)
        except NotFound:
            return None
        refreshed = dict(outputs)
        if not info["State"].get("Running") and reveal(outputs.get("mustRun")):
            refreshed["mustRun"] = False
        policy = (info["HostConfig"].get("RestartPolicy") or {}).get("Name")
        refreshed["restart"] = policy or "no"
        return resource_id, refreshed

    def update(
        self, api: docker.APIClient, resource_id: str, olds: Props, news: Props
    ) -> Props:
        """Apply a new restart policy, and start the container when it must run."""
        old_plain, new_plain = reveal(olds), reveal(news)
        if old_plain.get("restart") != new_plain["restart"]:
            policy = {"Name": new_plain["restart"], "MaximumRetryCount": 0}
            api.update_container(resource_id, restart_policy=policy)
        if new_plain["mustRun"] and not old_plain.get("mustRun"):
            api.start(resource_id)
        return self.merge_outputs(olds, with_known_ports(olds, news))

    def delete(self, api: docker.APIClient, resource_id: str, outputs: Props) -> bool:
        """Force-remove the container and its anonymous volumes."""
        try:
            api.remove_container(resource_id, v=True, force=True)
        except NotFound:
            return False
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise
        return True

    def _prepare(self, api: docker.APIClient, container_id: str, plain: Props) -> None:
        """Attach the networks and write the uploads, before the first start."""
        networks = plain.get("networksAdvanced") or []
        if networks:
            try:
                api.disconnect_container_from_network(container_id, "bridge")
            except APIError as exc:
                if "is not connected" not in str(exc):
                    raise
        for network in networks:
            aliases = network.get("aliases") or None
            api.connect_container_to_network(
                container_id, network["name"], aliases=aliases
            )
        for upload in plain.get("uploads") or []:
            api.put_archive(container_id, "/", spec.upload_archive(upload))

    def _await_ready(
        self, api: docker.APIClient, container_id: str, plain: Props
    ) -> None:
        """Wait for a healthy state with ``wait``, else check the container runs."""
        if plain["wait"]:
            self._await_healthy(api, container_id, plain)
            return
        if not plain["mustRun"]:
            return
        self._cancelled.wait(POLL_SECONDS)
        state = api.inspect_container(container_id)["State"]
        if not state.get("Running") or state.get("Restarting"):
            reason = f"it stopped right after starting ({exit_text(state)})"
            raise StandinError(failure_text(api, container_id, reason))

    def _await_healthy(
        self, api: docker.APIClient, container_id: str, plain: Props
    ) -> None:
        """Poll the health status until healthy; fail early on what cannot recover."""
        timeout = float(plain["waitTimeout"])
        deadline = time.monotonic() + timeout
        while True:
            state = api.inspect_container(container_id)["State"]
            reason = unready_reason(state)
            if reason is None:
                return
            if reason or time.monotonic() > deadline:
                reason = reason or f"it was not healthy within {timeout:g}s"
                raise StandinError(failure_text(api, container_id, reason))
            if self._cancelled.wait(POLL_SECONDS):
                raise StandinError("the operation was cancelled while waiting")


def unready_reason(state: dict[str, Any]) -> str | None:
    """Why a container cannot become healthy: ``None`` when healthy, ``""`` if starting.

    Args:
        state: The ``State`` member of the container's inspect data.

    Returns:
        ``None`` for a healthy container, ``""`` while its health check is starting,
        else a reason that waiting longer will not fix.
    """
    health = state.get("Health")
    if health is None:
        return (
            "wait is true but the container has no health check; add a healthcheck "
            "or remove wait"
        )
    if not state.get("Running") or state.get("Restarting"):
        return f"it stopped ({exit_text(state)})"
    status = health.get("Status")
    if status == "healthy":
        return None
    if status == "unhealthy":
        return "its health check reports 'unhealthy'"
    return ""


def exit_text(state: dict[str, Any]) -> str:
    """Describe how a container ended, e.g. ``exit code 1: <error>``."""
    text = f"exit code {state.get('ExitCode')}"
    if state.get("Error"):
        text += f": {state['Error']}"
    return text


def failure_text(api: docker.APIClient, container_id: str, reason: str) -> str:
    """A failure message with the last health check output and the log tail."""
    info = api.inspect_container(container_id)
    checks = (info["State"].get("Health") or {}).get("Log") or []
    last_check = checks[-1].get("Output", "").strip() if checks else "(none ran)"
    try:
        raw_logs = api.logs(container_id, tail=LOG_TAIL_LINES)
        logs = raw_logs.decode(errors="replace").rstrip() or "(empty)"
    except DockerException as exc:
        logs = f"(could not read the logs: {exc})"
    return (
        f"{reason}.\n"
        f"Last health check output: {last_check}\n"
        f"Last {LOG_TAIL_LINES} log lines:\n{logs}"
    )


def with_known_ports(olds: Props, news: Props) -> Props:
    """New inputs whose ports without ``external`` keep the host port Docker chose.

    Args:
        olds: The stored outputs, whose ports carry the bound host ports.
        news: The checked new inputs.

    Returns:
        ``news`` with each such port completed from the same port in ``olds``.
    """
    old_ports, new_ports = olds.get("ports"), news.get("ports")
    if not isinstance(old_ports, list) or not isinstance(new_ports, list):
        return news
    olds_padded = [*old_ports, *([None] * len(new_ports))]
    completed = [
        _known_port(old, new) for old, new in zip(olds_padded, new_ports, strict=False)
    ]
    return {**news, "ports": completed}


def _known_port(old: Any, new: Any) -> Any:
    """Give ``new`` the host port of ``old`` when it leaves it out and is the same."""
    if not isinstance(new, dict) or "external" in new or not isinstance(old, dict):
        return new
    if {key: value for key, value in old.items() if key != "external"} != new:
        return new
    return {**new, "external": old.get("external")}


def with_bound_ports(api: docker.APIClient, container_id: str, outputs: Props) -> Props:
    """Outputs whose ports without ``external`` show the host port Docker bound."""
    ports = outputs.get("ports")
    if not isinstance(ports, list) or all(
        is_secret(port) or "external" in port for port in ports
    ):
        return outputs
    bound = api.inspect_container(container_id)["NetworkSettings"]["Ports"] or {}
    return {**outputs, "ports": [_bound_port(port, bound) for port in ports]}


def _bound_port(port: Any, bound: dict[str, Any]) -> Any:
    """Give a port without ``external`` the first host port Docker bound for it."""
    if is_secret(port) or "external" in port:
        return port
    key = f"{int(port['internal'])}/{port['protocol']}"
    hosts = [host for host in bound.get(key) or [] if host.get("HostPort")]
    if not hosts:
        return port
    return {**port, "external": int(hosts[0]["HostPort"])}
