"""Honest results under provider faults, through the CLI against the fake server: 500/429 storms, dropped
connections, bodies cut mid-way, malformed bodies and slow answers. A failure is never a score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI, Storm
from tests.engine.conftest import WORDS

STORM = Storm(
    seed=7,
    error_500=0.10,
    throttle_429=0.10,
    retry_after="0",
    drop=0.02,
    truncate=0.03,
    malformed=0.03,
    slow=0.05,
    slow_s=0.02,
)
HARSH = Storm(seed=3, error_500=0.5)


def _result(repo: Path, eval_name: str = "words") -> dict[str, Any]:
    return dict(json.loads((repo / f".flywheel/results/{eval_name}/fake.json").read_text()))


def _scores(repo: Path) -> dict[str, Any]:
    return {i["id"]: i["scores"] for i in _result(repo)["items"]}


def _tune(repo: Path, **limits: str) -> None:
    spec = repo / "specs/eval.yaml"
    text = spec.read_text().replace("    max_retries: 4\n", "".join(f"    {k}: {v}\n" for k, v in limits.items()))
    spec.write_text(text)


def _more_items(repo: Path, n: int, distinct: int | None = None) -> None:
    """n test items; with `distinct`, only that many different words (identical requests)."""
    rows = [
        {
            "id": f"x{i:03d}",
            "word": WORDS[i % (distinct or len(WORDS))] + ("" if distinct else f"-{i}"),
            "split": "test",
        }
        for i in range(n)
    ]
    (repo / "specs/words.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _run_until_done(args: list[str], tries: int = 5) -> list[int]:
    codes = []
    for _ in range(tries):
        codes.append(main(args))
        if codes[-1] == 0:
            break
    return codes


def test_a_storm_ends_with_the_clean_results_and_no_request_answered_twice(engine_repo: Path, fake: FakeOpenAI) -> None:
    _more_items(engine_repo, 80)
    _tune(engine_repo, max_retries="6", backoff_s="0.01")
    assert main(["run", "words"]) == 0
    clean = _scores(engine_repo)
    answered_clean = fake.served
    shutil.rmtree(engine_repo / ".flywheel")  # no cache, no journal: the stormy run asks for everything again

    fake.set_storm(STORM)
    codes = _run_until_done(["run", "words"])
    assert codes[-1] == 0
    assert _scores(engine_repo) == clean
    assert fake.count - answered_clean > 1.25 * answered_clean  # the storm really hit: many requests were retried
    assert fake.cut and any(n for n in fake.cut.values())
    # Every request was answered 200 in full once by the clean run and at most once by the stormy one.
    assert max(fake.answered.values()) <= 2
    assert sum(fake.answered.values()) == 2 * answered_clean


def test_a_harsh_storm_records_failed_cells_and_the_next_run_retries_them(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    _tune(engine_repo, max_retries="1", backoff_s="0.01")
    fake.set_storm(HARSH)
    assert main(["run", "words"]) == 5
    result = _result(engine_repo)
    failed = result["failed_cells"]
    assert 0 < failed < 20
    assert result["metrics"]["accuracy"]["n"] == 20 - failed  # missing, never scored 0
    assert result["failed_items"] == failed  # one repeat per item: one failed cell is one missing item
    assert sum(1 for i in result["items"] if i["status"] == "failed" and i["scores"] == {}) == failed
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == (
        f"error: Eval 'words' on fake: {failed} of 20 cells failed after their retries (max_error_rate 0); "
        "they are missing from the results, never scored; run again to retry them"
    )
    header = next(line for line in out.splitlines() if "metric" in line)
    assert header.split() == ["eval", "model", "metric", "value", "95%", "CI", "n", "failed", "floor", "cost", "new"]

    fake.set_storm(None)
    served = fake.served
    assert main(["run", "words"]) == 0
    assert fake.served - served == failed  # exactly the failed cells are sent again
    result = _result(engine_repo)
    assert result["failed_cells"] == 0
    assert result["metrics"]["accuracy"]["n"] == 20
    assert result["metrics"]["accuracy"]["value"] == 0.5


def test_max_error_rate_allows_some_failures(engine_repo: Path, fake: FakeOpenAI) -> None:
    _tune(engine_repo, max_retries="0", backoff_s="0.01")
    spec = engine_repo / "specs/eval.yaml"
    spec.write_text(
        spec.read_text().replace("  budget:\n    usd: 1.0\n", "  budget:\n    usd: 1.0\n  max_error_rate: 0.5\n")
    )
    fake.set_storm(Storm(seed=1, error_500=0.2))
    assert main(["run", "words"]) == 0
    assert 0 < _result(engine_repo)["failed_cells"] <= 10


def test_apply_records_failed_cells_and_plan_retries_them(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    _tune(engine_repo, max_retries="1", backoff_s="0.01")
    fake.set_storm(HARSH)
    assert main(["apply", "--skip-retrain"]) == 5
    failed = _result(engine_repo)["failed_cells"]
    assert failed > 0
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out
    plural = "s" if failed != 1 else ""
    assert f"+ run      words · fake  {failed:>6} cells  retry {failed} failed cell{plural}  ~$" in out
    fake.set_storm(None)
    assert main(["apply", "--skip-retrain"]) == 0
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("No changes: every eval is up to date with the specs.")


def test_a_run_with_failed_cells_never_becomes_a_baseline(
    engine_repo: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    _tune(engine_repo, max_retries="0", backoff_s="0.01")
    fake.set_storm(HARSH)
    assert main(["run", "words"]) == 5
    failed = _result(engine_repo)["failed_cells"]
    items = _result(engine_repo)["failed_items"]
    capsys.readouterr()
    for extra in ([], ["--allow-partial"]):
        assert main(["baseline", "update", *extra]) == 1
        assert capsys.readouterr().err.strip() == (
            "error: refusing to update baselines:\n"
            f"  .flywheel/results/words/fake.json: {failed} cell(s) failed after their retries "
            f"({items} item(s) missing, never scored)\n"
            "run again (flywheel apply retries failed cells) until no cell fails"
        )
    assert not (engine_repo / "baselines/words/fake.json").exists()
    fake.set_storm(None)
    assert main(["run", "words"]) == 0
    assert main(["baseline", "update"]) == 0
    assert (engine_repo / "baselines/words/fake.json").exists()


def test_a_stormy_uncached_run_scores_only_answered_items_each_as_the_clean_run_did(
    engine_repo: Path, fake: FakeOpenAI
) -> None:
    _tune(engine_repo, max_retries="0", backoff_s="0.01")
    assert main(["run", "words"]) == 0
    clean = _scores(engine_repo)
    fake.set_storm(HARSH)
    assert main(["run", "words", "--no-cache"]) == 5
    result = _result(engine_repo)
    assert result["failed_cells"] > 0
    assert all(i["scores"] == clean[i["id"]] for i in result["items"] if i["status"] == "ok")
    assert all(i["error"] and "call failed" in i["error"] for i in result["items"] if i["status"] == "failed")


def test_identical_requests_in_flight_are_sent_once(engine_repo: Path) -> None:
    with FakeOpenAI(latency_s=0.05) as slow:
        spec = engine_repo / "specs/eval.yaml"
        text = spec.read_text()
        base = text.split("base_url: ")[1].split("\n")[0]
        spec.write_text(text.replace(base, slow.base_url).replace("concurrency: 4", "concurrency: 8"))
        _more_items(engine_repo, 60, distinct=10)
        assert main(["run", "words"]) == 0
        assert slow.count == 10
        assert _result(engine_repo)["completed_cells"] == 60


def _long_answers(body: dict[str, Any]) -> str:
    return "word " * 400  # ~500 completion tokens, far above max_tokens: the estimate is beaten


def test_every_call_checks_the_budget_so_spend_stops_within_the_calls_in_flight(
    engine_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAI(latency_s=0.02, responder=_long_answers) as fake:
        spec = engine_repo / "specs/eval.yaml"
        text = spec.read_text()
        base = text.split("base_url: ")[1].split("\n")[0]
        spec.write_text(text.replace(base, fake.base_url).replace("usd: 1.0", "usd: 0.011"))
        _more_items(engine_repo, 200)
        assert main(["run", "words"]) == 1
        per_call = 2.0 * 500 / 1e6  # ~500 output tokens at $2 / 1M dominate
        # The worst-case estimate ($0.0106) passed, but each answer costs ~$0.001: 11 calls reach $0.011, and
        # at most `concurrency` (4) more were already in flight then.
        assert 11 <= fake.served <= 11 + 4
        spent = _result(engine_repo)["usage"]["cost_usd"]
        assert 0.011 <= spent <= 0.011 + 4 * per_call * 1.1
        assert "budget reached after $" in capsys.readouterr().err
