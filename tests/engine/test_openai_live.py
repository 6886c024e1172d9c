"""Opt-in: the triage eval on OpenAI's API (`pytest --run-openai` with OPENAI_API_KEY; costs well under a cent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.cli import main

REPO = Path(__file__).parents[2]


@pytest.mark.openai
def test_triage_on_openai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "triage", "--model", "gpt-4o-mini", "--limit", "5"]) == 0
    result = json.loads(next((tmp_path / ".flywheel/results/triage").glob("*.json")).read_text())
    assert result["completed_cells"] == 5
    assert result["usage"]["errors"] == 0
    assert result["usage"]["cost_usd"] > 0
    assert main(["run", "triage", "--model", "gpt-4o-mini", "--limit", "5"]) == 0  # cached: nothing paid twice
