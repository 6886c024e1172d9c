"""`tool_call` (Flywheel): did the model call the expected tool, with matching arguments?

Score 1 when some call names the expected tool and its arguments match, 0.5 when the tool is right but no call's
arguments match, 0 when the tool was not called. Only a score of 1 passes. `subset` matching compares every
expected key (recursively for objects); `exact` needs equal arguments. Numbers compare by value (1 == 1.0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.graders.render import render_for
from runner.specs.grader import ToolCall


def matches(expected: Any, actual: Any, *, subset: bool) -> bool:
    """Whether `actual` matches `expected`: equal, or (subset) every expected key present and matching."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return False
        if not subset and set(expected) != set(actual):
            return False
        return all(k in actual and matches(v, actual[k], subset=subset) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a, subset=subset) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


class ToolCallGrader:
    async def grade(self, spec: ToolCall, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        tool = render_for(spec.expected_tool, sample, item).strip()
        expected: Any = spec.expected_arguments
        if isinstance(expected, str):
            rendered = render_for(expected, sample, item)
            try:
                expected = json.loads(rendered)
            except ValueError:
                return GradeResult.failure(f"expected_arguments did not render to JSON: {rendered[:200]!r}")
        calls = [c for c in sample.output_tools if c.get("name") == tool]
        if not calls:
            called = [str(c.get("name")) for c in sample.output_tools]
            return GradeResult(
                0.0,
                False,
                reasoning=f"expected a call to {tool!r}, got {called or 'no tool call'}",
                sub_scores={"tool": 0.0, "arguments": 0.0},
            )
        if expected is None:
            return GradeResult(1.0, True, sub_scores={"tool": 1.0, "arguments": 1.0})
        subset = spec.arguments_match == "subset"
        if any(matches(expected, c.get("arguments"), subset=subset) for c in calls):
            return GradeResult(1.0, True, sub_scores={"tool": 1.0, "arguments": 1.0})
        got = json.dumps(calls[0].get("arguments"), sort_keys=True)[:300]
        return GradeResult(
            0.5,
            False,
            reasoning=f"{tool} called with {got}, expected {spec.arguments_match} match",
            sub_scores={"tool": 1.0, "arguments": 0.0},
        )
