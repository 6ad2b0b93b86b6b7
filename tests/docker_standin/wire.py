"""Property values as the Pulumi engine sends them to a provider.

The engine encodes property maps as ``google.protobuf.Struct``. Beyond plain JSON it
uses two sentinels that matter here: a string that stands for a value unknown during
preview, and a wrapper object around secret values (sent only to providers that answer
``acceptSecrets`` in ``Configure``, as this stand-in does). Secrets are unwrapped only
where a value is used, and kept wrapped in the outputs so the engine keeps them secret.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The string the engine sends for a value not known during preview."""

SIG_KEY = "4dabf18193072939515e22adb298388d"
"""The key that marks an object as a special Pulumi value."""

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""The signature value of a secret wrapper: ``{SIG_KEY: SECRET_SIG, "value": ...}``."""

Props = dict[str, Any]
"""A property map decoded from a Struct: JSON values, numbers as floats."""


def struct_to_dict(struct: struct_pb2.Struct | None) -> Props:
    """Decode a Struct into plain Python values (numbers become floats).

    Args:
        struct: The Struct from a request; ``None`` or an empty Struct gives ``{}``.

    Returns:
        The decoded property map, with ``null`` members of objects dropped.
    """
    if struct is None:
        return {}
    decoded: Props = _drop_nulls(json_format.MessageToDict(struct))
    return decoded


def _drop_nulls(value: Any) -> Any:
    """Drop ``null`` members of objects at any depth: absent and null mean the same."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value


def dict_to_struct(props: Props) -> struct_pb2.Struct:
    """Encode a property map into a Struct for a response.

    Args:
        props: Plain JSON-like values; ``None`` values are left out.

    Returns:
        The encoded Struct.
    """
    struct = struct_pb2.Struct()
    struct.update({key: value for key, value in props.items() if value is not None})
    return struct


def secret(value: Any) -> Props:
    """Wrap a value as a secret, the way the engine marks one."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def is_secret(value: Any) -> bool:
    """Tell whether a value is a secret wrapper."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """Remove every secret wrapper from a value, at any depth.

    Args:
        value: A decoded property value.

    Returns:
        The same value with each secret replaced by its plain content.
    """
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def has_unknown(value: Any) -> bool:
    """Tell whether a value is, or contains, the preview-time unknown sentinel."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, dict):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return False


def same_value(old: Any, new: Any) -> bool:
    """Compare two property values as the provider sees them.

    Secret wrappers are ignored, whole numbers compare equal whatever their type, and
    anything unknown differs.

    Args:
        old: The stored value, or ``None`` when absent.
        new: The proposed value, or ``None`` when absent.

    Returns:
        ``True`` when applying ``new`` would change nothing.
    """
    if has_unknown(new):
        return False
    return bool(reveal(old) == reveal(new))
