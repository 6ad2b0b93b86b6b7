"""Unit tests of Check and Diff, which never touch Docker."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from .base import DEFAULTS_KEY
from .container import ContainerHandler, unready_reason, with_known_ports
from .image import RemoteImageHandler
from .network import NetworkHandler
from .volume import VolumeHandler
from .wire import UNKNOWN, secret

pytestmark = pytest.mark.unit

CONTAINER = ContainerHandler(threading.Event())


def container_inputs(**changes: Any) -> dict[str, Any]:
    """Checked inputs of a typical container, with ``changes`` applied."""
    news = {
        "name": "web",
        "image": "sha256:abc",
        "command": ["httpd", "-f"],
        "envs": ["A=1", "B=2"],
        "ports": [{"internal": 8080, "external": 18080, "ip": "127.0.0.1"}],
        "networksAdvanced": [{"name": "net", "aliases": ["a", "b"]}],
        "uploads": [{"file": "/www/index.html", "content": secret("hi")}],
        "healthcheck": {"tests": ["CMD", "true"], "interval": "1s"},
        "wait": True,
        "restart": "unless-stopped",
    }
    news.update(changes)
    inputs, failures = CONTAINER.check("web", {}, news, b"seed")
    assert failures == []
    return inputs


def test_container_check_fills_upstream_defaults() -> None:
    inputs = container_inputs()

    assert inputs["mustRun"] is True
    assert inputs["waitTimeout"] == 60
    assert inputs["ports"][0]["protocol"] == "tcp"
    assert inputs["healthcheck"]["retries"] == 0
    assert inputs["healthcheck"]["timeout"] == "0s"
    assert inputs["uploads"][0]["executable"] is False
    assert inputs["uploads"][0]["content"] == secret("hi")


@pytest.mark.parametrize(
    ("news", "refused"),
    [
        ({"image": "i", "memory": 64}, "memory"),
        ({"image": "i", "restart": "sometimes"}, "restart"),
        ({"image": "i", "command": ["sh", ""]}, "command"),
        ({"image": "i", "uploads": [{"file": "/a"}]}, "uploads[0]"),
        (
            {"image": "i", "uploads": [{"file": "/a", "content": "x", "source": "/s"}]},
            "uploads[0].source",
        ),
        (
            {"image": "i", "healthcheck": {"tests": ["CMD", "true"], "interval": "5"}},
            "healthcheck.interval",
        ),
        (
            {
                "image": "i",
                "networksAdvanced": [{"name": "n", "ipv4Address": "1.2.3.4"}],
            },
            "networksAdvanced[0].ipv4Address",
        ),
        ({}, "image"),
    ],
)
def test_container_check_refuses_bad_or_unimplemented_fields(
    news: dict[str, Any], refused: str
) -> None:
    _, failures = CONTAINER.check("web", {}, news, b"seed")

    assert refused in [failure.property for failure in failures]


def test_container_check_skips_unknown_values_in_preview() -> None:
    _, failures = CONTAINER.check("web", {}, {"image": UNKNOWN, "ports": UNKNOWN}, b"")

    assert failures == []


@pytest.mark.parametrize(
    ("changes", "changed", "replaces"),
    [
        ({}, [], []),
        ({"envs": ["B=2", "A=1"]}, [], []),
        ({"networksAdvanced": [{"name": "net", "aliases": ["b", "a"]}]}, [], []),
        ({"restart": "always"}, ["restart"], []),
        ({"healthcheck": {"tests": ["CMD", "false"]}}, ["healthcheck"], []),
        ({"wait": False}, ["wait"], []),
        ({"waitTimeout": 5}, ["waitTimeout"], []),
        ({"envs": ["A=1"]}, ["envs"], ["envs"]),
        (
            {"uploads": [{"file": "/www/index.html", "content": secret("new")}]},
            ["uploads"],
            ["uploads"],
        ),
        ({"image": UNKNOWN}, ["image"], ["image"]),
        (
            {"networksAdvanced": [{"name": "net", "aliases": ["a"]}]},
            ["networksAdvanced"],
            ["networksAdvanced"],
        ),
    ],
)
def test_container_diff_follows_pulumi_docker_field_kinds(
    changes: dict[str, Any], changed: list[str], replaces: list[str]
) -> None:
    olds = {**container_inputs(), "id": "c1"}

    plan = CONTAINER.diff(olds, container_inputs(**changes))

    assert (plan.changed, plan.replaces) == (changed, replaces)
    assert plan.delete_before_replace is bool(replaces)


def test_container_diff_after_refresh_of_stopped_container_starts_it() -> None:
    olds = {**container_inputs(), "id": "c1", "mustRun": False}

    plan = CONTAINER.diff(olds, container_inputs())

    assert (plan.changed, plan.replaces) == (["mustRun"], [])


def test_host_port_chosen_by_docker_is_not_a_change() -> None:
    port = {"internal": 80, "ip": "0.0.0.0", "protocol": "tcp"}
    olds = {"ports": [{**port, "external": 32768}]}

    assert with_known_ports(olds, {"ports": [port]}) == olds


def test_autonamed_network_keeps_its_name_and_is_replaced_create_first() -> None:
    handler = NetworkHandler()
    first, _ = handler.check("net", {}, {}, b"seed")
    again, _ = handler.check("net", first, {"driver": "bridge"}, b"other")

    plan = handler.diff(first, {**again, "internal": True})

    assert first["name"].startswith("net-")
    assert first[DEFAULTS_KEY] == ["name"]
    assert again["name"] == first["name"]
    assert (plan.replaces, plan.delete_before_replace) == (["internal"], False)


def test_named_volume_is_replaced_delete_first_on_label_change() -> None:
    handler = VolumeHandler()
    olds, _ = handler.check("v", {}, {"name": "data"}, b"")
    news, _ = handler.check("v", olds, {"name": "data", "labels": []}, b"")

    plan = handler.diff(olds, {**news, "labels": [{"label": "k", "value": "v"}]})

    assert (plan.replaces, plan.delete_before_replace) == (["labels"], True)


def test_remote_image_keep_locally_updates_in_place_and_name_replaces() -> None:
    handler = RemoteImageHandler()
    olds, _ = handler.check("img", {}, {"name": "a:1"}, b"")

    keep = handler.diff(olds, {**olds, "keepLocally": True})
    rename = handler.diff(olds, {**olds, "name": "a:2"})

    assert (keep.changed, keep.replaces) == (["keepLocally"], [])
    assert rename.replaces == ["name"]


def test_remote_image_requires_a_name() -> None:
    _, failures = RemoteImageHandler().check("img", {}, {}, b"")

    assert [failure.property for failure in failures] == ["name"]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"Running": True, "Health": {"Status": "healthy"}}, None),
        ({"Running": True, "Health": {"Status": "starting"}}, ""),
        ({"Running": True, "Health": {"Status": "unhealthy"}}, "unhealthy"),
        ({"Running": True}, "no health check"),
        (
            {"Running": False, "ExitCode": 3, "Health": {"Status": "starting"}},
            "exit code 3",
        ),
    ],
)
def test_unready_reason_fails_early_only_when_waiting_cannot_help(
    state: dict[str, Any], reason: str | None
) -> None:
    found = unready_reason(state)

    if reason:
        assert reason in (found or "")
    else:
        assert found == reason
