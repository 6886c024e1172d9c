"""The engine through the public CLI against the fake server: requests are counted at the fake."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI, Fault
from tests.conftest import json_object
from tests.engine.conftest import WORDS


def _result(repo: Path) -> dict[str, Any]:
    return json_object((repo / ".flywheel/results/words/fake.json").read_text())


def test_run_grades_every_item_and_writes_a_result(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "words"]) == 0
    assert fake.served == 20
    result = _result(engine_repo)
    assert result["metrics"]["accuracy"]["value"] == 0.5
    assert result["metrics"]["accuracy"]["n"] == 20
    assert result["metrics"]["accuracy"]["floor_ok"] is True
    assert [i["id"] for i in result["items"]][:3] == ["w00", "w01", "w02"]
    assert [i["scores"]["accuracy"]["pass"] for i in result["items"]][:4] == [1.0, 0.0, 1.0, 0.0]
    assert result["usage"]["cost_usd"] > 0
    assert result["provenance"]["hashes"]["dataset"]
    assert "accuracy" in capsys.readouterr().out


def test_cached_rerun_sends_nothing(engine_repo: Path, fake: FakeOpenAI) -> None:
    assert main(["run", "words"]) == 0
    first = _result(engine_repo)
    (engine_repo / ".flywheel/store.sqlite").exists()
    assert main(["run", "words"]) == 0
    assert fake.count == 20
    assert _result(engine_repo)["metrics"] == first["metrics"]


def test_no_cache_sends_again(engine_repo: Path, fake: FakeOpenAI) -> None:
    assert main(["run", "words", "--limit", "3"]) == 0
    assert main(["run", "words", "--limit", "3", "--repeats", "2"]) == 0
    assert fake.served == 6  # repeat 0 cached, repeat 1 new: repeats are independent samples
    assert main(["run", "words", "--limit", "3", "--no-cache", "--model", "fake"]) == 0
    assert fake.served == 9


def test_retries_finish_every_item(engine_repo: Path, fake: FakeOpenAI) -> None:
    fake.add_faults(Fault(status=429, retry_after="0"), Fault(status=500), Fault(status=503), Fault(body="{not json"))
    assert main(["run", "words"]) == 0
    assert fake.served == 20
    assert fake.count == 24
    assert _result(engine_repo)["usage"]["errors"] == 0


def test_budget_refused_before_any_request(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = engine_repo / "specs/eval.yaml"
    spec.write_text(spec.read_text().replace("usd: 1.0", "usd: 0.0001"))
    assert main(["run", "words"]) == 1
    assert fake.count == 0
    err = capsys.readouterr().err
    assert err.startswith("error: Eval 'words' on fake: worst-case estimate $0.")
    assert err.rstrip().endswith(
        "> budget $0.0001 (20 uncached calls); nothing was sent; raise `budget` or use --limit"
    )


def test_record_then_replay_sends_nothing_and_misses_fail(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "words", "--limit", "5", "--record", "cassettes"]) == 0
    lines = (engine_repo / "cassettes/cassette.jsonl").read_text().splitlines()
    assert len(lines) == 5
    sent = fake.count
    assert main(["run", "words", "--limit", "5", "--replay", "cassettes", "--no-cache"]) == 0
    assert fake.count == sent
    assert main(["run", "words", "--limit", "6", "--replay", "cassettes"]) == 1
    assert fake.count == sent
    err = capsys.readouterr().err
    assert "cassettes/cassette.jsonl: no recorded response for item 'w05' of Eval 'words' on fake" in err
    assert "nothing was sent; re-record with: flywheel run ... --record cassettes" in err


def _stored(repo: Path) -> int:
    path = repo / ".flywheel/store.sqlite"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT count(*) FROM responses").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:  # created but no table yet
        return 0


def test_killed_run_resumes_without_resending_completed_items(engine_repo: Path) -> None:
    with FakeOpenAI(latency_s=0.15) as slow:
        spec = engine_repo / "specs/eval.yaml"
        text = spec.read_text()
        base = text.split("base_url: ")[1].split("\n")[0]
        spec.write_text(text.replace(base, slow.base_url).replace("concurrency: 4", "concurrency: 2"))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-c", "import sys; from runner.cli import main; sys.exit(main())", "run", "words"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill once some responses are stored (not merely served: under load the client stores them later).
        deadline = time.monotonic() + 30
        while _stored(engine_repo) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert slow.served < 20
        stored = _stored(engine_repo)
        assert stored >= 6
        sent_before = slow.count
        assert main(["run", "words"]) == 0
        # Exactly the items without a stored response are sent again; a completed one never is.
        assert slow.count - sent_before == 20 - stored
        assert _result(engine_repo)["completed_cells"] == 20


def test_every_grader_kind_runs_through_the_cli(engine_repo: Path, fake: FakeOpenAI) -> None:
    """A python grader (sandboxed subprocess), a judge (through the same client) and a multi, in one run."""
    spec = engine_repo / "specs/eval.yaml"
    spec.write_text(
        spec.read_text()
        + """---
apiVersion: flywheel/v1
kind: Grader
metadata:
  name: length
spec:
  type: python
  source: |
    def grade(sample, item):
        return 1.0 if sample["output_text"] == item["word"] else 0.0
---
apiVersion: flywheel/v1
kind: Grader
metadata:
  name: judge
spec:
  type: label_model
  model: fake
  labels: ["yes", "no"]
  passing_labels: ["yes"]
  input:
    - role: user
      content: "Is {{ sample.output_text }} right?"
---
apiVersion: flywheel/v1
kind: Grader
metadata:
  name: both
spec:
  type: multi
  graders:
    exact:
      type: string_check
      input: "{{ sample.output_text }}"
      reference: "{{ item.word }}"
      operation: eq
    code:
      type: python
      source: |
        def grade(sample, item):
            return 0.5
  calculate_output: "exact * code * 2"
---
apiVersion: flywheel/v1
kind: Eval
metadata:
  name: graded
spec:
  dataset: words
  split: test
  prompt: echo
  models: [fake]
  metrics:
    - {name: python, grader: length}
    - {name: judged, grader: judge}
    - {name: combined, grader: both, aggregate: mean}
"""
    )
    assert main(["run", "graded", "--limit", "4"]) == 0
    result = json.loads((engine_repo / ".flywheel/results/graded/fake.json").read_text())
    python = [i["scores"]["python"]["pass"] for i in result["items"]]
    combined = [i["scores"]["combined"]["score"] for i in result["items"]]
    assert python == [1.0, 0.0, 1.0, 0.0]  # the fake echoes even-numbered words
    assert combined == python
    # The fake answers the judge with non-JSON, so every label_model grade is an error, not a crash.
    assert result["metrics"]["judged"]["value"] == 0.0
    # 4 model calls + 3 judge calls: two items both answered "wrong", so their judge requests are the same
    # request and the second is answered from the cache.
    assert fake.served == 7


def test_with_repeats_the_table_floors_and_gate_use_one_per_item_value(
    engine_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, int] = {}

    def two_of_three(body: dict[str, Any]) -> str:
        # Repeat k of a word is its k-th identical request: even words right, right, wrong; odd words always wrong.
        word = str(body["messages"][-1]["content"])
        seen[word] = seen.get(word, 0) + 1
        return word if WORDS.index(word) % 2 == 0 and seen[word] % 3 != 0 else "wrong"

    with FakeOpenAI(responder=two_of_three) as fake:
        spec = engine_repo / "specs/eval.yaml"
        text = spec.read_text()
        base = text.split("base_url: ")[1].split("\n")[0]
        text = text.replace(base, fake.base_url).replace("concurrency: 4", "concurrency: 1")
        spec.write_text(text.replace("value: {lower: 0.5}", "value: {lower: 0.45}"))
        assert main(["run", "words", "--repeats", "3"]) == 0
    result = _result(engine_repo)
    passes = [i["scores"]["accuracy"]["pass"] for i in result["items"]]
    # Even words passed 2 of 3 repeats (a majority: 1), odd words none; the mean pass share would be 0.333.
    assert passes == [1.0, 0.0] * 10
    accuracy = result["metrics"]["accuracy"]
    assert accuracy["value"] == 0.5 == sum(passes) / len(passes)
    assert accuracy["floor_ok"] is True  # the floor (0.45) reads the value the table prints, as the gate does
    row = next(line for line in capsys.readouterr().out.splitlines() if " accuracy " in line)
    assert row.split()[3:4] == ["0.500"]
