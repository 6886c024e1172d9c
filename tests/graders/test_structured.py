"""multi, json_schema and tool_call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import TypeAdapter

from runner.graders.base import GradeResult, Sample
from runner.graders.registry import GRADERS, grade
from runner.specs.grader import GRADER_TYPES, GraderSpec
from tests.graders.conftest import context

SPEC: TypeAdapter[GraderSpec] = TypeAdapter(GraderSpec)


def _grade(body: dict[str, Any], sample: Sample, item: dict[str, Any] | None = None) -> GradeResult:
    return asyncio.run(grade(SPEC.validate_python(body), sample, item or {}, context()))


def test_every_grader_type_is_registered() -> None:
    assert set(GRADERS) == set(GRADER_TYPES)


MULTI = {
    "type": "multi",
    "graders": {
        "exact": {
            "type": "string_check",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.ref }}",
            "operation": "eq",
        },
        "close": {
            "type": "text_similarity",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.ref }}",
            "evaluation_metric": "rouge_1",
            "pass_threshold": 0.5,
        },
    },
    "calculate_output": "0.5 * exact + 0.5 * close",
    "pass_threshold": 0.4,
}


def test_multi_combines_sub_scores_with_the_formula() -> None:
    result = _grade(MULTI, Sample("the cat is on the mat"), {"ref": "the cat sat on the mat"})
    assert result.score == pytest.approx(0.5 * 0 + 0.5 * 5 / 6)
    assert result.passed
    assert result.sub_scores == pytest.approx({"exact": 0.0, "close": 5 / 6})


def test_multi_fails_the_sample_when_a_sub_grader_fails() -> None:
    result = _grade(MULTI, Sample("x"), {})  # item.ref is missing
    assert result.error is not None and result.error.startswith("exact:")


def test_multi_arithmetic_errors_are_graded_errors() -> None:
    body = {**MULTI, "calculate_output": "exact / (close - close)"}
    result = _grade(body, Sample("a"), {"ref": "a"})
    assert result.error is not None and "calculate_output" in result.error


SCHEMA = {
    "type": "json_schema",
    "schema": {"type": "object", "properties": {"qty": {"type": "integer", "minimum": 1}}, "required": ["qty"]},
}


@pytest.mark.parametrize(
    ("output", "passed", "why"),
    [
        ('{"qty": 2}', True, None),
        ('{"qty": 0}', False, "qty: 0 is less than the minimum of 1"),
        ('{"count": 2}', False, "(root): 'qty' is a required property"),
        ("qty: 2", False, "not JSON"),
    ],
)
def test_json_schema(output: str, passed: bool, why: str | None) -> None:
    result = _grade(SCHEMA, Sample(output))
    assert result.passed is passed and result.score == float(passed)
    assert result.error is None
    if why:
        assert result.reasoning is not None and why in result.reasoning


def _call(name: str, args: Any) -> dict[str, Any]:
    return {"name": name, "arguments": args}


TOOL = {"type": "tool_call", "expected_tool": "{{ item.tool }}", "expected_arguments": {"city": "Paris"}}


@pytest.mark.parametrize(
    ("calls", "body", "score"),
    [
        ([_call("weather", {"city": "Paris", "unit": "C"})], TOOL, 1.0),  # subset: extra keys allowed
        ([_call("weather", {"city": "Paris", "unit": "C"})], {**TOOL, "arguments_match": "exact"}, 0.5),
        ([_call("weather", {"city": "Lyon"})], TOOL, 0.5),
        ([_call("search", {"city": "Paris"})], TOOL, 0.0),
        ([], TOOL, 0.0),
        ([_call("search", {}), _call("weather", {"city": "Paris"})], TOOL, 1.0),  # any matching call counts
        ([_call("weather", "{broken json")], TOOL, 0.5),
        ([_call("weather", {})], {k: v for k, v in TOOL.items() if k != "expected_arguments"}, 1.0),
        ([_call("weather", {"n": 1.0})], {**TOOL, "expected_arguments": '{"n": {{ item.n }}}'}, 1.0),
        ([_call("weather", {"n": True})], {**TOOL, "expected_arguments": {"n": 1}}, 0.5),  # true is not 1
    ],
)
def test_tool_call(calls: list[dict[str, Any]], body: dict[str, Any], score: float) -> None:
    result = _grade(body, Sample("", tuple(calls)), {"tool": "weather", "n": 1})
    assert result.score == score
    assert result.passed is (score == 1.0)


def test_tool_call_template_arguments_that_are_not_json_are_a_graded_error() -> None:
    body = {**TOOL, "expected_arguments": "{{ item.tool }}"}
    result = _grade(body, Sample("", (_call("weather", {}),)), {"tool": "weather"})
    assert result.error is not None and "JSON" in result.error
