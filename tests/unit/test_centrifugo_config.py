"""The Centrifugo configuration the program generates, for values at the edges."""

from __future__ import annotations

import pytest

from components.centrifugo import (
    CentrifugoSecrets,
    ConsumerBinding,
    build_config,
)
from components.settings import PersonalNamespaceSettings

pytestmark = pytest.mark.unit


def _history_ttl(seconds: float) -> str:
    config = build_config(
        redis_url="redis://redis:6379",
        consumer=ConsumerBinding(
            "nats://nats:4222", "EVENTS", ("events.>",), "c", "all", 1, "u"
        ),
        personal=PersonalNamespaceSettings(100, seconds, False, True),
        allowed_origins=(),
        log_level="info",
        secrets=CentrifugoSecrets("h", "a", "p", "s", "n", "r"),
    )
    return str(config["channel"]["namespaces"][0]["history_ttl"])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "300000ms"),
        (288 * 3600, "1036800000ms"),
        (0.5, "500ms"),
        (1234567.891, "1234567891ms"),
    ],
)
def test_history_ttl_is_whole_milliseconds_without_exponent(
    seconds: float, text: str
) -> None:
    assert _history_ttl(seconds) == text
