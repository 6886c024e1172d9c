"""`string_check`: OpenAI's semantics. eq / ne compare exactly; like: the reference occurs in the input;
ilike: the same, ignoring case. Score 1 or 0. A list-valued reference is any-of: eq / like / ilike pass when
one element matches, ne when none does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.graders.render import render_for, render_references
from runner.specs.grader import StringCheck


def check(operation: str, text: str, reference: str) -> bool:
    """The string_check operation on two rendered strings."""
    if operation == "eq":
        return text == reference
    if operation == "ne":
        return text != reference
    if operation == "like":
        return reference in text
    if operation == "ilike":
        return reference.casefold() in text.casefold()
    raise ValueError(f"unknown string_check operation {operation!r}")


class StringCheckGrader:
    async def grade(self, spec: StringCheck, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        text = render_for(spec.input, sample, item)
        references = render_references(spec.reference, sample, item)
        if spec.operation == "ne":
            ok = all(check("ne", text, r) for r in references)
        else:
            ok = any(check(spec.operation, text, r) for r in references)
        return GradeResult(score=1.0 if ok else 0.0, passed=ok)
