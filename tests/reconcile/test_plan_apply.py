"""plan / apply through the CLI against the fake server: exactly the changed cells are sent."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import json_object


def _plan_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["plan", "--json"]) in (0, 2)
    return json_object(capsys.readouterr().out)


def _edit(repo: Path, old: str, new: str) -> None:
    spec = repo / "specs/eval.yaml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))


def test_fresh_plan_lists_everything_and_exits_2(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Flywheel plan (state serial 0, lineage new)"
    assert lines[2:5] == [
        "  + run      shout · fake      20 cells  never run  ~$0.0009",
        "  + run      words · fake      20 cells  never run  ~$0.0010",
        "",
    ]
    assert lines[-1] == "Plan: 40 cells to run, 0 to re-grade, 0 unchanged; estimated cost $0.0019."
    assert fake.count == 0


def test_apply_then_plan_says_nothing_to_do(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    assert fake.count == 40
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "No changes: every eval is up to date with the specs."
    assert main(["apply"]) == 0
    assert fake.count == 40


def test_editing_one_prompt_runs_only_its_cells(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    _edit(engine_repo, "Say it loud: {{ item.word }}", "Shout it: {{ item.word }}")
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[2:4] == [
        "  + run      shout · fake      20 cells  prompt changed  ~$0.0009",
        "  = reuse    words · fake      20 cells  up to date",
    ]
    sent = fake.count
    assert main(["apply"]) == 0
    assert fake.count - sent == 20
    assert {b["messages"][-1]["content"].split(":")[0] for b in fake.requests[sent:]} == {"Shout it"}


def test_changing_a_grader_regrades_without_calling_the_model(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    _edit(engine_repo, "  operation: eq\n", "  operation: ilike\n")
    plan = _plan_json(capsys)
    assert [(a["type"], a["eval"], a["cells"], a["reasons"]) for a in plan["actions"]] == [
        ("regrade", "shout", 20, ["grader 'exact' changed"]),
        ("regrade", "words", 20, ["grader 'exact' changed"]),
    ]
    sent = fake.count
    assert main(["apply"]) == 0
    assert fake.count == sent


def test_new_items_run_only_the_new_items(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    data = engine_repo / "specs/words.jsonl"
    data.write_text(data.read_text() + '{"id": "w20", "word": "zulu", "split": "test"}\n')
    plan = _plan_json(capsys)
    runs = [(a["eval"], a["cells"], a["reasons"]) for a in plan["actions"] if a["type"] == "run"]
    assert runs == [("shout", 1, ["1 item new"]), ("words", 1, ["1 item new"])]
    sent = fake.count
    assert main(["apply"]) == 0
    assert fake.count - sent == 2
    assert [b["messages"][-1]["content"].split()[-1] for b in fake.requests[sent:]] == ["zulu", "zulu"]


def test_saved_plan_goes_stale_after_another_apply(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--out", "plan.json"]) == 0
    assert main(["apply"]) == 0
    capsys.readouterr()
    assert main(["apply", "plan.json"]) == 1
    assert capsys.readouterr().err == (
        "error: saved plan is stale: it was made at state serial 0, the state is now at serial 2; "
        "run: flywheel plan --out PLAN again\n"
    )


def test_saved_plan_applies(engine_repo: Path, fake: FakeOpenAI) -> None:
    assert main(["plan", "--out", "plan.json"]) == 0
    assert main(["apply", "plan.json"]) == 0
    assert fake.count == 40


def test_apply_killed_with_sigkill_resumes_with_state_intact(engine_repo: Path) -> None:
    with FakeOpenAI(latency_s=0.15) as slow:
        spec = engine_repo / "specs/eval.yaml"
        text = spec.read_text()
        url = text.split("base_url: ")[1].split("\n")[0]
        spec.write_text(text.replace(url, slow.base_url).replace("concurrency: 4", "concurrency: 2"))
        cmd = [sys.executable, "-c", "import sys; from runner.cli import main; sys.exit(main())", "apply"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while slow.served < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 8 <= slow.served < 40
        state_file = engine_repo / ".flywheel/state.json"
        if state_file.exists():  # whatever was written is whole (atomic replace), never a torn file
            json.loads(state_file.read_text())
        with sqlite3.connect(engine_repo / ".flywheel/store.sqlite") as db:
            stored = db.execute("SELECT count(*) FROM responses").fetchone()[0]
        sent_before = slow.count
        assert main(["apply"]) == 0  # the dead process's lock is taken over, not waited on
        assert slow.count - sent_before == 40 - stored  # completed cells are not sent again
        assert main(["plan", "--detailed-exitcode"]) == 0
        state = json.loads(state_file.read_text())
        assert state["serial"] >= 1 and state["lineage"]
