"""The prod stack: its settings load, and each hardening choice holds.

The settings go through the same path as `pulumi preview`: Pulumi.yaml's defaults,
then Pulumi.prod.yaml, then `load_settings`.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pytest
import yaml

from components.settings import DeliverPolicy, Settings, load_settings
from tests.stack_config import PROJECT, PROJECT_DIR, defaults, stack_config

pytestmark = pytest.mark.unit

STACK_FILE = PROJECT_DIR / "Pulumi.prod.yaml"
SECRET_KEYS = ("tokenHmacSecret", "apiKey", "adminPassword", "adminSecret")
# Settings whose prod value must not depend on a default that may change later.
HARDENING_KEYS = (
    "allowedOrigins",
    "bindAddress",
    "clientBindAddress",
    "logLevel",
    "streamMaxAge",
    "streamMaxBytes",
    "consumerDeliverPolicy",
    "consumerMaxDeliver",
    "personalHistorySize",
    "personalHistoryTtl",
    "personalForceRecovery",
    "streamAllowDataLoss",
    "streamKeepOnDestroy",
)


def _load_prod() -> Settings:
    pulumi.runtime.set_all_config(stack_config("prod"), [])
    return load_settings(pulumi.Config(PROJECT), stack="prod")


def _stack_file_values() -> dict[str, Any]:
    config = yaml.safe_load(STACK_FILE.read_text()).get("config", {})
    return {key.removeprefix(f"{PROJECT}:"): value for key, value in config.items()}


def _is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def _is_local_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a DNS name other than localhost
    return address.is_loopback or address.is_unspecified or address.is_private


def test_load_settings_with_prod_stack_gives_valid_settings() -> None:
    settings = _load_prod()

    assert settings.prefix == "zkm-prod"
    assert settings.secrets.api_key is None


def test_prod_stack_file_names_only_declared_settings() -> None:
    # load_settings ignores an undeclared key, so a misspelt one would fall back to
    # the default without a word.
    undeclared = set(_stack_file_values()) - set(defaults())

    assert not undeclared, f"Pulumi.prod.yaml sets undeclared keys: {undeclared}"


def test_prod_stack_file_states_every_hardening_setting_itself() -> None:
    missing = [key for key in HARDENING_KEYS if key not in _stack_file_values()]

    assert not missing, f"Pulumi.prod.yaml inherits these from defaults: {missing}"


def test_prod_stack_file_holds_no_secret() -> None:
    values = _stack_file_values()

    for key in SECRET_KEYS:
        assert key not in values, f"{key} must be generated or set with --secret"
    assert "secure:" not in STACK_FILE.read_text()


def test_load_settings_with_prod_stack_accepts_only_public_https_origins() -> None:
    origins = _load_prod().allowed_origins

    assert origins, "an empty list would reject the web app itself"
    for origin in origins:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        assert "*" not in origin, origin
        assert parts.scheme == "https", origin
        assert parts.path in ("", "/"), origin
        assert host, origin
        assert not _is_local_host(host), origin


def test_load_settings_with_prod_stack_logs_without_debug_detail() -> None:
    assert _load_prod().log_level in ("info", "warn")


def test_load_settings_with_prod_stack_binds_internal_ports_to_loopback() -> None:
    # NATS, NATS monitoring and Centrifugo's API, admin UI and metrics share it.
    assert _is_loopback(_load_prod().bind_address)


def test_load_settings_with_prod_stack_keeps_client_port_off_every_interface() -> None:
    # Centrifugo serves plain HTTP; only a TLS-terminating proxy may face clients.
    address = ipaddress.ip_address(_load_prod().client_bind_address)

    assert not address.is_unspecified


def test_load_settings_with_prod_stack_bounds_stream_size_and_age() -> None:
    stream = _load_prod().stream

    assert 0 < stream.max_bytes <= 100 * 2**30
    assert stream.max_age >= 24 * 3600, "too short to recover from a weekend outage"
    assert stream.duplicate_window <= stream.max_age


def test_load_settings_with_prod_stack_never_drops_or_skips_events() -> None:
    consumer = _load_prod().consumer

    assert consumer.max_deliver == -1
    assert consumer.deliver_policy is DeliverPolicy.ALL


def test_load_settings_with_prod_stack_turns_history_and_recovery_on() -> None:
    personal = _load_prod().personal

    assert personal.force_recovery
    assert personal.history_size > 0
    assert personal.history_ttl > 0


def test_load_settings_with_prod_stack_guards_and_keeps_the_events_stream() -> None:
    stream = _load_prod().stream

    assert stream.allow_data_loss is False
    assert stream.keep_on_destroy is True
