"""`flywheel baseline update` through the CLI: only whole, clean runs become baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from tests.conftest import json_object


def _baseline(repo: Path) -> dict[str, Any]:
    return json_object((repo / "baselines/words/fake.json").read_text())


def test_a_whole_run_becomes_the_baseline(engine_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "words"]) == 0
    capsys.readouterr()
    assert main(["baseline", "update", "--eval", "words"]) == 0
    assert capsys.readouterr().out.splitlines() == ["wrote baselines/words/fake.json", "wrote baselines/history.jsonl"]
    assert len(_baseline(engine_repo)["items"]) == 20


def test_partial_runs_are_refused_unless_allowed(engine_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "words"]) == 0
    assert main(["baseline", "update", "--eval", "words"]) == 0
    history = (engine_repo / "baselines/history.jsonl").read_text()
    assert main(["run", "words", "--limit", "6", "--repeats", "2"]) == 0
    capsys.readouterr()
    assert main(["baseline", "update", "--eval", "words"]) == 1
    assert capsys.readouterr().err == (
        "error: refusing to update baselines:\n"
        "  .flywheel/results/words/fake.json: 6 of the Eval's 20 items (--limit); repeats 2, the Eval says 1\n"
        "re-run the whole Eval (flywheel apply), or pass --allow-partial to write partial runs anyway\n"
    )
    assert len(_baseline(engine_repo)["items"]) == 20  # untouched
    assert (engine_repo / "baselines/history.jsonl").read_text() == history
    assert main(["baseline", "update", "--eval", "words", "--allow-partial"]) == 0
    assert len(_baseline(engine_repo)["items"]) == 6


def test_a_model_the_eval_does_not_list_is_partial(engine_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = engine_repo / "specs/eval.yaml"
    text = spec.read_text()
    model = text.split("---")[0].replace("name: fake", "name: other")
    spec.write_text(text + "\n---\n" + model)
    assert main(["run", "words", "--model", "other"]) == 0
    capsys.readouterr()
    assert main(["baseline", "update", "--eval", "words"]) == 1
    err = capsys.readouterr().err
    assert "  .flywheel/results/words/other.json: model 'other' is not one of the Eval's models (fake)\n" in err
    assert not (engine_repo / "baselines").exists()


def test_dry_run_prints_the_change_and_writes_nothing(engine_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "words"]) == 0
    capsys.readouterr()
    assert main(["baseline", "update", "--eval", "words", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would write baselines/words/fake.json: accuracy 0.500 (n 20, new)",
        "would append to baselines/history.jsonl; nothing was written",
    ]
    assert not (engine_repo / "baselines").exists()
    assert main(["baseline", "update", "--eval", "words"]) == 0
    capsys.readouterr()
    assert main(["baseline", "update", "--eval", "words", "--dry-run"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[0]
        == "would write baselines/words/fake.json: accuracy 0.500 -> 0.500 (n 20 -> 20)"
    )
