"""`multi`: runs its sub-graders and combines their scores with `calculate_output`, evaluated by
`runner.formula` (a whitelisted arithmetic AST walker, never `eval`). A failing sub-grader fails the sample."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from runner import formula
from runner.graders.base import GradeContext, GradeResult, Sample
from runner.specs.grader import GraderSpec, MultiGrader

GradeFn = Callable[[GraderSpec, Sample, Mapping[str, Any], GradeContext], Awaitable[GradeResult]]


class MultiGraderRunner:
    def __init__(self, grade: GradeFn) -> None:
        self._grade = grade

    async def grade(self, spec: MultiGrader, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        keys = list(spec.graders)
        results = await asyncio.gather(*(self._grade(spec.graders[k], sample, item, ctx) for k in keys))
        by_key = dict(zip(keys, results, strict=True))
        failed = {k: r.error for k, r in by_key.items() if r.error is not None}
        if failed:
            return GradeResult.failure("; ".join(f"{k}: {e}" for k, e in failed.items()))
        scores = {k: r.score for k, r in by_key.items()}
        try:
            score = formula.evaluate(spec.calculate_output, scores)
        except formula.FormulaError as exc:
            return GradeResult.failure(f"calculate_output: {exc}")
        threshold = spec.pass_threshold if spec.pass_threshold is not None else 1.0
        return GradeResult(score, score >= threshold, sub_scores=scores)
