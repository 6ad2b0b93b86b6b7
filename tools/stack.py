"""Reads a value a command needs from the environment or from the stack's outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


class StackValueError(Exception):
    """A value could be read neither from the environment nor from the stack."""


def stack_value(output: str, env: str, stack: str | None) -> str:
    """Returns `$env` when set, else the stack output `output`.

    Args:
        output: Name of the stack output, e.g. "tokenHmacSecret".
        env: Environment variable that overrides the output.
        stack: Stack to read; Pulumi's selected stack when None.

    Raises:
        StackValueError: Neither source has the value.
    """
    if os.environ.get(env):
        return os.environ[env]
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise StackValueError(
            f"{env} is not set and the `pulumi` command is not on PATH to read the "
            f"stack output {output!r}; set {env} or install the Pulumi CLI."
        )
    command = [pulumi, "stack", "output", output, "--json", "--show-secrets"]
    if stack:
        command += ["--stack", stack]
    result = subprocess.run(
        command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StackValueError(
            f"reading the stack output {output!r} failed: {result.stderr.strip()}; "
            f"deploy the stack first (`pulumi up`) or set {env}."
        )
    value = json.loads(result.stdout)
    if not isinstance(value, str):
        raise StackValueError(f"the stack output {output!r} is not a string: {value!r}")
    return value
