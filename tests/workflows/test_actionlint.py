"""actionlint (with shellcheck) on every workflow and on action.yml; shellcheck on the action's scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent
WORKFLOWS = [*sorted((REPO / ".github/workflows").glob("*.yml")), REPO / "docs/pr-evals-target.yml"]
"""This repository's workflows, and the pull_request_target template documented in docs/trust.md."""


def _run(tool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} is missing: the dev extra installs it (bash scripts/install)")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(exe), *args], cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_workflow_is_linted() -> None:
    assert {p.name for p in WORKFLOWS} == {
        "ci.yml",
        "continuous-eval.yml",
        "pr-evals.yml",
        "retrain.yml",
        "pr-evals-target.yml",
    }


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow: Path) -> None:
    # `uses: ./` steps are checked against action.yml's inputs too.
    proc = _run("actionlint", "-shellcheck", str(BIN / "shellcheck"), str(workflow.relative_to(REPO)))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def action_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """action.yml's composite steps as a reusable workflow, so actionlint checks their expressions, the
    `steps.*.outputs` they read and their `run:` scripts (actionlint lints workflows, not action metadata)."""
    inputs = {
        name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
        for name, spec in action["inputs"].items()
        if "${{" not in str(spec.get("default", ""))
    }
    inputs.update(
        {name: {"type": "string", "required": False} for name, spec in action["inputs"].items() if name not in inputs}
    )
    return {
        "on": {
            "workflow_call": {
                "inputs": inputs,
                "outputs": {name: {"value": f"${{{{ jobs.action.outputs.{name} }}}}"} for name in action["outputs"]},
            }
        },
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "env": {"GITHUB_ACTION_PATH": "."},
                "outputs": {name: spec["value"] for name, spec in action["outputs"].items()},
                "steps": action["runs"]["steps"],
            }
        },
    }


def test_action_yml_passes_actionlint() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    proc = _run(
        "actionlint", "-shellcheck", str(BIN / "shellcheck"), "-", stdin=yaml.safe_dump(action_as_workflow(action))
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_lint_catches_a_broken_step() -> None:
    """The synthesized workflow really carries the action's steps: a typo in a step output is reported."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    action["runs"]["steps"].append({"shell": "bash", "run": "echo ${{ steps.nosuchstep.outputs.x }}"})
    proc = _run("actionlint", "-", stdin=yaml.safe_dump(action_as_workflow(action)))
    assert proc.returncode == 1
    assert 'property "nosuchstep" is not defined' in proc.stdout


def test_action_scripts_pass_shellcheck() -> None:
    scripts = sorted(str(p.relative_to(REPO)) for p in (REPO / "scripts/ci").glob("*.sh"))
    assert scripts
    proc = _run("shellcheck", *scripts)
    assert proc.returncode == 0, proc.stdout + proc.stderr
