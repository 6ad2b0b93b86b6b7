"""``docker:index/volume:Volume`` in the test stand-in.

Every implemented field forces a replacement, as in pulumi-docker 5.2.0. The id of a
volume is its name. Deleting retries while a removed container still holds it.
"""

from __future__ import annotations

import time
from typing import ClassVar

import docker
from docker.errors import APIError, NotFound

from .base import CheckFailure, Field, ResourceHandler, StandinError, as_set
from .network import label_failures, labels_to_dict
from .wire import Props, reveal

REMOVE_RETRY_SECONDS = 30.0
"""How long a delete waits for the volume to be released, in seconds."""


class VolumeHandler(ResourceHandler):
    """Named Docker volumes: created once, replaced on any change."""

    token: ClassVar[str] = "docker:index/volume:Volume"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("name"),
        Field("driver", default="local"),
        Field("labels", canonical=as_set),
    )
    computed: ClassVar[tuple[str, ...]] = ("mountpoint",)

    def validate(self, inputs: Props) -> list[CheckFailure]:
        """Refuse malformed labels."""
        return label_failures(inputs.get("labels"))

    def create(self, api: docker.APIClient, props: Props) -> tuple[str, Props]:
        """Create the volume and return its name (the id) and outputs."""
        plain = reveal(props)
        created = api.create_volume(
            plain["name"],
            driver=plain["driver"],
            labels=labels_to_dict(plain.get("labels")),
        )
        name = created["Name"]
        return name, {**props, "id": name, "mountpoint": created.get("Mountpoint", "")}

    def read(
        self, api: docker.APIClient, resource_id: str, outputs: Props
    ) -> tuple[str, Props] | None:
        """Return the stored outputs while the volume exists."""
        try:
            api.inspect_volume(resource_id)
        except NotFound:
            return None
        return resource_id, outputs

    def delete(self, api: docker.APIClient, resource_id: str, outputs: Props) -> bool:
        """Remove the volume, waiting while a container being removed still uses it."""
        deadline = time.monotonic() + REMOVE_RETRY_SECONDS
        while True:
            try:
                api.remove_volume(resource_id, force=True)
                return True
            except NotFound:
                return False
            except APIError as exc:
                if time.monotonic() > deadline:
                    raise StandinError(
                        f"Docker would not remove volume {resource_id!r} within "
                        f"{REMOVE_RETRY_SECONDS:.0f}s: {exc.explanation or exc}. "
                        "Remove the containers that still use it."
                    ) from exc
                time.sleep(0.5)
