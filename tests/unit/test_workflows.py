"""GitHub Actions workflows: actionlint finds nothing, and the preview workflow keeps
its promises (pull requests, both stacks, a comment, minimal permissions).

CI cannot run a workflow here, so these checks are what stands between a typo in
`.github/workflows` and a pull request whose preview silently never ran.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import required_binary
from tests.stack_config import PROJECT_DIR

pytestmark = pytest.mark.unit

WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
PREVIEW = WORKFLOWS_DIR / "preview.yml"
PULUMI_ACTION = "pulumi/actions"
# The inputs of pulumi/actions v7's action.yml (the same as v6's). actionlint knows
# v6's inputs but not yet v7's, so this list stands in for its check.
PULUMI_ACTION_INPUTS = frozenset(
    {
        "command",
        "stack-name",
        "pulumi-version",
        "pulumi-version-file",
        "work-dir",
        "comment-on-pr",
        "comment-on-pr-number",
        "comment-on-summary",
        "github-token",
        "cloud-url",
        "secrets-provider",
        "parallel",
        "message",
        "config-map",
        "expect-no-changes",
        "diff",
        "replace",
        "exclude",
        "exclude-dependents",
        "target",
        "target-dependents",
        "policyPacks",
        "policyPackConfigs",
        "refresh",
        "upsert",
        "remove",
        "edit-pr-comment",
        "color",
        "exclude-protected",
        "plan",
        "suppress-outputs",
        "suppress-progress",
        "always-include-summary",
        "continue-on-error",
        "log-verbosity",
        "log-flow",
        "debug",
    }
)


def _workflow_files() -> list[Path]:
    return sorted(WORKFLOWS_DIR.glob("*.yml")) + sorted(WORKFLOWS_DIR.glob("*.yaml"))


def _preview() -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(PREVIEW.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def _preview_job() -> dict[str, Any]:
    job: dict[str, Any] = _preview()["jobs"]["preview"]
    return job


def _pulumi_step() -> dict[str, Any]:
    steps = [
        step
        for step in _preview_job()["steps"]
        if str(step.get("uses", "")).startswith(f"{PULUMI_ACTION}@")
    ]
    assert len(steps) == 1, f"expected one {PULUMI_ACTION} step, found {len(steps)}"
    return steps[0]


def test_actionlint_with_every_workflow_reports_nothing() -> None:
    actionlint = required_binary("ZKM_ACTIONLINT_BIN")
    files = _workflow_files()
    assert files, f"no workflow in {WORKFLOWS_DIR}"
    command = [str(actionlint), "-no-color"]
    # Without shellcheck actionlint skips `run:` scripts; prepare.sh provides it.
    shellcheck = os.environ.get("ZKM_SHELLCHECK_BIN")
    if shellcheck:
        command.append(f"-shellcheck={shellcheck}")

    result = subprocess.run(
        [*command, *(str(path) for path in files)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, (
        f"actionlint exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )


def test_preview_workflow_runs_on_pull_request_not_pull_request_target() -> None:
    triggers = _preview()["on"]

    assert "pull_request" in triggers
    # pull_request_target would run a fork's code with the secrets and write access.
    assert "pull_request_target" not in triggers


def test_preview_workflow_previews_dev_and_prod_stacks() -> None:
    stacks = _preview_job()["strategy"]["matrix"]["stack"]
    step = _pulumi_step()["with"]

    assert sorted(stacks) == ["dev", "prod"]
    assert step["command"] == "preview"
    assert step["stack-name"] == "${{ matrix.stack }}"
    for stack in stacks:
        assert (PROJECT_DIR / f"Pulumi.{stack}.yaml").is_file(), stack


def test_preview_workflow_posts_the_preview_on_the_pull_request() -> None:
    step = _pulumi_step()["with"]

    assert step["comment-on-pr"] is True
    assert step["github-token"] == "${{ secrets.GITHUB_TOKEN }}"


def test_preview_workflow_grants_only_read_contents_and_write_pull_requests() -> None:
    workflow = _preview()

    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    for name, job in workflow["jobs"].items():
        assert "permissions" not in job, f"job {name} widens the permissions"


def test_preview_workflow_cancels_superseded_previews_per_pull_request() -> None:
    concurrency = _preview()["concurrency"]

    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


def test_preview_workflow_takes_state_and_passphrase_from_documented_secrets() -> None:
    step = _pulumi_step()
    header = PREVIEW.read_text().split("\nname:", 1)[0]

    assert step["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    passphrase = step["env"]["PULUMI_CONFIG_PASSPHRASE"]
    assert passphrase == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    for secret in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"):
        assert secret in header, f"{secret} is not documented at the top"


def test_preview_workflow_keeps_refresh_off() -> None:
    # A refresh would need the deploy host's Docker engine and its loopback NATS.
    assert _pulumi_step()["with"]["refresh"] is False


def test_preview_workflow_installs_requirements_into_project_virtualenv() -> None:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    virtualenv = project["runtime"]["options"]["virtualenv"]
    steps = _preview_job()["steps"]
    python = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-")]
    scripts = "\n".join(str(step.get("run", "")) for step in steps)

    assert python[0]["with"]["python-version"] == "3.11"
    assert f"-m venv {virtualenv}" in scripts
    assert f"{virtualenv}/bin/pip install" in scripts
    assert "-r requirements.txt" in scripts


def test_preview_workflow_pins_every_action_to_a_major_version() -> None:
    uses = [step["uses"] for step in _preview_job()["steps"] if "uses" in step]

    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", ref), ref


def test_preview_workflow_gives_pulumi_action_only_inputs_it_declares() -> None:
    unknown = set(_pulumi_step()["with"]) - PULUMI_ACTION_INPUTS

    assert not unknown, f"{PULUMI_ACTION} has no inputs {sorted(unknown)}"
