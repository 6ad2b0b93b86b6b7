"""``docker:index/network:Network`` in the test stand-in.

Every implemented field forces a replacement, as in pulumi-docker 5.2.0. Deleting
retries while containers are still being detached from the network.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import docker
from docker.errors import APIError, NotFound

from .base import CheckFailure, Field, ResourceHandler, StandinError, as_set
from .wire import Props, has_unknown, reveal

REMOVE_RETRY_SECONDS = 30.0
"""How long a delete waits for the network's last endpoints to go, in seconds."""


def labels_to_dict(labels: Any) -> dict[str, str]:
    """Turn pulumi-docker's ``[{label, value}]`` list into Docker's label map."""
    return {item["label"]: item["value"] for item in reveal(labels) or []}


def label_failures(labels: Any, path: str = "labels") -> list[CheckFailure]:
    """Refuse label entries without a string ``label`` and ``value``."""
    if has_unknown(labels):
        return []
    failures = []
    for index, item in enumerate(reveal(labels) or []):
        if not isinstance(item, dict) or set(item) != {"label", "value"}:
            failures.append(
                CheckFailure(
                    f"{path}[{index}]",
                    f"a label needs exactly 'label' and 'value', got {item!r}.",
                )
            )
    return failures


class NetworkHandler(ResourceHandler):
    """Docker networks: created once, replaced on any change."""

    token: ClassVar[str] = "docker:index/network:Network"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("name"),
        Field("driver", default="bridge"),
        Field("labels", canonical=as_set),
        Field("internal", default=False),
        Field("attachable", default=False),
    )
    computed: ClassVar[tuple[str, ...]] = ("scope",)

    def validate(self, inputs: Props) -> list[CheckFailure]:
        """Refuse malformed labels."""
        return label_failures(inputs.get("labels"))

    def create(self, api: docker.APIClient, props: Props) -> tuple[str, Props]:
        """Create the network and return its id and outputs."""
        plain = reveal(props)
        created = api.create_network(
            plain["name"],
            driver=plain["driver"],
            internal=bool(plain["internal"]),
            attachable=bool(plain["attachable"]),
            labels=labels_to_dict(plain.get("labels")),
            check_duplicate=True,
        )
        network_id = created["Id"]
        scope = api.inspect_network(network_id).get("Scope", "local")
        return network_id, {**props, "id": network_id, "scope": scope}

    def read(
        self, api: docker.APIClient, resource_id: str, outputs: Props
    ) -> tuple[str, Props] | None:
        """Return the stored outputs while the network exists."""
        try:
            api.inspect_network(resource_id)
        except NotFound:
            return None
        return resource_id, outputs

    def delete(self, api: docker.APIClient, resource_id: str, outputs: Props) -> bool:
        """Remove the network, waiting for endpoints that are still being removed."""
        deadline = time.monotonic() + REMOVE_RETRY_SECONDS
        while True:
            try:
                api.remove_network(resource_id)
                return True
            except NotFound:
                return False
            except APIError as exc:
                if time.monotonic() > deadline:
                    raise StandinError(
                        f"Docker would not remove network {resource_id!r} within "
                        f"{REMOVE_RETRY_SECONDS:.0f}s: {exc.explanation or exc}. "
                        "Disconnect the containers still attached to it."
                    ) from exc
                time.sleep(0.5)
