"""Fixtures and markers of the stand-in's own tests.

The markers are declared here too, so that the folder also runs on its own.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException

BUSYBOX = Path("/bin/busybox")
"""Debian busybox-static: one static binary, enough for a shell and an HTTP server."""

IMAGE_TAG = "zkm-test/standin-busybox:1"
"""The tiny image the stand-in's tests run, built locally FROM scratch."""

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh", "-c", "exec sleep 3600"]
"""


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers used in this folder (harmless if declared again)."""
    config.addinivalue_line("markers", "unit: pure logic, no Docker and no CLI")
    config.addinivalue_line(
        "markers", "integration: needs a running Docker engine, no Pulumi CLI"
    )
    config.addinivalue_line(
        "markers", "e2e: needs the Pulumi CLI and a running Docker engine"
    )


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the local Docker engine; fails clearly when none runs."""
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        pytest.fail(
            f"no Docker engine answers ({exc}); run tests/env/prepare.sh to start one."
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Build the tiny busybox image locally (never pulled) and return its tag."""
    if not BUSYBOX.is_file():
        pytest.fail(f"{BUSYBOX} is missing; install Debian's busybox-static package.")
    context = tmp_path_factory.mktemp("standin-image")
    shutil.copy(BUSYBOX, context / "busybox")
    (context / "Dockerfile").write_text(DOCKERFILE)
    docker_client.images.build(path=str(context), tag=IMAGE_TAG, rm=True, pull=False)
    return IMAGE_TAG


@pytest.fixture
def name_prefix(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique name prefix; containers, networks and volumes with it are removed."""
    prefix = f"standin-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    for container in docker_client.containers.list(all=True, filters={"name": prefix}):
        container.remove(force=True, v=True)
    for network in docker_client.networks.list(filters={"name": prefix}):
        network.remove()
    for volume in docker_client.volumes.list(filters={"name": prefix}):
        volume.remove(force=True)
