"""Integration tests: the installed stand-in plugin, driven over gRPC against Docker.

These start the plugin exactly as the engine does (the installed executable, port on
stdout) but call it directly, so they need Docker and not the Pulumi CLI.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import grpc
import pytest
from docker.errors import NotFound
from google.protobuf import empty_pb2
from google.rpc import status_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from .install import install
from .wire import Props, dict_to_struct, secret, struct_to_dict

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"

pytestmark = pytest.mark.integration


class Plugin:
    """A running stand-in process and a client of its provider service."""

    def __init__(self, executable: Path) -> None:
        """Start the plugin and connect to the port it prints."""
        self.process = subprocess.Popen(
            [str(executable)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.stub.Configure(provider_pb2.ConfigureRequest(acceptSecrets=True))

    def create(self, token: str, name: str, news: Props) -> tuple[str, Props]:
        """Check then create a resource; return its id and outputs."""
        urn = f"urn:pulumi:it::standin::{token}::{name}"
        checked = self.stub.Check(
            provider_pb2.CheckRequest(
                urn=urn, type=token, name=name, news=dict_to_struct(news)
            )
        )
        assert list(checked.failures) == []
        created = self.stub.Create(
            provider_pb2.CreateRequest(
                urn=urn, type=token, name=name, properties=checked.inputs
            )
        )
        return created.id, struct_to_dict(created.properties)

    def read(self, token: str, resource_id: str, outputs: Props) -> str:
        """Refresh a resource and return the id the plugin reports."""
        found = self.stub.Read(
            provider_pb2.ReadRequest(
                urn=f"urn:pulumi:it::standin::{token}::r",
                type=token,
                id=resource_id,
                properties=dict_to_struct(outputs),
            )
        )
        return str(found.id)

    def delete(self, token: str, resource_id: str, outputs: Props) -> None:
        """Delete a resource."""
        self.stub.Delete(
            provider_pb2.DeleteRequest(
                urn=f"urn:pulumi:it::standin::{token}::r",
                type=token,
                id=resource_id,
                properties=dict_to_struct(outputs),
            )
        )

    def close(self) -> str:
        """Stop the plugin and return what it wrote on stderr."""
        self.channel.close()
        self.process.kill()
        _, stderr = self.process.communicate(timeout=10)
        return stderr.decode()


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Plugin]:
    """The stand-in installed into a temporary Pulumi home and started."""
    running = Plugin(install(tmp_path / "pulumi-home", sys.executable))
    yield running
    running.close()


def test_plugin_prints_the_banner_and_reports_pulumi_docker_version(
    plugin: Plugin,
) -> None:
    version = plugin.stub.GetPluginInfo(empty_pb2.Empty()).version

    assert version == "5.2.0"
    assert "TEST STAND-IN" in plugin.close()


def test_container_lifecycle_applies_pulumi_docker_semantics(
    plugin: Plugin,
    docker_client: docker.DockerClient,
    busybox_image: str,
    name_prefix: str,
) -> None:
    net_id, net = plugin.create(NETWORK, "net", {"name": f"{name_prefix}-net"})
    vol_id, vol = plugin.create(VOLUME, "vol", {"name": f"{name_prefix}-vol"})
    _, image = plugin.create(IMAGE, "img", {"name": busybox_image, "keepLocally": True})
    news: dict[str, Any] = {
        "name": f"{name_prefix}-web",
        "image": image["imageId"],
        "command": ["sh", "-c", "exec httpd -f -p 8080 -h /www"],
        "networksAdvanced": [{"name": f"{name_prefix}-net", "aliases": ["web-alias"]}],
        "volumes": [{"volumeName": f"{name_prefix}-vol", "containerPath": "/data"}],
        "uploads": [{"file": "/www/index.html", "content": secret("hello")}],
        "healthcheck": {
            "tests": ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:8080/"],
            "interval": "500ms",
            "retries": 3,
        },
        "wait": True,
        "restart": "unless-stopped",
    }

    cid, outputs = plugin.create(CONTAINER, "web", news)

    container = docker_client.containers.get(cid)
    network = container.attrs["NetworkSettings"]["Networks"][f"{name_prefix}-net"]
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    assert "web-alias" in network["Aliases"]
    assert set(container.attrs["NetworkSettings"]["Networks"]) == {f"{name_prefix}-net"}
    assert container.exec_run("cat /www/index.html").output == b"hello"
    assert outputs["uploads"][0]["content"] == secret("hello")
    container.stop(timeout=1)
    assert plugin.read(CONTAINER, cid, outputs) == cid
    plugin.delete(CONTAINER, cid, outputs)
    plugin.delete(CONTAINER, cid, outputs)
    assert plugin.read(CONTAINER, cid, outputs) == ""
    for token, resource_id, props in [(VOLUME, vol_id, vol), (NETWORK, net_id, net)]:
        plugin.delete(token, resource_id, props)
        assert plugin.read(token, resource_id, props) == ""


def test_failed_health_wait_records_the_container_with_logs(
    plugin: Plugin,
    docker_client: docker.DockerClient,
    busybox_image: str,
    name_prefix: str,
) -> None:
    news = {
        "name": f"{name_prefix}-sick",
        "image": busybox_image,
        "command": ["sh", "-c", "echo booting-sick; exec sleep 60"],
        "healthcheck": {
            "tests": ["CMD-SHELL", "echo probe-failed; exit 1"],
            "interval": "200ms",
            "retries": 1,
        },
        "wait": True,
        "waitTimeout": 20,
    }

    with pytest.raises(grpc.RpcError) as caught:
        plugin.create(CONTAINER, "sick", news)

    error: Any = caught.value
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    failed = provider_pb2.ErrorResourceInitFailed()
    status_pb2.Status.FromString(details).details[0].Unpack(failed)
    assert "probe-failed" in error.details()
    assert "booting-sick" in error.details()
    assert docker_client.containers.get(failed.id).name == f"{name_prefix}-sick"
    plugin.delete(CONTAINER, failed.id, struct_to_dict(failed.properties))
    with pytest.raises(NotFound):
        docker_client.containers.get(failed.id)


def test_missing_image_fails_without_pulling(plugin: Plugin) -> None:
    name = f"zkm-test/absent-{uuid.uuid4().hex[:8]}:1"

    with pytest.raises(grpc.RpcError) as caught:
        plugin.create(IMAGE, "img", {"name": name})

    error: Any = caught.value
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "never pulls" in error.details()
    assert name in error.details()
