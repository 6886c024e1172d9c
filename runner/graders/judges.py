"""Model-graded graders: `score_model`, `label_model` and `pairwise`.

The judge answers with structured output whose first field is its reasoning, so it reasons before it commits to a
score (the JSON schema orders `reasoning` first; OpenAI's structured outputs and llama.cpp's grammar both generate
properties in schema order). Temperature 0 and a seed are pinned by the engine's judge unless the grader sets them.
Judge output is untrusted: it is parsed, never evaluated, and an answer outside the schema is a graded error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.graders.render import render_for
from runner.specs.common import Sampling
from runner.specs.grader import JudgeMessage, LabelModel, Pairwise, ScoreModel

MAX_REASONING = 2000
"""Characters of judge reasoning kept in results."""


def _schema(name: str, answer: str, answer_schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"reasoning": {"type": "string"}, answer: dict(answer_schema)},
                "required": ["reasoning", answer],
                "additionalProperties": False,
            },
        },
    }


def _params(sampling: Sampling | None, response_format: Mapping[str, Any]) -> dict[str, Any]:
    params = sampling.model_dump(exclude_none=True) if sampling is not None else {}
    params["response_format"] = dict(response_format)
    return params


def _messages(
    messages: Sequence[JudgeMessage], sample: Sample, item: Mapping[str, Any], **extra: Any
) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": render_for(m.content, sample, item, **extra)} for m in messages]


class JudgeAnswerError(ValueError):
    """The judge's answer does not fit the requested schema."""


def parse_answer(text: str | None, answer: str) -> tuple[Any, str | None]:
    """(answer value, reasoning) from the judge's JSON; raise JudgeAnswerError when it is not that JSON."""
    if not text:
        raise JudgeAnswerError("judge returned no text")
    try:
        data = json.loads(text)
    except ValueError:
        raise JudgeAnswerError(f"judge answer is not JSON: {text[:200]!r}") from None
    if not isinstance(data, dict) or answer not in data:
        raise JudgeAnswerError(f"judge answer has no `{answer}`: {text[:200]!r}")
    reasoning = data.get("reasoning")
    return data[answer], (str(reasoning)[:MAX_REASONING] if reasoning is not None else None)


class ScoreModelGrader:
    async def grade(self, spec: ScoreModel, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        low, high = spec.range
        rf = _schema("score", "score", {"type": "number", "minimum": low, "maximum": high})
        response = await ctx.judge.chat(
            spec.model, _messages(spec.input, sample, item), _params(spec.sampling_params, rf)
        )
        try:
            value, reasoning = parse_answer(response.text, "score")
        except JudgeAnswerError as exc:
            return GradeResult.failure(str(exc))
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            return GradeResult(
                0.0, False, error=f"judge score {value!r} is outside range [{low}, {high}]", reasoning=reasoning
            )
        threshold = spec.pass_threshold if spec.pass_threshold is not None else (low + high) / 2
        return GradeResult(float(value), float(value) >= threshold, reasoning=reasoning)


class LabelModelGrader:
    async def grade(self, spec: LabelModel, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        rf = _schema("label", "label", {"type": "string", "enum": list(spec.labels)})
        response = await ctx.judge.chat(spec.model, _messages(spec.input, sample, item), _params(None, rf))
        try:
            label, reasoning = parse_answer(response.text, "label")
        except JudgeAnswerError as exc:
            return GradeResult.failure(str(exc))
        if label not in spec.labels:
            return GradeResult(
                0.0, False, error=f"judge label {label!r} is not one of {spec.labels}", reasoning=reasoning
            )
        passed = label in spec.passing_labels
        return GradeResult(1.0 if passed else 0.0, passed, reasoning=f"{label}: {reasoning}" if reasoning else label)


WINNERS = ("1", "2", "tie")


class PairwiseGrader:
    """Asks the judge twice, candidate first then baseline first; the candidate's score is the mean of its two
    outcomes (win 1, tie 0.5, loss 0), so a judge that always prefers one position scores 0.5."""

    async def grade(self, spec: Pairwise, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        if ctx.baseline is None:
            return GradeResult.failure("pairwise needs the Eval's `baseline_model` to compare against")
        rf = _schema("verdict", "winner", {"type": "string", "enum": list(WINNERS)})
        params = _params(spec.sampling_params, rf)
        orders = ((sample, ctx.baseline), (ctx.baseline, sample))
        outcomes: list[float] = []
        reasons: list[str] = []
        for position, (first, second) in enumerate(orders):
            messages = _messages(spec.input, sample, item, first=first.context(), second=second.context())
            response = await ctx.judge.chat(spec.model, messages, params)
            try:
                winner, reasoning = parse_answer(response.text, "winner")
            except JudgeAnswerError as exc:
                return GradeResult.failure(str(exc))
            if winner not in WINNERS:
                return GradeResult.failure(f"judge winner {winner!r} is not one of {list(WINNERS)}")
            candidate = "1" if position == 0 else "2"
            outcomes.append(0.5 if winner == "tie" else 1.0 if winner == candidate else 0.0)
            reasons.append(f"order {position + 1}: {winner}" + (f" ({reasoning})" if reasoning else ""))
        score = sum(outcomes) / 2
        return GradeResult(
            score,
            score >= 0.5,
            reasoning="; ".join(reasons)[:MAX_REASONING],
            sub_scores={"candidate_first": outcomes[0], "baseline_first": outcomes[1]},
        )
