"""The inputs of ``docker:index/container:Container``: table, validation, Docker config.

This module only reads values: it checks the nested fields the stand-in implements and
turns revealed inputs into the arguments of docker-py's low-level API. The lifecycle
against Docker lives in :mod:`tests.docker_standin.container`.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import tarfile
import time
from collections.abc import Callable
from typing import Any

from .base import CheckFailure, Field, FieldKind, as_set, map_plain, unsupported_keys
from .network import label_failures, labels_to_dict
from .wire import Props, has_unknown, reveal

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
"""The restart policies pulumi-docker accepts."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(text: str) -> int:
    """Parse a Go duration string (``"5s"``, ``"500ms"``, ``"1m30s"``) into nanoseconds.

    Args:
        text: The duration, non-negative, as Go's ``time.ParseDuration`` reads it.

    Returns:
        The duration in nanoseconds.

    Raises:
        ValueError: When ``text`` is not a non-negative Go duration.
    """
    if text == "0":
        return 0
    body = text[1:] if text.startswith("+") else text
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"{text!r} is not a Go duration such as '5s' or '1m30s'")
    return round(sum(float(number) * _NANOS[unit] for number, unit in parts))


def _sort_aliases(item: Any) -> Any:
    if isinstance(item, dict) and isinstance(item.get("aliases"), list):
        return {**item, "aliases": sorted(item["aliases"])}
    return item


def networks_canonical(value: Any) -> Any:
    """Networks and their aliases are sets upstream: compare them order-free."""
    if not isinstance(value, list):
        return value
    return as_set([_sort_aliases(item) for item in value])


FIELDS: tuple[Field, ...] = (
    Field("name"),
    Field("image"),
    Field("command"),
    Field("entrypoints"),
    Field("envs", canonical=as_set),
    Field("labels", canonical=as_set),
    Field("hostname"),
    Field("ports"),
    Field("volumes", canonical=as_set),
    Field("networksAdvanced", canonical=networks_canonical),
    Field("uploads", canonical=as_set),
    Field("logDriver"),
    Field("logOpts"),
    Field("restart", kind=FieldKind.UPDATE, default="no"),
    Field("mustRun", kind=FieldKind.UPDATE, default=True),
    # Stored only: pulumi-docker 5.2.0 neither replaces nor touches the running
    # container when these change.
    Field("healthcheck", kind=FieldKind.STORE),
    Field("wait", kind=FieldKind.STORE, default=False),
    Field("waitTimeout", kind=FieldKind.STORE, default=60),
)
"""The container fields the stand-in implements, with pulumi-docker 5.2.0's kinds."""

PORT_KEYS = ("internal", "external", "ip", "protocol")
VOLUME_KEYS = ("volumeName", "hostPath", "containerPath", "readOnly")
NETWORK_KEYS = ("name", "aliases")
HEALTH_KEYS = (
    "tests",
    "interval",
    "timeout",
    "startPeriod",
    "startInterval",
    "retries",
)
UPLOAD_KEYS = ("file", "content", "contentBase64", "executable")
HEALTH_DURATIONS = ("interval", "timeout", "startPeriod", "startInterval")


def fill_defaults(inputs: Props) -> Props:
    """Fill the nested defaults pulumi-docker fills, keeping secrets wrapped.

    Args:
        inputs: Checked inputs with the top-level defaults already in place.

    Returns:
        A copy with port, health check and upload defaults filled.
    """
    filled = dict(inputs)
    nested: dict[str, Props] = {
        "ports": {"ip": "0.0.0.0", "protocol": "tcp"},
        "uploads": {"executable": False},
    }
    for key, defaults in nested.items():
        if isinstance(reveal(filled.get(key)), list):
            filled[key] = map_plain(filled[key], _item_defaults(defaults))
    if filled.get("healthcheck") is not None:
        filled["healthcheck"] = map_plain(filled["healthcheck"], _health_defaults)
    return filled


def _item_defaults(defaults: Props) -> Callable[[Any], Any]:
    """Make a function filling ``defaults`` into each object of a list."""

    def fill_item(item: Any) -> Any:
        return {**defaults, **item} if isinstance(item, dict) else item

    def fill_list(items: Any) -> Any:
        if not isinstance(items, list):
            return items
        return [map_plain(item, fill_item) for item in items]

    return fill_list


def _health_defaults(check: Any) -> Any:
    if not isinstance(check, dict):
        return check
    defaults = {name: "0s" for name in HEALTH_DURATIONS}
    return {**defaults, "retries": 0, **check}


def validate(inputs: Props) -> list[CheckFailure]:
    """Refuse container inputs the stand-in cannot apply faithfully.

    Values unknown during preview are skipped.

    Args:
        inputs: Checked inputs with defaults filled.

    Returns:
        One failure per bad or unimplemented property.
    """
    checks: dict[str, Callable[[Any], list[CheckFailure]]] = {
        "image": _check_image,
        "command": _check_command,
        "restart": _check_restart,
        "ports": _check_ports,
        "volumes": _check_volumes,
        "networksAdvanced": _check_networks,
        "healthcheck": _check_health,
        "uploads": _check_uploads,
        "labels": label_failures,
        "waitTimeout": _check_wait_timeout,
    }
    failures: list[CheckFailure] = []
    for key, check in checks.items():
        value = inputs.get(key)
        if not has_unknown(value) and (value is not None or key == "image"):
            failures += check(reveal(value))
    return failures


def _check_image(image: Any) -> list[CheckFailure]:
    if isinstance(image, str) and image:
        return []
    return [CheckFailure("image", f"an image id or name is required, got {image!r}.")]


def _check_command(command: Any) -> list[CheckFailure]:
    if all(isinstance(part, str) and part for part in command):
        return []
    return [
        CheckFailure("command", f"values for command may not be empty: {command!r}.")
    ]


def _check_restart(restart: Any) -> list[CheckFailure]:
    if restart in RESTART_POLICIES:
        return []
    return [
        CheckFailure(
            "restart", f"restart must be one of {RESTART_POLICIES}, got {restart!r}."
        )
    ]


def _check_ports(ports: Any) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    for index, port in enumerate(ports):
        path = f"ports[{index}]"
        failures += unsupported_keys(port, PORT_KEYS, path)
        if not isinstance(port.get("internal"), (int, float)):
            failures.append(
                CheckFailure(f"{path}.internal", "the container port is required.")
            )
        if port.get("protocol") not in ("tcp", "udp", "sctp"):
            reason = f"protocol must be tcp, udp or sctp, got {port.get('protocol')!r}."
            failures.append(CheckFailure(f"{path}.protocol", reason))
    return failures


def _check_volumes(volumes: Any) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    for index, volume in enumerate(volumes):
        path = f"volumes[{index}]"
        failures += unsupported_keys(volume, VOLUME_KEYS, path)
        if not volume.get("containerPath"):
            failures.append(
                CheckFailure(f"{path}.containerPath", "a path is required.")
            )
        if volume.get("volumeName") and volume.get("hostPath"):
            reason = "give volumeName or hostPath, not both."
            failures.append(CheckFailure(path, reason))
    return failures


def _check_networks(networks: Any) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    for index, network in enumerate(networks):
        path = f"networksAdvanced[{index}]"
        failures += unsupported_keys(network, NETWORK_KEYS, path)
        if not network.get("name"):
            failures.append(
                CheckFailure(f"{path}.name", "a network name or id is required.")
            )
    return failures


def _check_health(check: Any) -> list[CheckFailure]:
    failures = unsupported_keys(check, HEALTH_KEYS, "healthcheck")
    if not check.get("tests"):
        failures.append(
            CheckFailure("healthcheck.tests", "a test command is required.")
        )
    for name in HEALTH_DURATIONS:
        try:
            parse_go_duration(str(check.get(name)))
        except ValueError as exc:
            failures.append(CheckFailure(f"healthcheck.{name}", f"{exc}."))
    if str(check.get("startInterval")) not in ("0s", "0"):
        failures.append(
            CheckFailure("healthcheck.startInterval", "only '0s' is implemented.")
        )
    if not isinstance(check.get("retries"), (int, float)) or check["retries"] < 0:
        reason = f"retries must be 0 or more, got {check.get('retries')!r}."
        failures.append(CheckFailure("healthcheck.retries", reason))
    return failures


def _check_uploads(uploads: Any) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    for index, upload in enumerate(uploads):
        path = f"uploads[{index}]"
        failures += unsupported_keys(upload, UPLOAD_KEYS, path)
        if not upload.get("file"):
            failures.append(CheckFailure(f"{path}.file", "a file path is required."))
        given = [key for key in ("content", "contentBase64") if upload.get(key)]
        if len(given) != 1:
            reason = "exactly one of 'content' or 'contentBase64' must be set."
            failures.append(CheckFailure(path, reason))
        elif given == ["contentBase64"] and not _is_base64(upload["contentBase64"]):
            reason = "contentBase64 is not valid base64."
            failures.append(CheckFailure(f"{path}.contentBase64", reason))
    return failures


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _check_wait_timeout(timeout: Any) -> list[CheckFailure]:
    if isinstance(timeout, (int, float)) and timeout > 0:
        return []
    return [
        CheckFailure(
            "waitTimeout", f"must be a positive number of seconds, got {timeout!r}."
        )
    ]


def upload_bytes(upload: Props) -> bytes:
    """Give the bytes an upload writes: ``content`` as UTF-8, or decoded base64."""
    if upload.get("content"):
        return str(upload["content"]).encode()
    return base64.b64decode(upload["contentBase64"])


def healthcheck_config(check: Props) -> dict[str, Any]:
    """Give docker-py's health check settings: nanoseconds, 0 for Docker's default."""
    return {
        "test": list(check["tests"]),
        "interval": parse_go_duration(check["interval"]),
        "timeout": parse_go_duration(check["timeout"]),
        "start_period": parse_go_duration(check["startPeriod"]),
        "retries": int(check["retries"]),
    }


def port_bindings(
    ports: list[Props],
) -> tuple[list[tuple[int, str]], dict[str, list[Any]]]:
    """The exposed ports and host bindings of the ``ports`` input.

    Returns:
        docker-py's ``ports`` list and ``port_bindings`` map; a port without
        ``external`` is bound to a random host port.
    """
    exposed: list[tuple[int, str]] = []
    bindings: dict[str, list[Any]] = {}
    for port in ports:
        internal, protocol = int(port["internal"]), port["protocol"]
        external = port.get("external")
        if (internal, protocol) not in exposed:
            exposed.append((internal, protocol))
        host = (port["ip"], int(external) if external is not None else None)
        bindings.setdefault(f"{internal}/{protocol}", []).append(host)
    return exposed, bindings


def volume_binds(volumes: list[Props]) -> tuple[list[str], list[str]]:
    """The binds and anonymous volume paths of the ``volumes`` input.

    Returns:
        ``source:path:ro|rw`` binds for named volumes and host paths, and the container
        paths that get an anonymous volume.
    """
    binds: list[str] = []
    anonymous: list[str] = []
    for volume in volumes:
        source = volume.get("volumeName") or volume.get("hostPath")
        if not source:
            anonymous.append(volume["containerPath"])
            continue
        mode = "ro" if volume.get("readOnly") else "rw"
        binds.append(f"{source}:{volume['containerPath']}:{mode}")
    return binds, anonymous


def create_arguments(plain: Props) -> tuple[dict[str, Any], dict[str, Any]]:
    """docker-py arguments for creating the container from revealed inputs.

    Args:
        plain: Checked inputs without secret wrappers.

    Returns:
        The keyword arguments of ``create_host_config`` and of ``create_container``
        (without ``host_config``).
    """
    exposed, bindings = port_bindings(plain.get("ports") or [])
    binds, anonymous = volume_binds(plain.get("volumes") or [])
    host: dict[str, Any] = {
        "port_bindings": bindings or None,
        "binds": binds or None,
        "restart_policy": {"Name": plain["restart"], "MaximumRetryCount": 0},
    }
    if plain.get("logDriver") or plain.get("logOpts"):
        host["log_config"] = {
            "Type": plain.get("logDriver") or "",
            "Config": plain.get("logOpts") or {},
        }
    container: dict[str, Any] = {
        "image": plain["image"],
        "name": plain["name"],
        "command": plain.get("command"),
        "entrypoint": plain.get("entrypoints"),
        "environment": plain.get("envs"),
        "labels": labels_to_dict(plain.get("labels")),
        "hostname": plain.get("hostname"),
        "ports": exposed or None,
        "volumes": anonymous or None,
    }
    if plain.get("healthcheck"):
        container["healthcheck"] = healthcheck_config(plain["healthcheck"])
    return host, container


def upload_archive(upload: Props) -> bytes:
    """A tar archive holding one upload, to extract at the container's root.

    The file is owned by root with mode 0644, or 0744 when ``executable`` is set, as
    pulumi-docker 5.2.0 writes it; missing parent directories are created by Docker.

    Args:
        upload: A revealed upload with ``file`` and its content.

    Returns:
        The archive bytes for docker-py's ``put_archive``.
    """
    data = upload_bytes(upload)
    info = tarfile.TarInfo(str(upload["file"]).lstrip("/"))
    info.size = len(data)
    info.mode = 0o744 if upload.get("executable") else 0o644
    info.mtime = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
