"""string_check with OpenAI's documented semantics, through the registry."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import TypeAdapter

from runner.graders.base import Sample
from runner.graders.registry import grade
from runner.specs.grader import GraderSpec
from tests.graders.conftest import context

SPEC: TypeAdapter[GraderSpec] = TypeAdapter(GraderSpec)


def _grade(operation: str, output: str, expected: str) -> tuple[float, bool]:
    spec = SPEC.validate_python(
        {
            "type": "string_check",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.expected }}",
            "operation": operation,
        }
    )
    result = asyncio.run(grade(spec, Sample(output), {"expected": expected}, context()))
    assert result.error is None
    return result.score, result.passed


@pytest.mark.parametrize(
    ("operation", "output", "expected", "passed"),
    [
        ("eq", "billing", "billing", True),
        ("eq", "Billing", "billing", False),  # eq is case-sensitive
        ("eq", "billing ", "billing", False),  # and exact: no trimming
        ("ne", "bug", "billing", True),
        ("ne", "billing", "billing", False),
        ("like", "this is a billing issue", "billing", True),  # like: the reference occurs in the input
        ("like", "this is a Billing issue", "billing", False),
        ("ilike", "this is a BILLING issue", "billing", True),  # ilike ignores case
        ("ilike", "this is a bug", "billing", False),
        ("like", "anything", "", True),  # the empty string occurs everywhere
    ],
)
def test_operations(operation: str, output: str, expected: str, passed: bool) -> None:
    assert _grade(operation, output, expected) == (1.0 if passed else 0.0, passed)


def test_a_template_naming_a_missing_field_is_a_graded_error_not_a_crash() -> None:
    spec = SPEC.validate_python(
        {"type": "string_check", "input": "{{ sample.output_text }}", "reference": "{{ item.nope }}", "operation": "eq"}
    )
    result = asyncio.run(grade(spec, Sample("x"), {"expected": "x"}, context()))
    assert (result.score, result.passed) == (0.0, False)
    assert result.error is not None and "nope" in result.error


def test_templates_are_sandboxed() -> None:
    spec = SPEC.validate_python(
        {
            "type": "string_check",
            "input": "{{ sample.output_text.__class__.__mro__ }}",
            "reference": "x",
            "operation": "eq",
        }
    )
    result = asyncio.run(grade(spec, Sample("x"), {}, context()))
    assert result.error is not None and "unsafe" in result.error.lower()


def test_output_json_is_available_to_templates() -> None:
    spec = SPEC.validate_python(
        {
            "type": "string_check",
            "input": "{{ sample.output_json.label }}",
            "reference": "{{ item.label }}",
            "operation": "eq",
        }
    )
    result = asyncio.run(grade(spec, Sample('{"label": "bug"}'), {"label": "bug"}, context()))
    assert result.passed


def _grade_any(operation: str, output: str, expected: object) -> tuple[bool, str | None]:
    spec = SPEC.validate_python(
        {
            "type": "string_check",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.ideal }}",
            "operation": operation,
        }
    )
    result = asyncio.run(grade(spec, Sample(output), {"ideal": expected}, context()))
    return result.passed, result.error


@pytest.mark.parametrize(
    ("operation", "output", "passed"),
    [
        ("eq", "eighteen", True),  # any of the references
        ("eq", "18", True),
        ("eq", "['18', 'eighteen']", False),  # never the list's repr
        ("ne", "nineteen", True),  # ne: none of them
        ("ne", "18", False),
        ("like", "the answer is 18.", True),
        ("ilike", "EIGHTEEN it is", True),
        ("like", "nineteen", False),
    ],
)
def test_a_list_valued_reference_is_any_of(operation: str, output: str, passed: bool) -> None:
    assert _grade_any(operation, output, ["18", "eighteen"]) == (passed, None)


def test_an_empty_reference_list_is_a_graded_error() -> None:
    passed, error = _grade_any("eq", "18", [])
    assert not passed
    assert error == "grader template: {{ item.ideal }} is an empty list; give at least one reference"
