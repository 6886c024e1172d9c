"""`flywheel import oaieval` on the real openai/evals registry (the `evals` package, installed with --no-deps
by scripts/install): imported evals validate, run on the fake model, and score each output as evals' own
matchers do. evals cannot be imported without its many dependencies, so its matcher functions are compiled
from the installed package's own source files (`_evals_function`)."""

from __future__ import annotations

import ast
import hashlib
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.cli import main
from runner.importers.oaieval import installed_registry
from runner.testing.fake_openai import FakeOpenAI
from tests.importers.conftest import dataset_rows, result_items

_FOUND = installed_registry()
if _FOUND is None:  # pragma: no cover - scripts/install installs it
    pytest.fail("the `evals` package is missing: bash scripts/install installs it (pip install --no-deps evals)")
REGISTRY: Path = _FOUND
EVALS_SRC = REGISTRY.parent


def _evals_function(module: str, name: str, **namespace: Any) -> Callable[..., Any]:
    """Function `name` of evals' `module` (e.g. "elsuite/utils.py"), compiled from its source with `namespace`
    standing in for the module's imports."""
    tree = ast.parse((EVALS_SRC / module).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    scope: dict[str, Any] = {**vars(typing), **namespace}
    exec(compile(ast.Module([node], []), str(EVALS_SRC / module), "exec"), scope)
    return typing.cast(Callable[..., Any], scope[name])


import re as _re  # noqa: E402
import string as _string  # noqa: E402
from collections import Counter as _Counter  # noqa: E402

normalize = _evals_function("elsuite/utils.py", "normalize", re=_re, string=_string)
fuzzy_match = _evals_function("elsuite/utils.py", "fuzzy_match", normalize=normalize)
f1_score = _evals_function("elsuite/utils.py", "f1_score", normalize=normalize, Counter=_Counter)
get_answer = _evals_function("elsuite/utils.py", "get_answer")
json_match = _evals_function("elsuite/basic/json_match.py", "json_match")


def evals_match(sampled: str, expected: Any) -> float:
    """evals.api.record_and_check_match, its own code, with record_match capturing the verdict."""
    seen: list[bool] = []
    check = _evals_function("api.py", "record_and_check_match", record_match=lambda match, **_: seen.append(match))
    check(prompt=None, sampled=sampled, expected=expected)
    return float(seen[0])


def evals_includes(sampled: str, ideal: Any, ignore_case: bool) -> float:
    """evals.elsuite.basic.includes.Includes.eval_sample's verdict."""
    ideal = ideal if isinstance(ideal, list) else [ideal]
    return float(any(get_answer(sampled, ref, ignore_case) is not None for ref in ideal))


def evals_fuzzy(sampled: str, ideal: Any) -> tuple[float, float]:
    """FuzzyMatch's accuracy and f1_score for one sample."""
    answers = ideal if isinstance(ideal, list) else [ideal]
    return float(any(fuzzy_match(sampled, a) for a in answers)), float(f1_score(sampled, answers))


def evals_json(sampled: str, ideal: Any) -> float:
    answers = ideal if isinstance(ideal, list) else [ideal]
    try:
        sampled_json = json.loads(sampled)
    except ValueError:
        sampled_json = None
    return float(any(json_match(sampled_json, json.loads(a)) for a in answers))


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


class Answers:
    """A fake model that answers each sample with a variant of its ideal answer: exact, upper-cased, prefixed,
    suffixed, reordered JSON, or wrong, chosen by a hash of the prompt, so every matcher sees passes and fails."""

    def __init__(self) -> None:
        self.ideal: dict[str, Any] = {}
        self.judged: dict[str, str] = {}

    def learn(self, rows: dict[str, dict[str, Any]]) -> None:
        for row in rows.values():
            self.ideal[json.dumps(row["input"][-1]["content"])] = row.get("ideal")

    def __call__(self, body: dict[str, Any]) -> str:
        messages = body["messages"]
        if "response_format" in body:  # the label_model judge
            submission = str(messages[-1]["content"]).split("[Submission]: ")[1].split("\n")[0]
            label = "Y" if _h(submission) % 3 else "N"
            self.judged[submission] = label
            return json.dumps({"reasoning": "checked", "label": label})
        key = json.dumps(messages[-1]["content"])
        ideal = self.ideal.get(key, "title")
        first = ideal[0] if isinstance(ideal, list) else ideal
        variant = _h(key) % 6
        if isinstance(first, str) and first.startswith("{") and variant == 4:
            return json.dumps(dict(reversed(list(json.loads(first).items()))))
        return str(
            [first, str(first).upper(), f"The answer: {first}", f"{first}, surely", "I do not know", "x"][variant]
        )


@pytest.fixture
def answers(project: Path) -> Answers:
    return Answers()


def _import(*names: str) -> None:
    assert main(["import", "oaieval", *names]) == 0


def test_import_prints_the_files_and_what_was_not_carried_over(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "oaieval", "test-fuzzy-match", "test-match", "anagrams", "no-such-eval"]) == 1
    assert capsys.readouterr().err == (
        "error: no eval 'no-such-eval' in the registry; names are the keys of registry/evals/*.yaml\n"
    )
    assert not (project / "specs/test-fuzzy-match").exists()
    assert main(["import", "oaieval", "test-fuzzy-match", "test-match", "anagrams"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"created {project}/specs/anagrams/anagrams.yaml",
        f"created {project}/specs/anagrams/match.py",
        f"created {project}/specs/anagrams/samples.jsonl",
        f"created {project}/specs/test-fuzzy-match/f1_score.py",
        f"created {project}/specs/test-fuzzy-match/fuzzy_match.py",
        f"created {project}/specs/test-fuzzy-match/samples.jsonl",
        f"created {project}/specs/test-fuzzy-match/test-fuzzy-match.yaml",
        "imported 2 evals (test-fuzzy-match, anagrams); 3 notes on what was not carried over:",
        "  - test-match: class evals.elsuite.test.match:TestMatch is not supported (Match, Includes, FuzzyMatch, "
        "JsonMatch, ModelBasedClassify); skipped",
        "  - anagrams: argument `few_shot_jsonl: anagrams/fewshot.jsonl` is not carried over",
        "  - anagrams: argument `num_few_shot: 5` is not carried over",
        "next: flywheel validate",
    ]
    rows = dataset_rows(project / "specs/test-fuzzy-match/samples.jsonl")
    assert len(rows) == 3
    first = next(iter(rows.values()))
    assert first["ideal"] == ["Millie Bobby Brown"]  # list-valued ideal kept
    assert [m.get("name") for m in first["input"]][:3] == [None, "example_user", "example_assistant"]
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 1 Model, 3 Prompt, 3 Dataset, 4 Grader, 3 Eval in 4 files; 372 dataset items\n"
    )
    # Importing again writes nothing and says so; a changed file is never overwritten.
    assert main(["import", "oaieval", "test-fuzzy-match"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"unchanged {project}/specs/test-fuzzy-match/f1_score.py"
    (project / "specs/test-fuzzy-match/samples.jsonl").write_text("{}\n")
    assert main(["import", "oaieval", "test-fuzzy-match"]) == 1
    assert capsys.readouterr().err == (
        f"error: the import would overwrite {project}/specs/test-fuzzy-match/samples.jsonl; nothing was written. "
        "Move it away or import into another folder (--out DIR)\n"
    )


def test_duplicates_are_reported_and_dropped(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _import("abstract2title")
    out = capsys.readouterr().out
    assert (
        "  - abstract2title: abstract2title/samples.jsonl:245: same input as line 244 with a different expected "
        "answer; kept the first; dropped\n"
    ) in out
    rows = [json.loads(line) for line in (REGISTRY / "data/abstract2title/samples.jsonl").read_text().splitlines()]
    assert len(dataset_rows(project / "specs/abstract2title/samples.jsonl")) == len(rows) - 1


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("hebrew-plurals", "match"),
        ("tricky-word-problems", "includes"),
        ("test-includes-ignore-case", "includes"),
        ("emoji-riddle", "fuzzy"),
        ("icelandic-inflection-easy", "json"),
    ],
)
def test_imported_evals_score_as_evals_own_matchers(
    project: Path, answers: Answers, capsys: pytest.CaptureFixture[str], name: str, metric: str
) -> None:
    _import(name)
    folder = project / "specs" / name
    rows = dataset_rows(folder / "samples.jsonl")
    answers.learn(rows)
    with FakeOpenAI(responder=answers) as fake:
        import os  # noqa: PLC0415

        os.environ["OPENAI_BASE_URL"] = fake.base_url
        try:
            assert main(["run", name, "--limit", "24"]) == 0
        finally:
            del os.environ["OPENAI_BASE_URL"]
    items = result_items(project, name)
    assert len(items) == min(24, len(rows))
    spec = yaml.safe_load_all((folder / f"{name}.yaml").read_text())
    ignore_case = "IGNORE_CASE = True" in "".join(p.read_text() for p in folder.glob("*.py"))
    outcomes = set()
    for item_id, item in items.items():
        out, ideal, scores = item["output"], rows[item_id]["ideal"], item["scores"]
        if metric == "match":
            assert scores["accuracy"]["score"] == evals_match(out, ideal), item_id
        elif metric == "includes":
            assert scores["accuracy"]["score"] == evals_includes(out, ideal, ignore_case), item_id
        elif metric == "fuzzy":
            accuracy, f1 = evals_fuzzy(out, ideal)
            assert scores["accuracy"]["score"] == accuracy, item_id
            assert scores["f1_score"]["score"] == pytest.approx(f1), item_id
        else:
            assert scores["accuracy"]["score"] == evals_json(out, ideal), item_id
        outcomes.add(scores["accuracy"]["score"])
    assert outcomes == {0.0, 1.0}  # the comparison saw both verdicts
    assert list(spec)  # the spec file parses as YAML


def test_model_graded_eval_scores_as_evals_choice_scores(
    project: Path, answers: Answers, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import("abstract2title")
    with FakeOpenAI(responder=answers) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        assert main(["run", "abstract2title", "--limit", "12"]) == 0
    closedqa = yaml.safe_load((REGISTRY / "modelgraded/closedqa.yaml").read_text())["closedqa"]
    items = result_items(project, "abstract2title")
    scores = {i: item["scores"]["score"]["score"] for i, item in items.items()}
    assert scores == {i: closedqa["choice_scores"][answers.judged[item["output"]]] for i, item in items.items()}
    assert set(scores.values()) == {0.0, 1.0}
