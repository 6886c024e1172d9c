"""End to end on the real embedded model (SmolLM2 via llama.cpp): no key, no network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.cli import main
from tests.conftest import REPO


def _processes_with(fragment: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in text:
            found.append(text)
    return found


def test_triage_eval_runs_on_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "triage", "--limit", "6", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    accuracy = result["metrics"]["accuracy"]
    assert accuracy["n"] == 6
    assert result["usage"]["errors"] == 0
    # The output is constrained to the five labels, so every answer is a valid label (right or wrong).
    labels = {"order_status", "return_policy", "technical_issue", "cancel_order", "other"}
    outputs = [item["output"] for item in result["items"]]
    assert set(outputs) <= labels, outputs
    assert result["model"]["endpoint"] == "local:smollm2-135m-instruct:base"
    # The server was stopped on exit.
    [log] = (tmp_path / ".flywheel/logs").glob("llama-server-*.log")
    port = log.stem.rsplit("-", 1)[1]
    assert not [p for p in _processes_with("llama_cpp.server") if f"--port {port} " in p]
    # A second run is answered from the cache: no server is even started.
    assert main(["run", "triage", "--limit", "6", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)[0]
    assert again["metrics"] == result["metrics"]
    assert len(list((tmp_path / ".flywheel/logs").glob("llama-server-*.log"))) == 1
