"""Runs the unmodified program through the real Pulumi engine, offline.

The Automation API drives the Pulumi CLI built by `tests/env/prepare.sh`, with a
temporary `PULUMI_HOME` and file backend. The program is `__main__.py` itself, run
inline, so no Python language host is needed. Docker resources go through the
test-only stand-in for the pulumi-docker plugin (`tests/docker_standin`), which acts
on the real Docker engine; users get the real plugin from Pulumi.
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from tests.conftest import free_port, required_env
from tests.docker_standin.install import install
from tests.stack_config import PROJECT, PROJECT_DIR

# Suffix of this run's stack names, so that two runs on one Docker engine (two
# clones, or CI beside a developer) never touch each other's containers.
RUN_ID = uuid.uuid4().hex[:6]


def _program() -> None:
    runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")


def offline_env(home: Path, backend: Path) -> dict[str, str]:
    """Returns the environment that keeps the engine off the network."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": backend.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        # The dynamic provider process imports `bootstrap` and `components`.
        "PYTHONPATH": str(PROJECT_DIR),
        "PULUMI_PYTHON_CMD": sys.executable,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def open_stack(workdir: Path, stack_name: str, config: Mapping[str, str]) -> auto.Stack:
    """Creates (or selects) `stack_name` with the dev stack's settings plus `config`.

    Args:
        workdir: An empty folder for the project files, state and PULUMI_HOME.
        stack_name: The stack; it prefixes every Docker name.
        config: Plain settings to set on top of the dev stack's (key without the
            project prefix).
    """
    cli_root = Path(required_env("ZKM_PULUMI_DIR")).parent
    project_dir = workdir / "project"
    home, backend = workdir / "pulumi-home", workdir / "state"
    for folder in (project_dir, home, backend):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project_dir / "Pulumi.yaml")
    shutil.copy(
        PROJECT_DIR / "Pulumi.dev.yaml", project_dir / f"Pulumi.{stack_name}.yaml"
    )
    install(home, sys.executable)

    env = offline_env(home, backend)
    os.environ.update(env)
    stack = auto.create_or_select_stack(
        stack_name=stack_name,
        project_name=PROJECT,
        program=_program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(project_dir),
            pulumi_home=str(home),
            env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(cli_root)),
        ),
    )
    stack.set_all_config(
        {f"{PROJECT}:{key}": auto.ConfigValue(value) for key, value in config.items()}
    )
    return stack


def open_local_stack(workdir: Path, stack_name: str) -> auto.Stack:
    """Opens `stack_name` with the dev settings, the local images and free ports.

    Free ports keep a dev stack running on the same machine out of the way.
    """
    return open_stack(
        workdir,
        stack_name,
        {
            "natsImage": required_env("ZKM_NATS_IMAGE"),
            "centrifugoImage": required_env("ZKM_CENTRIFUGO_IMAGE"),
            "redisImage": required_env("ZKM_REDIS_IMAGE"),
            "natsPort": str(free_port()),
            "natsMonitorPort": str(free_port()),
            "centrifugoPort": str(free_port()),
            "centrifugoInternalPort": str(free_port()),
        },
    )


def state_text(stack: auto.Stack) -> str:
    """Returns every file the file backend holds (state, backups, history) as text.

    `Stack.export_stack` asks the CLI for secrets in plain text, so tests looking
    for leaked secrets read what is stored instead.
    """
    backend = Path(
        stack.workspace.env_vars["PULUMI_BACKEND_URL"].removeprefix("file://")
    )
    return "\n".join(
        path.read_text(errors="replace")
        for path in backend.rglob("*")
        if path.is_file()
    )


def outputs(stack: auto.Stack) -> dict[str, Any]:
    """Returns the stack's outputs as plain values, secrets included."""
    return {name: output.value for name, output in stack.outputs().items()}
