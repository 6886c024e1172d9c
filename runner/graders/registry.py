"""The one registry of grader types, and `grade`, which the engine calls for every sample.

`grade` turns the failures a grader can meet on hostile input (a template naming a missing field, a sandbox
violation, a judge call that failed after its retries) into a graded error for that sample; a fatal provider
error (bad key, unknown model) and a budget stop still end the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.errors import BudgetError, ProviderError, ReplayMissError
from runner.graders.base import GradeContext, Grader, GradeResult, Sample
from runner.graders.json_schema import JsonSchemaGraderRunner
from runner.graders.judges import LabelModelGrader, PairwiseGrader, ScoreModelGrader
from runner.graders.multi import MultiGraderRunner
from runner.graders.python import PythonGraderRunner
from runner.graders.render import GraderTemplateError
from runner.graders.string_check import StringCheckGrader
from runner.graders.text_similarity import TextSimilarityGrader
from runner.graders.tool_call import ToolCallGrader
from runner.specs.grader import GraderSpec

FATAL_STATUS = frozenset({401, 403, 404})
"""Provider statuses that no other sample would survive either: the run stops."""


async def grade(spec: GraderSpec, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
    """Grade one sample with the grader `spec`."""
    grader: Grader[Any] = GRADERS[spec.type]
    try:
        return await grader.grade(spec, sample, item, ctx)
    except GraderTemplateError as exc:
        return GradeResult.failure(str(exc))
    except (BudgetError, ReplayMissError):
        raise
    except ProviderError as exc:
        if getattr(exc, "status", None) in FATAL_STATUS:
            raise
        return GradeResult.failure(f"judge call failed: {exc}")


GRADERS: dict[str, Grader[Any]] = {
    "string_check": StringCheckGrader(),
    "text_similarity": TextSimilarityGrader(),
    "score_model": ScoreModelGrader(),
    "label_model": LabelModelGrader(),
    "python": PythonGraderRunner(),
    "multi": MultiGraderRunner(grade),
    "json_schema": JsonSchemaGraderRunner(),
    "tool_call": ToolCallGrader(),
    "pairwise": PairwiseGrader(),
}
"""Grader implementations by `type`; `runner.specs.grader.GRADER_TYPES` lists the same keys."""
