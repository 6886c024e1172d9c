"""The `multi` grader's formula language: arithmetic only, never eval."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.formula import FormulaError, check, evaluate

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


@pytest.mark.parametrize(
    ("formula", "values", "message"),
    [
        ("a * b", {"a": 1e200, "b": 1e200}, "cannot evaluate 'a * b': inf in an intermediate result"),
        ("a * b - a * b", {"a": 1e200, "b": 1e200}, "cannot evaluate 'a * b - a * b': inf in an intermediate result"),
        ("exp(a)", {"a": 1000.0}, "cannot evaluate 'exp(a)': math range error"),
        ("a / b", {"a": 1.0, "b": 0.0}, "cannot evaluate 'a / b': float division by zero"),
        ("-" * 100 + "a", {"a": 1.0}, "formula nested more than 32 levels deep; simplify it"),
        ("a * 1e999", {"a": 1.0}, "constant too large (it is infinite as a float)"),
    ],
)
def test_a_formula_that_overflows_fails_the_sample_not_the_run(
    formula: str, values: dict[str, float], message: str
) -> None:
    with pytest.raises(FormulaError) as info:
        evaluate(formula, values)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("exp(a * 1000)", "cannot evaluate 'exp(a * 1000)': math range error (with every score at 1)"),
        (
            "a * 1e200 * 1e200",
            "cannot evaluate 'a * 1e200 * 1e200': inf in an intermediate result (with every score at 1)",
        ),
        ("(" * 40 + "a" + " + 1)" * 40, "formula nested more than 32 levels deep; simplify it"),
        ("a * " + "9" * 31, "constant with more than 30 digits"),
    ],
)
def test_validate_catches_depth_and_overflow(formula: str, message: str) -> None:
    with pytest.raises(FormulaError) as info:
        check(formula, frozenset({"a"}))
    assert str(info.value) == message
