"""A safe evaluator for `multi` graders' `calculate_output`: arithmetic over named scores, never `eval`.

Formulas come from pull requests: their length (MAX_LENGTH), nesting (MAX_DEPTH), constants (finite floats,
integers of at most MAX_DIGITS digits) and exponents are bounded, and every result must be a finite number, so a
formula can fail one sample (a graded error) but never the run. `check` is what `flywheel validate` runs: it also
evaluates the formula with every score at 1 to catch overflow before a run.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "floor": math.floor,
    "ceil": math.ceil,
}
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
MAX_LENGTH = 2000
MAX_DEPTH = 32
"""Nesting of the expression tree (a deep chain would exhaust the evaluator's recursion)."""
MAX_DIGITS = 30


class FormulaError(ValueError):
    """The formula is not allowed or cannot be evaluated."""


def parse(formula: str, names: frozenset[str]) -> ast.Expression:
    """Parse and check `formula`: only numbers, `names`, + - * / ** %, unary +/- and FUNCTIONS calls."""
    if len(formula) > MAX_LENGTH:
        raise FormulaError(f"formula longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a valid formula: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError(f"formula nested more than {MAX_DEPTH} levels deep; simplify it") from None
    if _depth(tree) > MAX_DEPTH:
        raise FormulaError(f"formula nested more than {MAX_DEPTH} levels deep; simplify it")
    for node in ast.walk(tree):
        _check_node(node, names)
    return tree


def _check_node(node: ast.AST, names: frozenset[str]) -> None:
    """Refuse a node a formula may not contain."""
    if isinstance(node, ast.Name):
        if node.id not in names and node.id not in FUNCTIONS:
            known = ", ".join(sorted(names))
            raise FormulaError(f"unknown name '{node.id}'; the formula can use {known}")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise FormulaError(f"only these functions may be called: {', '.join(FUNCTIONS)}")
    elif isinstance(node, ast.Constant):
        _check_constant(node.value)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed")
    elif not isinstance(node, ast.Expression | ast.UnaryOp | ast.UAdd | ast.USub | ast.Load | ast.operator):
        raise FormulaError(f"{type(node).__name__} is not allowed in a formula")


def _check_constant(value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise FormulaError("only numbers may appear as constants")
    if isinstance(value, float) and not math.isfinite(value):
        raise FormulaError("constant too large (it is infinite as a float)")
    if isinstance(value, int) and len(str(abs(value))) > MAX_DIGITS:
        raise FormulaError(f"constant with more than {MAX_DIGITS} digits")


def evaluate(formula: str, values: Mapping[str, float]) -> float:
    """Evaluate `formula` with `values`; raises FormulaError on bad input or arithmetic errors."""
    tree = parse(formula, frozenset(values))

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return float(node.value)
        if isinstance(node, ast.Name):
            return float(values[node.id])
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise FormulaError("exponent too large")
            value = float(_BINARY[type(node.op)](left, right))
            if not math.isfinite(value):
                raise OverflowError(f"{value} in an intermediate result")
            return value
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return float(FUNCTIONS[node.func.id](*(ev(a) for a in node.args)))
        raise FormulaError(f"{type(node).__name__} is not allowed")  # pragma: no cover - parse() rejects it

    try:
        result = ev(tree)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise FormulaError(f"cannot evaluate '{formula}': {exc}") from None
    if not math.isfinite(result):
        raise FormulaError(f"cannot evaluate '{formula}': the result is {result}")
    return result


def check(formula: str, names: frozenset[str]) -> None:
    """Everything `validate` can know about `formula`: it parses within the limits, and it gives a finite
    number when every score is 1 (so it does not overflow on ordinary scores)."""
    parse(formula, names)
    try:
        evaluate(formula, dict.fromkeys(names, 1.0))
    except FormulaError as exc:
        raise FormulaError(f"{exc.args[0]} (with every score at 1)") from None


def _depth(tree: ast.AST) -> int:
    """Depth of the tree, without recursion (the tree may be deeper than Python's recursion limit)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
