"""The stack config the Pulumi CLI would hand the program, read from the project files.

Unit tests run the program without the CLI, so they apply `Pulumi.yaml`'s defaults
and a stack file's values themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "zk-messenger"


def _as_config_text(value: Any) -> str:
    # The CLI hands every value to the program as a string; lists go as JSON.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str = "dev", **overrides: Any) -> dict[str, str]:
    """Returns `{"zk-messenger:key": "value"}` for a stack, with overrides applied.

    An override of None removes the key.
    """
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {
        key: spec["default"]
        for key, spec in project.get("config", {}).items()
        if "default" in spec
    }
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        stack_values = yaml.safe_load(stack_file.read_text()).get("config", {})
        for full_key, value in stack_values.items():
            values[full_key.removeprefix(f"{PROJECT}:")] = value
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return {f"{PROJECT}:{key}": _as_config_text(value) for key, value in values.items()}


def defaults() -> dict[str, Any]:
    """Returns Pulumi.yaml's declared defaults by key."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    return {k: v.get("default") for k, v in project.get("config", {}).items()}
