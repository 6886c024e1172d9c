"""The retraining loop through `flywheel plan` / `flywheel apply`, with the fake backend and a fake model server:
triggers in the plan, training, challenger gated against the champion, alias moved, lineage written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.documents.io import parse_baseline
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import copy_fixture, git

CHALLENGER = {"skill": "good"}
"""How a fine-tuned ('-fake-') model answers: `good` (always right), `bad` (always wrong) or `barely` (right where
the base model is, and on two more test words: better, but not significantly)."""


def _base_is_right(word: str) -> bool:
    return len(word) % 3 == 0  # about a third of the test words


def responder(body: dict[str, Any]) -> str:
    word = str(body["messages"][-1]["content"])
    if "-fake-" in str(body["model"]):
        right = {"good": True, "bad": False, "barely": _base_is_right(word) or word in ("umber", "vale")}
        return word.upper() if right[CHALLENGER["skill"]] else "wrong"
    return word.upper() if _base_is_right(word) else "wrong"


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    CHALLENGER["skill"] = "good"
    with FakeOpenAI(responder=responder) as fake:
        yield fake


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> Path:
    dest = copy_fixture("loop", tmp_path / "repo", server.base_url, "specs/specs.yaml")
    (dest / ".gitignore").write_text(".flywheel/\n")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.email", "t@example.invalid")
    git(dest, "config", "user.name", "t")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "init")
    monkeypatch.chdir(dest)
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    return dest


def _lineage(repo: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (repo / "baselines/lineage.jsonl").read_text().splitlines()]


def test_plan_shows_the_retrain_with_its_reason(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "  ~  retrain upper-sft (sft, backend fake): never trained\n" in out
    assert out.rstrip().endswith("1 recipe to retrain; estimated cost $0.0000.")
    assert main(["plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["retrains"] == [
        {"recipe": "upper-sft", "backend": "fake", "method": "sft", "reasons": ["never trained"]}
    ]


def test_apply_trains_gates_and_promotes_the_challenger(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply"]) == 0
    out = capsys.readouterr().out
    [entry] = _lineage(repo)
    model_id = entry["model_id"]
    assert model_id.startswith("student-base-fake-")
    assert entry["decision"] == "promoted"
    assert (entry["recipe"], entry["backend"], entry["n_examples"], entry["eval"]) == ("upper-sft", "fake", 20, "upper")
    [metric] = entry["metrics"]
    assert metric["challenger"] == 1.0 and metric["champion"] < 0.5 and metric["verdict"] == "PASS"
    assert metric["p_better"] < 1e-6
    # The results the promotion gate read, kept (scores only) where the baselines are committed, so they outlive CI.
    promotion = f"baselines/promotions/upper-sft/{entry['recipe_hash'][:16]}"  # one folder per model
    assert entry["reports"] == {"champion": f"{promotion}/champion.json", "challenger": f"{promotion}/challenger.json"}
    assert all((repo / path).is_file() for path in entry["reports"].values())
    champion = parse_baseline((repo / promotion / "champion.json").read_text(), "champion.json")
    assert champion.header.metrics["accuracy"].value == metric["champion"]
    assert "output" not in (repo / promotion / "challenger.json").read_text()
    assert f"upper-sft: promoted {model_id}: upper on 40 items: accuracy" in out
    lines = out.splitlines()
    assert lines[-1] == "Apply complete: 1 target(s) run, 0 forgotten, 1 recipe trained; state serial 1."
    challenger = [line.split() for line in lines if "student@challenger" in line]
    assert challenger[0][:4] == ["upper", "student@challenger", "accuracy", "1.000"]
    spec = (repo / "specs/specs.yaml").read_text()
    assert f"    champion: {model_id}\n    challenger: {model_id}\n" in spec
    assert "model: student-base   # the base weights" in spec  # comments survive the edit
    # The plan is now quiet about the recipe: the data it was trained on has not changed.
    assert main(["plan"]) == 0
    assert "retrain" not in capsys.readouterr().out


def test_worse_challenger_is_not_promoted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    CHALLENGER["skill"] = "bad"
    assert main(["apply"]) == 0
    [entry] = _lineage(repo)
    assert entry["decision"] == "kept"
    assert "FAIL; the champion stays" in entry["reason"]
    spec = (repo / "specs/specs.yaml").read_text()
    assert "    champion: student-base\n" in spec
    assert f"    challenger: {entry['model_id']}\n" in spec


def _barely_better(repo: Path, require: str = "better") -> Path:
    """A challenger two items better than the champion; the floor lowered so that both clear it and the margin
    widened so that 40 items can rule out a regression (the gate PASSes)."""
    CHALLENGER["skill"] = "barely"
    spec = repo / "specs/specs.yaml"
    text = spec.read_text().replace("value: {lower: 0.5}", "value: {lower: 0.3}\n  regression:\n    min_effect: 0.2")
    spec.write_text(text.replace("  promotion:\n", f"  promotion:\n    require: {require}\n"))
    return spec


def test_a_challenger_better_only_by_noise_is_not_promoted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _barely_better(repo)
    assert main(["apply"]) == 0
    [entry] = _lineage(repo)
    [metric] = entry["metrics"]
    assert metric["verdict"] == "PASS" and metric["delta"] == pytest.approx(2 / 40)
    assert metric["p_better"] == pytest.approx(0.25)  # 2 helpful flips, none harmful: P(X >= 2), X ~ Bin(2, 1/2)
    assert entry["decision"] == "kept"
    assert "not significantly better (alpha 0.05); the champion stays" in entry["reason"]
    assert "    champion: student-base\n" in spec.read_text()


def test_not_worse_promotes_any_improvement_that_passes_the_gate(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _barely_better(repo, require="not_worse")
    assert main(["apply"]) == 0
    [entry] = _lineage(repo)
    assert entry["decision"] == "promoted"
    assert f"    champion: {entry['model_id']}\n" in spec.read_text()


def test_changed_training_data_fires_the_trigger_again(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply"]) == 0
    first = _lineage(repo)[0]["data_hash"]
    data = repo / "specs/items.jsonl"
    data.write_text(data.read_text().replace('"word": "amber", "label": "AMBER"', '"word": "amber", "label": "AMBER!"'))
    capsys.readouterr()
    assert main(["plan"]) == 0
    assert f"retrain upper-sft (sft, backend fake): training data changed ({first[:8]} -> " in capsys.readouterr().out


def test_a_due_schedule_with_nothing_new_to_train_is_held_in_the_plan(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = repo / "specs/specs.yaml"
    spec.write_text(
        spec.read_text().replace("    - type: dataset_changed\n", "    - type: schedule\n      every_days: 7\n")
    )
    assert main(["apply"]) == 0
    assert main(["apply"]) == 0  # the eval on the promoted champion; the schedule is not due yet
    [entry] = _lineage(repo)
    # Ten days on: the schedule is due, but the recipe and its data are what job <id> was trained on.
    lineage = repo / "baselines/lineage.jsonl"
    lineage.write_text(lineage.read_text().replace(entry["trained_at"][:10], "2020-01-01"))
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode"]) == 0
    out = capsys.readouterr().out
    assert (
        f"  !  retrain upper-sft held: schedule: every 7 days, last trained 2020-01-01; recipe, training data and "
        f"base model unchanged since job {entry['job_id']}, so there is nothing new to train; change the data, "
        "the recipe or the base model\n"
    ) in out
    assert "No changes" in out
    assert main(["apply"]) == 0
    assert len(_lineage(repo)) == 1  # nothing trained, no job gated against itself

    data = repo / "specs/items.jsonl"
    data.write_text(data.read_text().replace('"label": "AMBER"', '"label": "AMBER!"'))
    assert main(["plan", "--detailed-exitcode"]) == 2
    assert "  ~  retrain upper-sft (sft, backend fake): schedule: every 7 days, last trained 2020-01-01\n" in (
        capsys.readouterr().out
    )


def test_metric_below_its_floor_on_main_fires_from_the_committed_history(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = repo / "specs/specs.yaml"
    spec.write_text(spec.read_text().replace("    - type: dataset_changed\n", ""))
    for run, system in enumerate(("in capitals", "in CAPITALS")):  # two runs on main, both under the 0.5 floor
        spec.write_text(
            spec.read_text().replace("Answer with the word in capitals.", f"Answer with the word {system}.")
        )
        git(repo, "commit", "-qam", f"main {run}")
        assert main(["apply", "--skip-retrain"]) == 0  # the base model scores 13/40
        assert main(["baseline", "update"]) == 0  # what continuous-eval does on a push to main
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"baselines {run}")
    assert len((repo / "baselines/history.jsonl").read_text().splitlines()) == 2
    capsys.readouterr()
    assert main(["plan"]) == 0
    assert (
        "  ~  retrain upper-sft (sft, backend fake): upper/accuracy below its floor in the last 2 runs on main "
        "(0.325, 0.325)\n"
    ) in capsys.readouterr().out


def test_a_saved_plan_trains_only_the_retrains_it_lists(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--out", "plan.json"]) == 0
    spec = repo / "specs/specs.yaml"
    spec.write_text(spec.read_text().replace("    - type: dataset_changed\n", ""))  # no trigger fires now
    capsys.readouterr()
    assert main(["apply", "plan.json"]) == 1
    assert "the specs changed since the plan was saved" in capsys.readouterr().err
    assert main(["apply", "plan.json", "--skip-retrain"]) == 0  # the evals alone still match the plan
    assert not (repo / "baselines/lineage.jsonl").exists()


def test_nothing_trains_from_a_pull_request(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    assert main(["apply"]) == 0
    assert "Retraining skipped: nothing trains from a pull request (pull_request)." in capsys.readouterr().out
    assert not (repo / "baselines/lineage.jsonl").exists()


def test_contaminated_training_data_is_refused_before_training(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = repo / "specs/specs.yaml"
    spec.write_text(spec.read_text().replace("    split: train\n    prompt: upper", "    prompt: upper"))
    assert main(["apply"]) == 1
    err = capsys.readouterr().err
    assert "Eval 'upper'" in err and "nothing was trained" in err
    assert not (repo / "baselines/lineage.jsonl").exists()
    assert not list((repo / ".flywheel/finetune").glob("*/fake-job.json"))


def test_validate_and_plan_summarise_the_overlap_once_per_recipe(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = repo / "specs/specs.yaml"
    spec.write_text(spec.read_text().replace("    split: train\n    prompt: upper", "    prompt: upper"))
    summary = (
        "FineTune/upper-sft: 40 training items have the same input as items of Eval upper (first: training item "
        "'i20' = item 'i20' of 'upper'); remove them from the training data, or training will refuse to start"
    )
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [f"warning: {summary}"]
    assert main(["plan"]) == 0
    assert f"  !  {summary}\n" in capsys.readouterr().out


def test_skip_retrain_runs_the_evals_only(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", "--skip-retrain"]) == 0
    out = capsys.readouterr().out
    assert "retrain" not in out
    assert not (repo / "baselines/lineage.jsonl").exists()
