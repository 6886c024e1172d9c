"""The gate's trust boundary, attacked through the CLI: each attack a pull request can make on the gate's inputs,
once with a real regression (exit 3, and the report names the attempt) and once without (the verdict the rule in
docs/trust.md gives: FAIL for an unapproved change to the gate's inputs, PASS with a note for ignored forged
files or a new ungated metric).

`main` holds tests/fixtures/gate (two keyed Models on a fake endpoint, three Evals), applied, with baselines and
a cassette committed; each test copies it and attacks on branch `pr`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import copy_fixture, git
from tests.gate.conftest import responder as product

KEY = "sk-main-key-0123456789"
OTHER = "sk-other-secret-9876543210"
ENV = {"FAKE_KEY": KEY, "OTHER_SECRET": OTHER}


@dataclass
class World:
    repo: Path
    server: FakeOpenAI
    evil: FakeOpenAI
    forging: list[bool]

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.repo / rel
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    def commit(self, message: str, *force: str) -> None:
        git(self.repo, "add", "-A")
        if force:
            git(self.repo, "add", "-f", *force)
        git(self.repo, "commit", "-qm", message)

    def forge(self, *argv: str) -> None:
        """Run flywheel while the endpoint answers every item right (what a forged file would claim)."""
        self.forging[0] = True
        try:
            assert main(list(argv)) == 0
        finally:
            self.forging[0] = False


def _responder(forging: list[bool]) -> Callable[[dict[str, Any]], str]:
    def answer(body: dict[str, Any]) -> str:
        if body.get("response_format"):  # the judge: pass when the output is the word
            out, _, word = str(body["messages"][-1]["content"]).partition(" vs ")
            return json.dumps({"label": "pass" if body["model"] == "lenient-judge" or out == word else "fail"})
        if forging[0]:
            return str(body["messages"][-1]["content"]).split()[-1]
        return product(body)

    return answer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    forging = [False]
    with FakeOpenAI(responder=_responder(forging)) as server, FakeOpenAI(responder=_responder([True])) as evil:
        base = tmp_path_factory.mktemp("trust") / "main"
        copy_fixture("gate", base, server.base_url, "specs/gate.yaml")
        (base / ".gitignore").write_text(".flywheel/\n")
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(base)
            for k, v in ENV.items():
                mp.setenv(k, v)
            git(base, "init", "-q", "-b", "main")
            git(base, "config", "user.email", "t@example.invalid")
            git(base, "config", "user.name", "t")
            assert main(["apply", "--record", ".flywheel-cassettes"]) == 0
            assert main(["baseline", "update"]) == 0
            git(base, "add", "-A")
            git(base, "commit", "-qm", "main with baselines and a cassette")
        yield World(base, server, evil, forging)


@pytest.fixture
def w(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    repo = tmp_path / "repo"
    shutil.copytree(world.repo, repo)
    shutil.rmtree(repo / ".flywheel")  # a fresh runner
    monkeypatch.chdir(repo)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    git(repo, "checkout", "-q", "-b", "pr")
    return World(repo, world.server, world.evil, world.forging)


SPECS = "specs/gate.yaml"


def regress(w: World) -> None:
    w.edit(SPECS, "content: Repeat the word.", "content: Never repeat the word.")


def relabel(w: World) -> None:
    data = w.repo / "specs/words.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    data.write_text("".join(json.dumps({**r, "word": "wrong"}) + "\n" for r in rows))


def shrink(w: World) -> None:
    data = w.repo / "specs/words.jsonl"
    data.write_text("".join(data.read_text().splitlines(keepends=True)[:20]))


def rename_eval(w: World) -> None:
    w.edit(SPECS, "  name: shout\nspec:\n  dataset", "  name: shout2\nspec:\n  dataset")


def steal_key(w: World) -> None:
    w.edit(SPECS, f"base_url: {w.server.base_url}", f"base_url: {w.evil.base_url}")
    w.edit(SPECS, "api_key_env: FAKE_KEY", "api_key_env: OTHER_SECRET")


def forge_store(w: World) -> None:
    w.forge("run", "words")
    w.forge("run", "judged")


def forge_cassette(w: World) -> None:
    w.forge("run", "words", "--no-cache", "--record", ".flywheel-cassettes")
    w.forge("run", "judged", "--no-cache", "--record", ".flywheel-cassettes")


def edit_baseline(w: World) -> None:
    w.edit("baselines/words/fake.json", '"pass":1.0,"score":1.0', '"pass":0.0,"score":0.0')


def lower_floor(w: World) -> None:
    w.edit(SPECS, "value: {lower: 0.3}", "value: {lower: 0.0}")


def lower_policy(w: World) -> None:
    w.edit(SPECS, "min_effect: 0.25", "min_effect: 0.9")


def always_pass_grader(w: World) -> None:
    w.edit(SPECS, 'reference: "{{ item.word }}"', 'reference: "{{ sample.output_text }}"')


def new_always_pass_metric(w: World) -> None:
    w.edit(
        SPECS,
        "      value: {lower: 0.3}\n",
        "      value: {lower: 0.3}\n    - name: always\n      grader: always-pass\n",
    )
    with (w.repo / SPECS).open("a") as fh:
        fh.write(
            "---\napiVersion: flywheel/v1\nkind: Grader\nmetadata:\n  name: always-pass\nspec:\n  type: python\n"
            "  source: |\n    def grade(sample, item):\n        return 1.0\n"
        )


def swap_judge(w: World) -> None:
    w.edit(SPECS, "model: judge-model", "model: lenient-judge")


@dataclass(frozen=True)
class Attack:
    name: str
    make: Callable[[World], None]
    lines: Callable[[World], list[str]]
    """Lines the terminal report must hold, with or without a regression."""
    code_alone: int
    """Exit code without a regression: 3 for an unapproved change to the gate's inputs, 0 for PASS with a note."""
    gate: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    """Paths committed despite .gitignore (forged state)."""


CHANGED = "This pull request changes the gate's own inputs; the gate used the versions on the base ref:"
ATTACKS = [
    Attack(
        "relabel",
        relabel,
        lambda w: [
            "Dataset changes in this pull request (the verdict used the base ref's items and labels):",
            "  - Dataset 'words': 0 item(s) added, 0 removed, 40 relabelled; relabelled: w00, w01, w02, w03, w04, "
            "w05, w06, w07, w08, w09 and 30 more",
        ],
        3,
    ),
    Attack(
        "shrink",
        shrink,
        lambda w: [
            CHANGED,
            "  - Dataset 'words': 0 item(s) added, 20 removed, 0 relabelled; removed: w20, w21, w22, w23, w24, w25, "
            "w26, w27, w28, w29 and 10 more",
        ],
        3,
    ),
    Attack(
        "rename-eval",
        rename_eval,
        lambda w: [
            "shout · -: removed or renamed in this pull request: FAIL",
            CHANGED,
            "  - Eval 'shout' was removed or renamed (the base ref gates it)",
            "New, not gated (run on this pull request; they are gated once merged):",
            "  - shout2 · fake: loud 0.500 (no floor)",
        ],
        3,
    ),
    Attack(
        "steal-key",
        steal_key,
        lambda w: [
            f"words · fake: not evaluated: Model 'fake' would send OTHER_SECRET to {w.evil.base_url}, but the base "
            f"ref sends FAKE_KEY to {w.server.base_url}; no key was sent",
            CHANGED,
            f"  - Model 'fake' would send OTHER_SECRET to {w.evil.base_url}, but the base ref sends FAKE_KEY to "
            f"{w.server.base_url}; no key was sent",
        ],
        3,
    ),
    Attack(
        "forged-store",
        forge_store,
        lambda w: [
            "Notes:",
            "  - Ignored {n} file(s) under .flywheel/ tracked in this pull request ({files}): the gate never reads "
            "a response store, journal or results from the pull request's tree",
        ],
        0,
        state=(".flywheel",),
    ),
    Attack(
        "forged-cassette",
        forge_cassette,
        lambda w: [
            "Notes:",
            "  - Ignored this pull request's .flywheel-cassettes/cassette.jsonl: the gate replays the cassette "
            "recorded on main (a cassette from the pull request's tree could be forged)",
        ],
        0,
        gate=("--replay", ".flywheel-cassettes"),
    ),
    Attack("edited-baseline", edit_baseline, lambda w: [CHANGED, "  - baselines/words/fake.json edited"], 3),
    Attack("lowered-floor", lower_floor, lambda w: [CHANGED, "  - Eval 'words': metric 'accuracy' changed (value)"], 3),
    Attack("lowered-policy", lower_policy, lambda w: [CHANGED, "  - Eval 'words': regression changed"], 3),
    Attack("always-pass-grader", always_pass_grader, lambda w: [CHANGED, "  - Grader 'exact' changed"], 3),
    Attack(
        "new-always-pass-metric",
        new_always_pass_metric,
        lambda w: [
            "New, not gated (run on this pull request; they are gated once merged):",
            "  - words · fake: always 1.000 (no floor)",
        ],
        0,
    ),
    Attack(
        "swapped-judge",
        swap_judge,
        lambda w: [
            CHANGED,
            "  - Model 'judge' (a judge or embedding model of a gated grader) changed or was removed",
        ],
        3,
    ),
]


def _expected(w: World, attack: Attack) -> list[str]:
    files = git(w.repo, "ls-files", "--", ".flywheel").split()
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return [line.format(n=len(files), files=shown) for line in attack.lines(w)]


@pytest.mark.parametrize("regression", [True, False], ids=["with-regression", "alone"])
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack(w: World, attack: Attack, regression: bool, capsys: pytest.CaptureFixture[str]) -> None:
    if regression:
        regress(w)
    attack.make(w)
    w.commit(f"attack: {attack.name}", *attack.state)
    before, evil_before = w.server.count, w.evil.count
    capsys.readouterr()
    code = main(["gate", "--base", "main", *attack.gate])
    out, err = capsys.readouterr()
    assert code == (3 if regression else attack.code_alone), out + err
    verdict = "FAIL" if code == 3 else "PASS"
    assert out.startswith(f"Flywheel gate: {verdict} (base main @ "), out
    lines = out.splitlines()
    for line in _expected(w, attack):
        assert line in lines, f"{line!r} not in:\n{out}"
    if code == 3 and not regression:
        assert (
            "Not approved: changes to the gate's inputs FAIL the gate. A maintainer other than the author can "
            "approve them for this commit with the label flywheel:approve-gate-change." in lines
        )
    # No key ever reached an endpoint the base ref does not pair it with; the head's judge was never asked.
    assert w.evil.count == evil_before
    assert all(OTHER not in a for a in w.server.authorizations)
    assert all(a == f"Bearer {KEY}" for a in w.server.authorizations[before:])
    assert all(r.get("model") != "lenient-judge" for r in w.server.requests[before:])
    if attack.gate:  # the fork path: replay only, nothing sent
        assert w.server.count == before


def test_regression_on_the_fork_path_is_not_evaluated_and_never_passes(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    regress(w)
    w.commit("worse prompt, no recording on main")
    before = w.server.count
    capsys.readouterr()
    assert main(["gate", "--base", "main", "--replay", ".flywheel-cassettes"]) == 3
    assert w.server.count == before
    assert (
        "words · fake: not evaluated (no secrets on forks): the cassette on main has no recording of Eval 'words' "
        "on fake; a maintainer can run the gate with secrets"
    ) in capsys.readouterr().out.splitlines()


def _approve(w: World, sha: str | None = None) -> list[str]:
    head = sha or git(w.repo, "rev-parse", "HEAD").strip()
    return ["--approve-input-changes", "--approved-by", "maintainer", "--approved-sha", head]


def test_an_approved_relabel_runs_the_heads_dataset_and_names_the_approver(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    relabel(w)
    w.commit("fix the labels")
    head = git(w.repo, "rev-parse", "HEAD").strip()
    capsys.readouterr()
    assert main(["gate", "--base", "main", *_approve(w)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Flywheel gate: PASS")
    assert f"Approved by @maintainer on {head[:7]}: the gate used this pull request's versions of its inputs:" in lines
    assert (
        "Dataset changes in this pull request (the verdict used this pull request's (approved) items and labels):"
        in lines
    )
    report = json.loads((w.repo / ".flywheel/gate/report.json").read_text())
    assert report["approval"] == {"by": "maintainer", "sha": head}
    words = next(e for e in report["evals"] if e["eval"] == "words")
    assert words["metrics"][0]["head_value"] == 1.0  # the head's labels were used


def test_an_approval_for_another_commit_is_refused(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    relabel(w)
    w.commit("fix the labels")
    approved = git(w.repo, "rev-parse", "HEAD").strip()
    (w.repo / "NOTES.md").write_text("a later push\n")
    w.commit("later push")
    head = git(w.repo, "rev-parse", "HEAD").strip()
    capsys.readouterr()
    assert main(["gate", "--base", "main", *_approve(w, approved)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert (
        f"  - The approval by @maintainer was given on {approved[:12]}, not on the commit under test ({head[:7]}); "
        "a later push needs a new approval"
    ) in lines


def test_an_approval_never_sends_a_key_to_a_head_chosen_endpoint(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    steal_key(w)
    w.commit("new endpoint")
    assert main(["gate", "--base", "main", *_approve(w)]) == 3
    assert w.evil.count == 0
    assert all(OTHER not in a for a in w.server.authorizations)
    assert "words · fake: not evaluated: Model 'fake' would send OTHER_SECRET" in capsys.readouterr().out


def test_approval_needs_who_and_which_commit(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--base", "main", "--approve-input-changes"]) == 1
    assert capsys.readouterr().err == (
        "error: --approve-input-changes needs --approved-by LOGIN and --approved-sha SHA (the head commit approved)\n"
    )


@pytest.mark.parametrize("regression", [True, False], ids=["with-regression", "alone"])
def test_head_mode_reads_the_pull_request_as_data_and_runs_none_of_its_code(
    w: World, regression: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    if regression:
        regress(w)
    new_always_pass_metric(w)
    w.commit("a new python metric")
    git(w.repo, "checkout", "-q", "main")  # pull_request_target: the checkout is the base branch
    capsys.readouterr()
    code = main(["gate", "--base", "main", "--head", "pr"])
    out = capsys.readouterr().out
    assert code == (3 if regression else 0), out
    lines = out.splitlines()
    assert (
        "  - words · fake: always: not run: the pull_request_target mode never runs the pull request's python code"
    ) in lines
    assert git(w.repo, "status", "--porcelain") == ""  # the base checkout is untouched
    report = json.loads((w.repo / ".flywheel/gate/report.json").read_text())
    assert {e["spec"]["file"] for e in report["evals"]} == {"specs/gate.yaml"}
    if regression:
        assert any(line.split()[:4] == ["words", "fake", "accuracy", "FAIL"] for line in lines if line), out


def test_head_mode_names_an_unknown_commit(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--base", "main", "--head", "nope"]) == 1
    assert capsys.readouterr().err == (
        "error: --head nope: no such commit or branch here; fetch it first (git fetch origin nope)\n"
    )
