"""End to end on the real embedded model (SmolLM2 via llama.cpp): no key, no network."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
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


def _stored(repo: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{repo / '.flywheel/store.sqlite'}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT count(*) FROM responses").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_no_server_is_left_after_flywheel_is_stopped_mid_run(tmp_path: Path, how: signal.Signals) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    cmd = [sys.executable, "-c", "import sys; from runner.cli import main; sys.exit(main())", "run", "triage"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while _stored(tmp_path) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be stopped"
    [log] = (tmp_path / ".flywheel/logs").glob("llama-server-*.log")
    port = log.stem.rsplit("-", 1)[1]
    assert [p for p in _processes_with("llama_cpp.server") if f"--port {port} " in p]
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=60)
    if how == signal.SIGTERM:
        assert proc.returncode == 130
        assert stderr.decode().strip().endswith("flywheel: interrupted")
    deadline = time.monotonic() + 30
    while [p for p in _processes_with("llama_cpp.server") if f"--port {port} " in p] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in _processes_with("llama_cpp.server") if f"--port {port} " in p]
    assert not _processes_with(f"runner.subproc_guard --log {log}")
