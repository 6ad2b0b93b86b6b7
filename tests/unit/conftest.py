"""Unit tests run Pulumi's runtime in-process, which needs a current event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def event_loop_for_pulumi() -> Iterator[None]:
    """Gives Pulumi's mocks a loop, also after another test's `asyncio.run`."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()
