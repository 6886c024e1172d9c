"""The gate through the CLI on real git repositories: base policy and baselines are read from the base ref."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI, Storm
from tests.conftest import copy_fixture, git, json_object


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> Path:
    """A git repo whose main branch has applied specs and committed baselines, checked out on branch `pr`."""
    dest = copy_fixture("engine", tmp_path / "repo", server.base_url, "specs/eval.yaml")
    (dest / ".gitignore").write_text(".flywheel/\n")
    monkeypatch.chdir(dest)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.email", "t@example.invalid")
    git(dest, "config", "user.name", "t")
    assert main(["apply"]) == 0
    assert main(["baseline", "update"]) == 0
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "main with baselines")
    git(dest, "checkout", "-q", "-b", "pr")
    return dest


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _report(repo: Path) -> dict[str, Any]:
    return json_object((repo / ".flywheel/gate/report.json").read_text())


def test_baselines_are_committed_one_line_per_item(repo: Path) -> None:
    lines = (repo / "baselines/words/fake.json").read_text().splitlines()
    assert len(lines) == 20 + 2
    assert json.loads("".join(lines))["items"][0] == {"id": "w00", "scores": {"accuracy": {"pass": 1.0, "score": 1.0}}}


def test_unchanged_pr_passes_without_a_single_call(repo: Path, server: FakeOpenAI) -> None:
    before = server.count
    assert main(["gate", "--base", "main"]) == 0
    assert server.count == before
    words = next(e for e in _report(repo)["evals"] if e["eval"] == "words")
    assert (words["verdict"], words["base_source"]) == ("PASS", "baseline")
    assert words["note"] == "unchanged: same run inputs as baselines/words/fake.json on main; not re-run"


def test_no_cache_reruns_unchanged_evals_against_the_baseline(repo: Path, server: FakeOpenAI) -> None:
    before = server.count
    assert main(["gate", "--base", "main", "--no-cache"]) == 0
    assert server.count == before + 40
    words = next(e for e in _report(repo)["evals"] if e["eval"] == "words")
    assert words["base_source"] == "baseline"
    assert words["metrics"][0]["delta"] == 0


def test_fail_on_inconclusive_flag_exits_4(repo: Path) -> None:
    assert main(["gate", "--base", "main", "--no-cache"]) == 0
    assert _report(repo)["verdict"] == "INCONCLUSIVE"
    assert main(["gate", "--base", "main", "--no-cache", "--fail-on-inconclusive"]) == 4
    # The reports agree with the exit code: the policy became `fail`, so JUnit counts failures, not skips.
    words = next(e for e in _report(repo)["evals"] if e["eval"] == "words")
    assert words["on_inconclusive"] == "fail"
    assert 'failures="2" skipped="0"' in (repo / ".flywheel/gate/junit.xml").read_text()  # both metrics


def test_regressing_pr_fails_with_exit_3(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(repo, "specs/eval.yaml", "content: Repeat the word.", "content: Never repeat the word.")
    assert main(["gate", "--base", "main"]) == 3
    report = _report(repo)
    words = next(e for e in report["evals"] if e["eval"] == "words")
    assert words["verdict"] == "FAIL"
    assert words["metrics"][0]["b"] == 10 and words["metrics"][0]["c"] == 0
    summary = (repo / ".flywheel/gate/report.md").read_text()
    assert summary.startswith("<!-- flywheel-gate -->\n## Flywheel gate: **FAIL**\n")
    assert "10 item(s) flipped (10 regressed, 0 fixed)" in summary
    # The flipped item as a reviewer needs it: its input, what was expected, and the outputs (the base came from
    # the committed baseline, which keeps scores only).
    assert "| `w00` | accuracy | 1 | 0 | `apple` | `apple` | not kept (baseline) | `wrong` |\n" in summary
    assert (
        "Every sample, the flipped items side by side and trends: `.flywheel/gate/report.html` (open it in a browser)\n"
        in summary
    )
    assert (repo / ".flywheel/gate/report.html").read_text().startswith("<!doctype html>")
    junit = (repo / ".flywheel/gate/junit.xml").read_text()
    assert 'failures="1"' in junit


def test_improving_pr_passes(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/support-bot")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    _edit(repo, "specs/eval.yaml", "content: Repeat the word.", "content: Always repeat the word.")
    assert main(["gate", "--base", "main"]) == 0
    words = next(e for e in _report(repo)["evals"] if e["eval"] == "words")
    assert words["verdict"] == "PASS"
    assert words["metrics"][0]["delta"] == 0.5
    link = (
        "`report.html` in the [artifacts of this run](https://github.com/acme/support-bot/actions/runs/4242#artifacts)"
    )
    assert (
        f"Every sample, the flipped items side by side and trends: {link}\n"
        in (repo / ".flywheel/gate/report.md").read_text()
    )
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/x](https://evil.example)")  # not a repository name: no link
    assert main(["gate", "--base", "main"]) == 0
    assert "evil" not in (repo / ".flywheel/gate/report.md").read_text()


def test_pr_that_lowers_its_baseline_and_threshold_still_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(repo, "specs/eval.yaml", "content: Repeat the word.", "content: Never repeat the word.")
    _edit(repo, "specs/eval.yaml", "value: {lower: 0.5}", "value: {lower: 0.0}\n      min_effect: 0.9")
    baseline = repo / "baselines/words/fake.json"
    baseline.write_text(baseline.read_text().replace('"pass":1.0,"score":1.0', '"pass":0.0,"score":0.0'))
    assert main(["gate", "--base", "main"]) == 3
    out = capsys.readouterr().out
    assert "This pull request changes the gate's own inputs; the gate used the versions on the base ref:" in out
    assert "  - Eval 'words': metric 'accuracy' changed (min_effect, value)" in out
    assert "  - baselines/words/fake.json edited" in out
    report = _report(repo)
    assert next(e for e in report["evals"] if e["eval"] == "words")["verdict"] == "FAIL"


def test_approved_dataset_change_evaluates_the_base_side_in_the_same_run(repo: Path) -> None:
    data = repo / "specs/words.jsonl"
    data.write_text(data.read_text() + '{"id": "w20", "word": "apple", "split": "test"}\n')
    assert main(["gate", "--base", "main"]) == 3  # a change to the gate's inputs, not approved
    head = git(repo, "rev-parse", "HEAD").strip()
    approve = ["--approve-input-changes", "--approved-by", "maintainer", "--approved-sha", head]
    assert main(["gate", "--base", "main", *approve]) in (0, 4)
    words = next(e for e in _report(repo)["evals"] if e["eval"] == "words")
    assert words["base_source"] == "evaluated"
    assert words["n_paired"] == 21
    assert "evaluated in this run on the same items (the baseline's dataset or graders differ)" in words["note"]


def test_unknown_base_ref_is_a_clean_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--base", "nope"]) == 1
    assert (
        capsys.readouterr().err
        == "error: --base nope: no such commit or branch here; fetch it first (git fetch origin nope)\n"
    )


def test_github_actions_output_is_fenced_and_annotated(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = repo / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    _edit(repo, "specs/eval.yaml", "content: Repeat the word.", "content: Never repeat the word.")
    assert main(["gate", "--base", "main"]) == 3
    out = capsys.readouterr().out.splitlines()
    token = out[0].removeprefix("::stop-commands::")
    assert len(token) == 32
    end = out.index(f"::{token}::")
    assert next(line for line in out[end + 1 :] if line.startswith("::error ")).startswith(
        "::error file=specs/eval.yaml,line=59,title=Flywheel gate::words/accuracy on fake: "
    )
    assert summary.read_text().startswith("<!-- flywheel-gate -->")


def test_a_baseline_from_a_newer_flywheel_is_refused_by_name(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "checkout", "-q", "main")
    _edit(repo, "baselines/words/fake.json", '"version":3,"items":[', '"version":9,"items":[')
    git(repo, "commit", "-qam", "a baseline from the future")
    git(repo, "checkout", "-q", "pr")
    capsys.readouterr()
    assert main(["gate", "--base", "main"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: baselines/words/fake.json on main:1: written by a newer Flywheel (document version 9; this one reads "
        "up to version 3); upgrade: pip install -U flywheel-evals"
    )


def test_failed_items_are_left_out_of_the_pairs_as_missing_and_the_note_says_so(repo: Path, server: FakeOpenAI) -> None:
    _edit(repo, "specs/eval.yaml", "    max_retries: 4\n", "    max_retries: 0\n    backoff_s: 0.01\n")
    server.set_storm(Storm(seed=3, error_500=0.5))
    assert main(["gate", "--base", "main", "--no-cache"]) in (0, 4)
    words = next(e for e in _report(repo)["evals"] if e["eval"] == "words")
    head = json.loads((repo / ".flywheel/gate/head/results/words/fake.json").read_text())
    failed = head["failed_items"]
    assert 0 < failed < 20
    assert words["note"].endswith(f"; failed items left out as missing, never scored (head {failed})")
    assert (
        words["n_paired"] == words["metrics"][0]["n"] == 20 - failed
    )  # paired over the items both sides scored, never a 0
