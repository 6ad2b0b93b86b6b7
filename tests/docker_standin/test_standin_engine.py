"""End-to-end tests: a pulumi_docker program through the real engine and the stand-in.

An inline Automation API program declares a Network, a Volume, a RemoteImage of a
locally built image and a Container using every implemented container feature. The real
Pulumi CLI runs it with the stand-in installed into a temporary ``PULUMI_HOME``, a
temporary file backend and the offline settings; the tests then look at Docker itself.

The CLI is found through ``ZKM_PULUMI_DIR`` (its ``bin`` folder, as written by
``tests/env/prepare.sh``), else under ``~/.cache/zk-messenger/pulumi/*/bin``.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pulumi
import pulumi_docker as pd
import pytest
from docker.errors import NotFound
from pulumi import automation as auto

from .install import install
from .wire import SECRET_SIG, SIG_KEY

pytestmark = pytest.mark.e2e

PAGE = "standin e2e page: secret-7c1f"
"""The uploaded page, passed as a secret: it must reach the container, not the state."""


def pulumi_cli_root() -> Path:
    """The folder whose ``bin/pulumi`` is the CLI to run; fails clearly if missing."""
    configured = os.environ.get("ZKM_PULUMI_DIR")
    cache = Path(os.environ.get("ZKM_CACHE_DIR", Path.home() / ".cache/zk-messenger"))
    candidates = [Path(configured)] if configured else []
    candidates += sorted(cache.glob("pulumi/*/bin"), reverse=True)
    for bin_dir in candidates:
        if (bin_dir / "pulumi").is_file():
            return bin_dir.parent
    pytest.fail(
        "no Pulumi CLI found (ZKM_PULUMI_DIR unset and nothing under "
        f"{cache}/pulumi/*/bin); run tests/env/prepare.sh to build it."
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Knobs:
    """What the inline program declares; tests change it between operations.

    Attributes:
        prefix: Prefix of every Docker name, unique per test.
        image: The local image the RemoteImage names.
        port: The host port on 127.0.0.1 published for the container's port 8080.
        restart: The container's restart policy (changed in place).
        envs: The container's environment (a change replaces the container).
        health_test: The health check command.
        wait_timeout: Seconds ``wait`` gives the container to become healthy.
    """

    prefix: str
    image: str
    port: int
    restart: str = "unless-stopped"
    envs: list[str] = field(default_factory=lambda: ["MODE=one"])
    health_test: list[str] = field(
        default_factory=lambda: [
            "CMD",
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:8080/",
        ]
    )
    wait_timeout: int = 30


def make_program(knobs: Knobs) -> Callable[[], None]:
    """The inline Pulumi program, reading ``knobs`` each time it runs."""

    def program() -> None:
        network = pd.Network(
            "net",
            name=f"{knobs.prefix}-net",
            labels=[pd.NetworkLabelArgs(label="purpose", value="standin-e2e")],
        )
        volume = pd.Volume("vol", name=f"{knobs.prefix}-vol")
        image = pd.RemoteImage("img", name=knobs.image, keep_locally=True)
        container = pd.Container(
            "web",
            name=f"{knobs.prefix}-web",
            image=image.image_id,
            command=["sh", "-c", "exec httpd -f -p 8080 -h /www"],
            envs=knobs.envs,
            ports=[
                pd.ContainerPortArgs(internal=8080, external=knobs.port, ip="127.0.0.1")
            ],
            volumes=[
                pd.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")
            ],
            networks_advanced=[
                pd.ContainerNetworksAdvancedArgs(
                    name=network.name, aliases=["web-alias"]
                )
            ],
            uploads=[
                pd.ContainerUploadArgs(
                    file="/www/index.html", content=pulumi.Output.secret(PAGE)
                )
            ],
            healthcheck=pd.ContainerHealthcheckArgs(
                tests=knobs.health_test, interval="500ms", timeout="2s", retries=2
            ),
            wait=True,
            wait_timeout=knobs.wait_timeout,
            restart=knobs.restart,
        )
        pulumi.export("container_id", container.id)
        pulumi.export("image_id", image.image_id)

    return program


@dataclass(frozen=True)
class EngineRun:
    """A stack driven by the tests, what its program declares, and its backend."""

    stack: auto.Stack
    knobs: Knobs
    backend: Path


@pytest.fixture
def run(
    tmp_path: Path,
    busybox_image: str,
    name_prefix: str,
) -> Iterator[EngineRun]:
    """A stack on a temporary file backend running the stand-in; destroyed after."""
    cli_root = pulumi_cli_root()
    pulumi_home = tmp_path / "pulumi-home"
    install(pulumi_home, sys.executable)
    backend = tmp_path / "backend"
    backend.mkdir()
    knobs = Knobs(prefix=name_prefix, image=busybox_image, port=free_port())
    options = auto.LocalWorkspaceOptions(
        work_dir=str(tmp_path),
        pulumi_home=str(pulumi_home),
        pulumi_command=auto.PulumiCommand(root=str(cli_root)),
        env_vars={
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        },
        project_settings=auto.ProjectSettings(
            name="standin-e2e",
            runtime="python",
            backend=auto.ProjectBackend(url=backend.as_uri()),
        ),
    )
    stack = auto.create_or_select_stack(
        stack_name="e2e",
        project_name="standin-e2e",
        program=make_program(knobs),
        opts=options,
    )
    yield EngineRun(stack, knobs, backend)
    stack.destroy(on_output=print)
    stack.workspace.remove_stack("e2e")


def non_same(changes: Mapping[Any, int] | None) -> dict[Any, int]:
    """The counts of an operation summary other than "same" (keys are str enums)."""
    return {op: n for op, n in (changes or {}).items() if op != "same" and n}


@dataclass(frozen=True)
class LiveContainer:
    """What the tests check on the container in Docker."""

    id: str
    health: str
    restart: str
    networks: dict[str, list[str]]
    mounts: dict[str, str | None]


def live_container(client: docker.DockerClient, name: str) -> LiveContainer:
    """Inspect the container called ``name``."""
    attrs = client.api.inspect_container(name)
    networks = attrs["NetworkSettings"]["Networks"]
    return LiveContainer(
        id=attrs["Id"],
        health=attrs["State"]["Health"]["Status"],
        restart=attrs["HostConfig"]["RestartPolicy"]["Name"],
        networks={net: sorted(s.get("Aliases") or []) for net, s in networks.items()},
        mounts={mount["Destination"]: mount.get("Name") for mount in attrs["Mounts"]},
    )


def assert_upload_stays_secret(run: EngineRun) -> None:
    """The upload content is a secret in the state, and never stored in plaintext."""
    stored = [path.read_text() for path in run.backend.rglob("*.json")]
    deployment = run.stack.export_stack().deployment or {}
    (web,) = [
        resource
        for resource in deployment.get("resources", [])
        if resource["type"] == "docker:index/container:Container"
    ]
    content = web["outputs"]["uploads"][0]["content"]
    assert stored
    assert not any(PAGE in text for text in stored)
    assert isinstance(content, dict)
    assert content.get(SIG_KEY) == SECRET_SIG


def test_program_runs_through_engine_with_pulumi_docker_semantics(
    run: EngineRun, docker_client: docker.DockerClient
) -> None:
    stack, knobs = run.stack, run.knobs
    web, net, vol = (f"{knobs.prefix}-{kind}" for kind in ("web", "net", "vol"))

    # A first preview sees unknown ids and touches nothing in Docker.
    assert non_same(stack.preview(on_output=print).change_summary) == {"create": 5}
    with pytest.raises(NotFound):
        docker_client.networks.get(net)

    # Create: healthy, published on loopback, attached and mounted, upload in place.
    created = stack.up(on_output=print)
    live = live_container(docker_client, web)
    assert non_same(created.summary.resource_changes).get("create", 0) >= 4
    assert (live.health, live.restart) == ("healthy", "unless-stopped")
    assert live.mounts == {"/data": vol}
    assert list(live.networks) == [net]
    assert "web-alias" in live.networks[net]
    with urllib.request.urlopen(f"http://127.0.0.1:{knobs.port}/", timeout=5) as page:
        assert page.read().decode() == PAGE
    assert_upload_stays_secret(run)
    assert created.outputs["container_id"].value == live.id

    # A second update with nothing changed changes nothing.
    assert non_same(stack.up(on_output=print).summary.resource_changes) == {}

    # A replace-only field previews as a replacement.
    knobs.envs = ["MODE=two"]
    assert non_same(stack.preview(on_output=print).change_summary) == {"replace": 1}
    knobs.envs = ["MODE=one"]

    # The restart policy is updated in place: same container.
    knobs.restart = "always"
    updated = stack.up(on_output=print)
    assert non_same(updated.summary.resource_changes) == {"update": 1}
    after = live_container(docker_client, web)
    assert (after.id, after.restart) == (live.id, "always")

    # A container removed behind Pulumi's back is found gone by a refresh.
    docker_client.api.remove_container(web, force=True)
    refreshed = stack.refresh(on_output=print)
    assert non_same(refreshed.summary.resource_changes) == {"delete": 1}
    assert non_same(stack.up(on_output=print).summary.resource_changes) == {"create": 1}

    # Destroy removes the container, network and volume and keeps the image.
    stack.destroy(on_output=print)
    for kind, name in (("containers", web), ("networks", net), ("volumes", vol)):
        with pytest.raises(NotFound):
            getattr(docker_client, kind).get(name)
    assert docker_client.images.get(knobs.image)


def test_failed_health_wait_fails_the_update_and_destroy_cleans_up(
    run: EngineRun, docker_client: docker.DockerClient
) -> None:
    stack, knobs = run.stack, run.knobs
    knobs.health_test = ["CMD-SHELL", "echo probe-says-no; exit 1"]
    knobs.wait_timeout = 20

    with pytest.raises(auto.CommandError) as failure:
        stack.up(on_output=print)

    assert "probe-says-no" in str(failure.value)
    assert docker_client.containers.get(f"{knobs.prefix}-web")
    stack.destroy(on_output=print)
    with pytest.raises(NotFound):
        docker_client.containers.get(f"{knobs.prefix}-web")
