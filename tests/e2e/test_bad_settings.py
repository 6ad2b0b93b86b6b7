"""Bad settings through the real engine: `preview` and `up` explain, nothing changes.

A valid stack (`bad`) is deployed once; each case then sets one bad value and
expects both `preview` and `up` to fail with the message naming the setting, the
value and the fix, with every container, the volume and the stream untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from pulumi import automation as auto

from tests.e2e.harness import RUN_ID, open_local_stack

pytestmark = pytest.mark.e2e

STACK = f"bad-{RUN_ID}"
LABEL = f"zk-messenger.stack={STACK}"

# Each case: the setting, a bad value, and words the error must contain.
CASES = [
    ("natsPort", "70000", ["natsPort: 70000", "1 to 65535"]),
    ("streamSubjects[0]", "events with space", ["streamSubjects", "tokens"]),
    ("streamMaxAge", "-1h", ["streamMaxAge: '-1h'", "duration"]),
    ("consumerDeliverPolicy", "first", ["consumerDeliverPolicy: 'first'", "all, new"]),
    ("centrifugoImage", "", ["centrifugoImage: ''", "image reference"]),
    ("logLevel", "loud", ["logLevel: 'loud'", "one of"]),
    ("apiKey", "plain-text-key", ["apiKey: is stored in plain text", "--secret"]),
    ("natsPortt", "4222", ["natsPortt: is not a setting", "spelling"]),
]


def _snapshot(client: docker.DockerClient) -> dict[str, Any]:
    selector = {"label": LABEL}
    containers = client.containers.list(all=True, filters=selector)
    return {
        "containers": sorted(
            (c.name, c.id, c.attrs["State"]["StartedAt"]) for c in containers
        ),
        "volumes": sorted(v.name for v in client.volumes.list(filters=selector)),
        "networks": sorted(n.id for n in client.networks.list(filters=selector)),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    deployed = open_local_stack(tmp_path_factory.mktemp("bad"), STACK)
    try:
        deployed.up(color="never")
        yield deployed
    finally:
        deployed.destroy(color="never")


@pytest.mark.parametrize(("key", "value", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_setting_fails_preview_and_up_with_its_fix_and_changes_nothing(
    stack: auto.Stack,
    docker_client: docker.DockerClient,
    key: str,
    value: str,
    words: list[str],
) -> None:
    full_key = f"zk-messenger:{key}"
    # A list element is set the way `pulumi config set --path` sets it.
    path = "[" in key
    old = stack.get_all_config().get(full_key)
    if path:
        old = stack.get_config(full_key, path=True)
    before = _snapshot(docker_client)
    stack.set_config(full_key, auto.ConfigValue(value), path=path)
    try:
        with pytest.raises(auto.CommandError) as previewed:
            stack.preview(color="never")
        with pytest.raises(auto.CommandError) as upped:
            stack.up(color="never")
    finally:
        if old is None:
            stack.remove_config(full_key)
        else:
            stack.set_config(full_key, old, path=path)

    for failure in (previewed.value, upped.value):
        for word in words:
            assert word in str(failure), json.dumps(str(failure)[-800:])
        assert "nothing was changed" in str(failure)
    assert _snapshot(docker_client) == before
