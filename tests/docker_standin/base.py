"""What every resource of the stand-in shares: field tables, errors, checks and diffs.

Each resource declares its input fields once, with the way a change to each is applied
(pulumi-docker 5.2.0's ``ForceNew`` fields replace the object, a few are updated in
place, and some are only stored). Check, Diff and the outputs all follow that table.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

import docker

from .wire import UNKNOWN, Props, has_unknown, is_secret, reveal, same_value, secret

DEFAULTS_KEY = "__defaults"
"""Input key listing the fields the provider filled in, as bridged providers do."""


class FieldKind(str, Enum):
    """How a change to an input field reaches the Docker object."""

    REPLACE = "replace"
    """The object is recreated (a ``ForceNew`` field upstream)."""
    UPDATE = "update"
    """The change is applied to the existing object."""
    STORE = "store"
    """The change is only recorded in the state; the running object keeps the old."""


@dataclass(frozen=True)
class Field:
    """One input field of a resource, named as on the wire (camelCase).

    Attributes:
        name: The wire name, e.g. ``networksAdvanced``.
        kind: How a change to the field is applied.
        default: The value ``Check`` fills in when the program leaves the field out;
            ``None`` for no default.
        canonical: Turns a revealed value into the form compared by ``Diff``; used for
            fields that are sets upstream, whose order carries no meaning.
    """

    name: str
    kind: FieldKind = FieldKind.REPLACE
    default: Any = None
    canonical: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class CheckFailure:
    """A refused input, reported by ``Check`` against one property."""

    property: str
    reason: str


@dataclass
class DiffPlan:
    """The outcome of comparing stored outputs with new inputs.

    Attributes:
        changed: Every field whose value would change.
        replaces: The changed fields that force a replacement.
        delete_before_replace: Whether the old object must go before the new one is
            created, because its fixed name would clash.
    """

    changed: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


class StandinError(Exception):
    """An expected failure, reported to the engine as its message without a trace."""


class ResourceInitError(StandinError):
    """The Docker object exists but did not become ready.

    The engine records the object with its outputs and this error, as it does for the
    real provider, so that a later ``destroy`` or ``up`` still knows about it.
    """

    def __init__(self, message: str, resource_id: str, outputs: Props) -> None:
        """Keep the identity and outputs of the half-ready object.

        Args:
            message: What went wrong and what to look at next.
            resource_id: The Docker id of the object that was created.
            outputs: The outputs to record for it.
        """
        super().__init__(message)
        self.resource_id = resource_id
        self.outputs = outputs


def as_set(value: Any) -> Any:
    """Canonical form of a list that is a set upstream: its items in a stable order."""
    if not isinstance(value, list):
        return value
    return sorted(value, key=lambda item: json.dumps(item, sort_keys=True))


def map_plain(value: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` inside a possible secret wrapper, keeping the value secret."""
    if is_secret(value):
        return secret(map_plain(value.get("value"), fn))
    return fn(value)


def unsupported_keys(
    item: Any, allowed: Iterable[str], path: str
) -> list[CheckFailure]:
    """Refuse every key of a nested object that the stand-in does not implement.

    Args:
        item: A revealed nested object (anything else is ignored).
        allowed: The wire names the stand-in implements.
        path: The property path of ``item``, for the messages.

    Returns:
        One failure per key outside ``allowed``.
    """
    if not isinstance(item, dict):
        return []
    allowed_set = set(allowed)
    return [
        CheckFailure(f"{path}.{key}", not_implemented(f"{path}.{key}"))
        for key in sorted(item)
        if key not in allowed_set
    ]


def not_implemented(path: str) -> str:
    """The sentence for a field the stand-in refuses."""
    return (
        f"{path!r} is not implemented by the pulumi-docker test stand-in "
        "(tests/docker_standin); implement it there or leave it out of the program."
    )


def autoname(resource_name: str, seed: bytes) -> str:
    """A Pulumi-style name: the resource name, a dash and 7 random hex digits.

    Args:
        resource_name: The name the program gave the resource.
        seed: The engine's random seed, so that preview and update agree.

    Returns:
        The generated name.
    """
    rng = random.Random(seed or resource_name)
    return f"{resource_name}-{rng.getrandbits(28):07x}"


class ResourceHandler(ABC):
    """One Docker resource type: its field table and its lifecycle against Docker.

    Subclasses set the class attributes and implement the Docker calls; Check and Diff
    are driven by the field table and can be refined by overriding ``validate`` and
    ``diff``.
    """

    token: ClassVar[str]
    """The Pulumi type token, e.g. ``docker:index/network:Network``."""
    fields: ClassVar[tuple[Field, ...]]
    """The input fields the stand-in implements."""
    computed: ClassVar[tuple[str, ...]] = ()
    """Output-only fields, unknown until the object exists."""
    autonamed: ClassVar[bool] = True
    """Whether a missing ``name`` is generated from the resource name."""

    def field_kind(self, name: str) -> FieldKind:
        """The kind of an input field (fields outside the table are replaced)."""
        for spec in self.fields:
            if spec.name == name:
                return spec.kind
        return FieldKind.REPLACE

    def check(
        self, resource_name: str, olds: Props, news: Props, seed: bytes
    ) -> tuple[Props, list[CheckFailure]]:
        """Fill the defaults of new inputs and refuse what the stand-in lacks.

        Args:
            resource_name: The name the program gave the resource.
            olds: The previous inputs (empty on create).
            news: The inputs the program proposes; may hold unknowns in preview.
            seed: The engine's random seed for generated names.

        Returns:
            The checked inputs and the failures, one per refused property.
        """
        known = {spec.name for spec in self.fields}
        failures = [
            CheckFailure(key, not_implemented(key))
            for key in sorted(news)
            if key not in known and key != DEFAULTS_KEY
        ]
        inputs = {key: value for key, value in news.items() if key in known}
        for spec in self.fields:
            if spec.default is not None and inputs.get(spec.name) is None:
                inputs[spec.name] = spec.default
        if self.autonamed and inputs.get("name") is None:
            inputs["name"] = self._old_autoname(olds) or autoname(resource_name, seed)
            inputs[DEFAULTS_KEY] = ["name"]
        inputs = self.complete(inputs)
        failures += self.validate(inputs)
        return inputs, failures

    def complete(self, inputs: Props) -> Props:
        """Fill nested defaults into checked inputs; the default fills none."""
        return inputs

    def validate(self, inputs: Props) -> list[CheckFailure]:
        """Refuse bad values among checked inputs; unknown values must be skipped."""
        return []

    def diff(self, olds: Props, news: Props) -> DiffPlan:
        """Compare stored outputs with checked inputs, field by field.

        Args:
            olds: The outputs stored by the last operation.
            news: The checked new inputs.

        Returns:
            The changed fields and how they must be applied.
        """
        plan = DiffPlan()
        for spec in self.fields:
            old, new = olds.get(spec.name), news.get(spec.name)
            if spec.canonical is not None and not has_unknown(new):
                old, new = spec.canonical(reveal(old)), spec.canonical(reveal(new))
            if not same_value(old, new):
                plan.changed.append(spec.name)
        plan.replaces = [
            name for name in plan.changed if self.field_kind(name) is FieldKind.REPLACE
        ]
        plan.delete_before_replace = bool(plan.replaces) and self.fixed_name(news)
        return plan

    def fixed_name(self, news: Props) -> bool:
        """Whether the name was chosen by the program, so a new object would clash."""
        return "name" not in (news.get(DEFAULTS_KEY) or [])

    def preview(self, props: Props) -> Props:
        """Outputs to show in preview: the inputs, with computed fields unknown."""
        return {**props, **{name: UNKNOWN for name in self.computed}}

    @abstractmethod
    def create(self, api: docker.APIClient, props: Props) -> tuple[str, Props]:
        """Create the object; return its id and outputs."""

    @abstractmethod
    def read(
        self, api: docker.APIClient, resource_id: str, outputs: Props
    ) -> tuple[str, Props] | None:
        """Return the id and outputs of the live object, or ``None`` when it is gone."""

    def update(
        self, api: docker.APIClient, resource_id: str, olds: Props, news: Props
    ) -> Props:
        """Apply in-place changes and return the new outputs.

        The default applies nothing: every in-place field of the resource is stored.
        """
        return self.merge_outputs(olds, news)

    @abstractmethod
    def delete(self, api: docker.APIClient, resource_id: str, outputs: Props) -> bool:
        """Remove the object; tell whether anything was removed.

        An object already gone is not an error: the answer is then ``False``.
        """

    def merge_outputs(self, olds: Props, news: Props) -> Props:
        """New inputs plus the computed outputs kept from the stored ones."""
        kept = {name: olds[name] for name in (*self.computed, "id") if name in olds}
        return {**news, **kept}

    @staticmethod
    def _old_autoname(olds: Props) -> str | None:
        """The name generated earlier, kept while the program still gives none."""
        if "name" in (olds.get(DEFAULTS_KEY) or []):
            name = olds.get("name")
            return name if isinstance(name, str) else None
        return None
