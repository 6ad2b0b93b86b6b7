"""Fixtures of the end-to-end tier."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the Docker engine the stacks are deployed on."""
    client = docker.from_env()
    yield client
    client.close()
