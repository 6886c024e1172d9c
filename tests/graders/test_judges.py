"""score_model, label_model and pairwise against a scripted judge (the fake at the model seam)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from runner.errors import ProviderError
from runner.graders.base import GradeResult, Sample
from runner.graders.registry import grade
from runner.specs.grader import GraderSpec
from tests.graders.conftest import ScriptedJudge, context

SPEC: TypeAdapter[GraderSpec] = TypeAdapter(GraderSpec)
MESSAGES = [
    {"role": "system", "content": "Grade the answer."},
    {"role": "user", "content": "Q: {{ item.q }}\nA: {{ sample.output_text }}"},
]


def _run(
    body: dict[str, Any], judge: ScriptedJudge, output: str = "Paris", baseline: Sample | None = None
) -> GradeResult:
    spec = SPEC.validate_python(body)
    return asyncio.run(grade(spec, Sample(output), {"q": "capital of France?"}, context(judge, baseline=baseline)))


def _score_model(**extra: Any) -> dict[str, Any]:
    return {"type": "score_model", "model": "judge", "input": MESSAGES, "range": [1, 5], **extra}


def test_score_model_renders_the_prompt_and_asks_for_reasoning_first() -> None:
    judge = ScriptedJudge(lambda m, p: json.dumps({"reasoning": "correct", "score": 5}))
    result = _run(_score_model(), judge)
    assert (result.score, result.passed, result.reasoning) == (5.0, True, "correct")
    model, messages, params = judge.calls[0]
    assert model == "judge"
    assert messages[1]["content"] == "Q: capital of France?\nA: Paris"
    schema = params["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["reasoning", "score"]
    assert schema["properties"]["score"] == {"type": "number", "minimum": 1, "maximum": 5}


@pytest.mark.parametrize(("score", "threshold", "passed"), [(3, None, True), (2.9, None, False), (4, 4.5, False)])
def test_score_model_pass_threshold_defaults_to_the_middle_of_range(
    score: float, threshold: float | None, passed: bool
) -> None:
    judge = ScriptedJudge(lambda m, p: json.dumps({"reasoning": "", "score": score}))
    extra = {} if threshold is None else {"pass_threshold": threshold}
    assert _run(_score_model(**extra), judge).passed is passed


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("not json at all", "not JSON"),
        ('{"reasoning": "x"}', "no `score`"),
        ('{"reasoning": "x", "score": 9}', "outside range"),
        ('{"reasoning": "x", "score": "5"}', "outside range"),
        ("", "no text"),
    ],
)
def test_hostile_or_broken_judge_output_is_a_graded_error(answer: str, message: str) -> None:
    result = _run(_score_model(), ScriptedJudge(lambda m, p: answer))
    assert (result.score, result.passed) == (0.0, False)
    assert result.error is not None and message in result.error


def test_score_model_passes_its_sampling_params() -> None:
    judge = ScriptedJudge(lambda m, p: json.dumps({"reasoning": "", "score": 1}))
    _run(_score_model(sampling_params={"temperature": 0.3, "seed": 7}), judge)
    assert judge.calls[0][2]["temperature"] == 0.3 and judge.calls[0][2]["seed"] == 7


def test_label_model_passes_on_passing_labels_only() -> None:
    body = {
        "type": "label_model",
        "model": "judge",
        "input": MESSAGES,
        "labels": ["correct", "incorrect", "unsure"],
        "passing_labels": ["correct"],
    }
    ok = _run(body, ScriptedJudge(lambda m, p: json.dumps({"reasoning": "right", "label": "correct"})))
    assert (ok.score, ok.passed) == (1.0, True)
    bad = _run(body, ScriptedJudge(lambda m, p: json.dumps({"reasoning": "hmm", "label": "unsure"})))
    assert (bad.score, bad.passed, bad.error) == (0.0, False, None)
    off = _run(body, ScriptedJudge(lambda m, p: json.dumps({"reasoning": "", "label": "CORRECT"})))
    assert off.error is not None and "not one of" in off.error


def test_label_model_constrains_the_answer_to_the_labels() -> None:
    judge = ScriptedJudge(lambda m, p: json.dumps({"reasoning": "", "label": "a"}))
    _run(
        {"type": "label_model", "model": "judge", "input": MESSAGES, "labels": ["a", "b"], "passing_labels": ["a"]},
        judge,
    )
    assert judge.calls[0][2]["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == ["a", "b"]


PAIRWISE = {
    "type": "pairwise",
    "model": "judge",
    "input": [{"role": "user", "content": "Which is better?\n1: {{ first.output_text }}\n2: {{ second.output_text }}"}],
}


def _prefers(text: str) -> ScriptedJudge:
    """A judge that prefers the answer containing `text`, whatever its position."""

    def answer(messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
        content = messages[0]["content"]
        first = content.split("\n1: ")[1].split("\n2: ")[0]
        return json.dumps({"reasoning": "", "winner": "1" if text in first else "2"})

    return ScriptedJudge(answer)


def test_pairwise_runs_both_orders() -> None:
    base = Sample("Lyon")
    win = _run(PAIRWISE, _prefers("Paris"), "Paris", base)
    assert (win.score, win.passed) == (1.0, True)
    judge = _prefers("Lyon")
    lose = _run(PAIRWISE, judge, "Paris", base)
    assert (lose.score, lose.passed) == (0.0, False)
    contents = [c[1][0]["content"] for c in judge.calls]
    assert "1: Paris\n2: Lyon" in contents[0] and "1: Lyon\n2: Paris" in contents[1]


def test_pairwise_cancels_position_bias() -> None:
    always_first = ScriptedJudge(lambda m, p: json.dumps({"reasoning": "", "winner": "1"}))
    result = _run(PAIRWISE, always_first, "Paris", Sample("Lyon"))
    assert result.score == 0.5
    assert result.sub_scores == {"candidate_first": 1.0, "baseline_first": 0.0}


def test_pairwise_without_a_baseline_is_a_graded_error() -> None:
    result = _run(PAIRWISE, ScriptedJudge(), "Paris", None)
    assert result.error is not None and "baseline_model" in result.error


class _FailingJudge(ScriptedJudge):
    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        exc = ProviderError("judge endpoint down")
        exc.status = self.status  # type: ignore[attr-defined]
        raise exc


def test_a_failed_judge_call_is_a_graded_error_but_a_bad_key_stops_the_run() -> None:
    result = _run(_score_model(), _FailingJudge(503))
    assert result.error is not None and "judge call failed" in result.error
    with pytest.raises(ProviderError):
        _run(_score_model(), _FailingJudge(401))
