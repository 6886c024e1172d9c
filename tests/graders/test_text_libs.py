"""The text metrics' libraries are an extra: a missing one is named, with the install command, before anything
runs (validate, and every command that loads specs) and again if grading reaches it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import FlywheelError
from runner.graders.base import GradeContext, Sample
from runner.graders.text_similarity import TextSimilarityGrader
from runner.specs.grader import TextSimilarity


def test_validate_names_the_missing_library_and_the_fix(
    mini_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)
    monkeypatch.setitem(sys.modules, "rouge_score", None)
    assert main(["validate"]) == 1
    fix = "library, which is not installed; run: pip install 'flywheel-evals[text]'"
    assert capsys.readouterr().err.splitlines()[::3] == [
        f"specs/triage.yaml:44:22: Grader/fuzzy -> spec -> evaluation_metric: evaluation_metric 'fuzzy_match' needs the rapidfuzz {fix}",
        f"specs/triage.yaml:63:26: Grader/combined -> spec -> graders -> fuzzy -> evaluation_metric: "
        f"evaluation_metric 'rouge_l' needs the rouge_score {fix}",
        "flywheel: 2 errors in 1 file",
    ]


def test_grading_without_the_library_is_an_error_not_a_score(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    spec = TextSimilarity.model_validate(
        {"type": "text_similarity", "input": "a", "reference": "a", "evaluation_metric": "bleu", "pass_threshold": 0.5}
    )
    ctx = GradeContext(judge=None, spec_dir=Path())  # type: ignore[arg-type]
    with pytest.raises(FlywheelError) as err:
        asyncio.run(TextSimilarityGrader().grade(spec, Sample("a"), {}, ctx))
    assert str(err.value) == (
        "evaluation_metric 'bleu' needs the sacrebleu library, which is not installed; "
        "run: pip install 'flywheel-evals[text]'"
    )
