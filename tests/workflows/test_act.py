"""The workflows, run by act on temporary repositories: PR gate verdicts and baselines published on main."""

from __future__ import annotations

import json
import shutil

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import git
from tests.gate.conftest import responder
from tests.workflows.conftest import Sandbox, pr_event

pytestmark = pytest.mark.slow


def test_pr_that_regresses_fails_with_fail_in_the_summary(sandbox: Sandbox) -> None:
    sandbox.edit("specs/eval.yaml", "content: Repeat the word.", "content: Never repeat the word.")
    sandbox.commit("worse prompt")
    run = sandbox.act("pull_request", "pr-evals.yml", pr_event(sandbox))
    assert run.code == 1, run.log
    assert "## Flywheel gate: **FAIL**" in run.summary, run.log
    assert "Flywheel gate: FAIL (exit 3)" in run.log
    words = next(e for e in run.report()["evals"] if e["eval"] == "words")
    assert words["verdict"] == "FAIL"
    assert (run.reports / "junit.xml").read_text().count('failures="1"') == 1


def test_pr_that_improves_passes(sandbox: Sandbox) -> None:
    sandbox.edit("specs/eval.yaml", "content: Repeat the word.", "content: Always repeat the word.")
    sandbox.commit("better prompt")
    run = sandbox.act("pull_request", "pr-evals.yml", pr_event(sandbox))
    assert run.code == 0, run.log
    assert "## Flywheel gate: **PASS**" in run.summary
    assert run.report()["verdict"] == "PASS"


def test_pr_that_edits_its_baselines_and_threshold_still_fails(sandbox: Sandbox) -> None:
    sandbox.edit("specs/eval.yaml", "content: Repeat the word.", "content: Never repeat the word.")
    sandbox.edit("specs/eval.yaml", "value: {lower: 0.5}", "value: {lower: 0.0}\n      min_effect: 0.9")
    baseline = sandbox.repo / "baselines/words/fake.json"
    baseline.write_text(baseline.read_text().replace('"pass":1.0,"score":1.0', '"pass":0.0,"score":0.0'))
    sandbox.commit("worse prompt, hidden")
    run = sandbox.act("pull_request", "pr-evals.yml", pr_event(sandbox))
    assert run.code == 1, run.log
    assert "## Flywheel gate: **FAIL**" in run.summary, run.log
    assert "This pull request changes the gate" in run.summary
    assert "baselines/words/fake.json edited" in run.summary


def test_pr_that_changes_no_eval_calls_no_model(sandbox: Sandbox, server: FakeOpenAI) -> None:
    (sandbox.repo / "NOTES.md").write_text("docs only\n")
    sandbox.commit("docs")
    assert not (sandbox.repo / ".flywheel").exists()  # a fresh runner: no state, no cached answers
    before = server.count
    run = sandbox.act("pull_request", "pr-evals.yml", pr_event(sandbox))
    assert run.code == 0, run.log
    assert server.count == before, "unchanged evals must not be re-run on a pull request"
    assert run.report()["verdict"] == "PASS"
    assert "not re-run" in run.summary


def test_push_to_main_publishes_baselines(sandbox: Sandbox) -> None:
    git(sandbox.repo, "checkout", "-q", "main")
    sandbox.edit("specs/eval.yaml", "content: Repeat the word.", "content: Always repeat the word.")
    sandbox.commit("better prompt")
    git(sandbox.repo, "push", "-q", "origin", "main")
    head = git(sandbox.repo, "rev-parse", "HEAD").strip()
    run = sandbox.act("push", "continuous-eval.yml", {"ref": "refs/heads/main", "after": head})
    assert run.code == 0, run.log
    git(sandbox.repo, "fetch", "-q", "origin")
    log = git(sandbox.repo, "log", "--format=%s", "origin/main", "-3").splitlines()
    assert log[0] == f"Update eval baselines for {head[:7]} [skip ci]"
    baseline = json.loads(git(sandbox.repo, "show", "origin/main:baselines/words/fake.json"))
    assert baseline["metrics"]["accuracy"]["value"] == 1.0
    history = git(sandbox.repo, "show", "origin/main:baselines/history.jsonl").splitlines()
    assert [json.loads(line)["metrics"]["accuracy"]["value"] for line in history if '"words"' in line] == [0.5, 1.0]


def test_fork_pr_without_a_key_ignores_its_own_cassette_and_calls_nothing(sandbox: Sandbox, server: FakeOpenAI) -> None:
    sandbox.edit("specs/eval.yaml", "content: Repeat the word.", "content: Never repeat the word.")
    server.responder = lambda body: str(body["messages"][-1]["content"]).split()[-1]  # a forged, all-right cassette
    try:
        assert main(["apply", "--record", ".flywheel-cassettes"]) == 0
    finally:
        server.responder = responder
    sandbox.commit("worse prompt, with a forged cassette")
    shutil.rmtree(sandbox.repo / ".flywheel")
    before = server.count
    run = sandbox.act("pull_request", "pr-evals.yml", pr_event(sandbox))
    assert server.count == before, "a replayed run must not call the model"
    assert "calls: replay (cassettes: .flywheel-cassettes)" in run.log
    assert run.code == 1, run.log
    assert "## Flywheel gate: **FAIL**" in run.summary
    assert "not evaluated (no secrets on forks)" in run.summary
    assert "Ignored this pull request's .flywheel-cassettes/cassette.jsonl" in run.summary


def test_relabelled_dataset_fails_until_a_maintainer_applies_the_approval_label(sandbox: Sandbox) -> None:
    data = sandbox.repo / "specs/words.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    data.write_text("".join(json.dumps({**r, "word": "wrong"}) + "\n" for r in rows))
    sandbox.commit("relabel every item to what the model says")
    head = git(sandbox.repo, "rev-parse", "HEAD").strip()
    relabelled = "Dataset 'words': 0 item(s) added, 0 removed, 20 relabelled"

    run = sandbox.act("pull_request", "pr-evals.yml", pr_event(sandbox))
    assert run.code == 1, run.log
    assert "## Flywheel gate: **FAIL**" in run.summary, run.log
    assert relabelled in run.summary
    assert "Until a maintainer approves them (label `flywheel:approve-gate-change`), they FAIL the gate" in run.summary

    # The author cannot approve their own change.
    mine = pr_event(sandbox, "labeled", sender="author", label="flywheel:approve-gate-change")
    run = sandbox.act("pull_request", "pr-evals.yml", mine)
    assert run.code == 1, run.log
    assert "input changes approved" not in run.log

    approved = pr_event(sandbox, "labeled", sender="maintainer", label="flywheel:approve-gate-change")
    run = sandbox.act("pull_request", "pr-evals.yml", approved)
    assert run.code == 0, run.log
    assert f"input changes approved by @maintainer for {head}" in run.log
    assert f"**Approved by @maintainer on {head[:7]}: the gate used this pull request's versions of its inputs:**" in (
        run.summary
    ), run.log
    assert "the verdict used this pull request's (approved) items and labels" in run.summary
    assert run.report()["approval"] == {"by": "maintainer", "sha": head}
    words = next(e for e in run.report()["evals"] if e["eval"] == "words")
    assert words["metrics"][0]["head_value"] == 1.0  # the head's labels, as approved
