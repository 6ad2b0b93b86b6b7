"""``docker:index/remoteImage:RemoteImage`` in the test stand-in.

pulumi-docker 5.2.0 looks for the image locally first and contacts a registry only when
it is missing. The stand-in never pulls: a missing image is an error that says so.
Its id is the image id followed by the name, as upstream.
"""

from __future__ import annotations

from typing import Any, ClassVar

import docker
from docker.errors import NotFound

from .base import CheckFailure, Field, FieldKind, ResourceHandler, StandinError
from .wire import Props, has_unknown, reveal


def repo_digest(name: str, info: dict[str, Any]) -> str:
    """Pick the digest for the repository of ``name``, else the first, else ``""``."""
    digests: list[str] = info.get("RepoDigests") or []
    repository = name.rsplit(":", 1)[0] if "/" not in name.rsplit(":", 1)[-1] else name
    for digest in digests:
        if digest.split("@", 1)[0] == repository:
            return digest
    return digests[0] if digests else ""


class RemoteImageHandler(ResourceHandler):
    """Local images looked up by name; a changed name replaces the resource."""

    token: ClassVar[str] = "docker:index/remoteImage:RemoteImage"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("name"),
        Field("keepLocally", kind=FieldKind.UPDATE, default=False),
    )
    computed: ClassVar[tuple[str, ...]] = ("imageId", "repoDigest")
    autonamed: ClassVar[bool] = False

    def validate(self, inputs: Props) -> list[CheckFailure]:
        """Require an image name."""
        name = inputs.get("name")
        if has_unknown(name) or (isinstance(reveal(name), str) and reveal(name)):
            return []
        return [CheckFailure("name", f"an image name is required, got {name!r}.")]

    def create(self, api: docker.APIClient, props: Props) -> tuple[str, Props]:
        """Find the image locally and return its id and outputs."""
        name = reveal(props["name"])
        info = self._inspect(api, name)
        if info is None:
            raise StandinError(
                f"Docker image {name!r} is not present locally, and the pulumi-docker "
                "test stand-in never pulls images. Build or load it before the test "
                f"(e.g. 'docker build -t {name} ...')."
            )
        return self._outputs(props, name, info)

    def read(
        self, api: docker.APIClient, resource_id: str, outputs: Props
    ) -> tuple[str, Props] | None:
        """Look the image up again by name; ``None`` when it is gone."""
        name = reveal(outputs.get("name"))
        info = self._inspect(api, name) if isinstance(name, str) else None
        if info is None:
            return None
        return self._outputs(outputs, name, info)

    def delete(self, api: docker.APIClient, resource_id: str, outputs: Props) -> bool:
        """Remove the image by name unless ``keepLocally`` is set."""
        if reveal(outputs.get("keepLocally")):
            return False
        try:
            api.remove_image(reveal(outputs["name"]))
        except NotFound:
            return False
        return True

    @staticmethod
    def _inspect(api: docker.APIClient, name: str) -> dict[str, Any] | None:
        """The local image's inspect data, or ``None`` when there is no such image."""
        try:
            info: dict[str, Any] = api.inspect_image(name)
        except NotFound:
            return None
        return info

    @staticmethod
    def _outputs(props: Props, name: str, info: dict[str, Any]) -> tuple[str, Props]:
        """The id and outputs of an image found locally."""
        image_id = info["Id"]
        outputs = {
            **props,
            "id": image_id + name,
            "imageId": image_id,
            "repoDigest": repo_digest(name, info),
        }
        return image_id + name, outputs
