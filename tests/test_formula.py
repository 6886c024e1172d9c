"""The `multi` grader's formula language: arithmetic only, never eval."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.formula import FormulaError, evaluate

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(a=finite, b=finite)
def test_weighted_sum_matches_python(a: float, b: float) -> None:
    assert evaluate("0.25 * a + 0.75 * b", {"a": a, "b": b}) == pytest.approx(0.25 * a + 0.75 * b)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("min(a, b)", 0.5),
        ("max(a, b) - abs(-1)", 0.0),
        ("sqrt(b) ** 2", 1.0),
        ("-a + +b", 0.5),
        ("floor(a + 0.9) + ceil(0.1)", 2.0),
        ("a % 0.3", 0.5 % 0.3),
    ],
)
def test_functions_and_operators(formula: str, expected: float) -> None:
    assert math.isclose(evaluate(formula, {"a": 0.5, "b": 1.0}), expected)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("__import__('os').system('id')", "only these functions may be called"),
        ("a.__class__", "Attribute is not allowed"),
        ("[a for a in b]", "ListComp is not allowed"),
        ("a if b else 1", "IfExp is not allowed"),
        ("'x' * 3", "only numbers may appear as constants"),
        ("a / 0", "cannot evaluate 'a / 0': float division by zero"),
        ("2 ** 1000", "exponent too large"),
        ("a +", "not a valid formula"),
        ("c", "unknown name 'c'; the formula can use a, b"),
        ("a << 1", "operator LShift is not allowed"),
        ("min(a, key=b)", "only these functions may be called"),
    ],
)
def test_rejected_formulas(formula: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        evaluate(formula, {"a": 0.5, "b": 1.0})
