"""Install into your own repository: build the wheel, install it with the `local` extra into a fresh virtual
environment outside the checkout (pip's cache and the configured index only), then `init`, `validate` and a run
there, through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from runner import __version__
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _answer(body: dict[str, Any]) -> str:
    text = str(body["messages"][-1]["content"]).lower()
    return "billing" if any(w in text for w in ("charge", "refund", "card", "vat")) else "other"


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, REPO, cwd=tmp_path)
    wheel = next(dist.glob("flywheel_evals-*.whl"))
    assert wheel.name == f"flywheel_evals-{__version__}-py3-none-any.whl"

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    _sh(bin_dir / "python", "-m", "pip", "install", "--quiet", f"{wheel}[local]", cwd=tmp_path)
    exe = bin_dir / "flywheel"
    where = _sh(bin_dir / "python", "-c", "import runner; print(runner.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(env_dir)  # the installed copy, not this checkout

    project = tmp_path / "my-app"
    project.mkdir()
    _sh("git", "init", "-q", cwd=project)
    out = _sh(exe, "init", "--provider", "openai", cwd=project)
    assert out.splitlines()[-1] == "next: flywheel validate && flywheel run triage"
    sub = project / "specs" / "triage"
    assert _sh(exe, "validate", cwd=sub) == (
        "ok: 1 Model, 1 Prompt, 1 Dataset, 1 Grader, 1 Eval in 2 files; 12 dataset items\n"
    )
    with FakeOpenAI(responder=_answer) as fake:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OPENAI_BASE_URL": fake.base_url}
        env["OPENAI_API_KEY"] = "sk-test"
        _sh(exe, "run", "triage", cwd=sub, env=env)
        assert fake.served == 12
    result = json.loads((project / ".flywheel/results/triage/app-model.json").read_text())
    tickets = [json.loads(line) for line in (sub / "tickets.jsonl").read_text().splitlines()]
    expected = sum(_answer({"messages": [{"content": t["message"]}]}) == t["label"] for t in tickets) / len(tickets)
    assert result["metrics"]["accuracy"]["value"] == pytest.approx(expected)
