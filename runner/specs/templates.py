"""Jinja2 templates, compiled in a sandbox with strict undefined, bounded, and analysed for the fields they use.

Templates come from pull requests and are hostile programs. They are compiled only by `_Environment`, Jinja2's
`SandboxedEnvironment` (no unsafe attributes) with limits on top, and see only the plain data of one item and one
sample:
- statically (`analyse`, run by `flywheel validate`): huge constants (`'x' * 3000000000`, `10 ** 100000`, a width
  of 10**9 passed to a filter), loops over constant ranges that would run more than MAX_LOOP times, nesting too
  deep to parse, and code that does not compile are located errors;
- at run time (`render`): repeats, powers, `%` widths and call arguments are checked before they allocate,
  rendering stops after RENDER_TIMEOUT_S seconds or MAX_OUTPUT_CHARS characters or when memory grows by
  MAX_MEMORY_GROWTH, and any failure is a `jinja2.TemplateError`, which the engine records as an error for that
  item (never a crashed run). `lipsum` is removed (it generates text of any size in one call).
"""

from __future__ import annotations

import operator
import re
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, wraps
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

SAMPLE_FIELDS = frozenset({"output_text", "output_json", "output_tools", "choices"})
"""Attributes of `sample` in grader templates (as OpenAI's graders define them)."""
MAX_OUTPUT_CHARS = 4_000_000
"""Characters one rendering, or one value built by `*` or `+`, may reach."""
MAX_NUMBER = 1_000_000
"""Largest repeat count, width or call argument a template may use."""
MAX_INT_BITS = 4096
"""Largest integer (in bits) `*` and `**` may produce."""
MAX_LOOP = 10_000_000
"""Iterations of nested loops over constant ranges that `validate` accepts."""
RENDER_TIMEOUT_S = 5.0
MAX_MEMORY_GROWTH = 256 * 1024 * 1024
"""Bytes the process's peak memory may grow while one template renders."""


class TemplateLimitError(SecurityError):
    """A template broke a limit (size, time, memory, a huge constant)."""


class TemplateRenderError(TemplateError):
    """A template raised an ordinary Python error while rendering (a division by zero, a bad type, ...)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_number(value: object) -> None:
    if _is_int(value) and abs(value) > MAX_NUMBER:  # type: ignore[arg-type]
        raise TemplateLimitError(f"number {value} is too large for a template (the limit is {MAX_NUMBER})")


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\d*)(?:\.(\d*))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")


def check_format(fmt: object) -> None:
    """Refuse a `%` or `str.format` pattern whose widths or precisions are huge (`'%0999999999d'`)."""
    if not isinstance(fmt, str):
        return
    numbers = [n for m in _PRINTF_SPEC.finditer(fmt) for n in m.groups() if n]
    numbers += [n for m in _FORMAT_SPEC.finditer(fmt) for n in re.findall(r"\d+", m.group(1))]
    for number in numbers:
        _check_number(int(number) if len(number) <= 20 else MAX_NUMBER + 1)


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse `left op right` when its result would be huge; called before the operation runs."""
    sized = (str, list, tuple, bytes)
    if op == "*":
        seq, count = (left, right) if isinstance(left, sized) else (right, left)
        if isinstance(seq, sized) and _is_int(count) and len(seq) * max(count, 0) > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(
                f"a value of {len(seq) * count} items would be built (the limit is {MAX_OUTPUT_CHARS})"
            )
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"a number of more than {MAX_INT_BITS} bits would be built")
    elif op == "**" and _is_int(right) and isinstance(left, int | float):
        bits = max(left.bit_length(), 1) if isinstance(left, int) else 1
        if abs(right) > MAX_INT_BITS or bits * right > MAX_INT_BITS:
            raise TemplateLimitError(f"{left} ** {right} is too large for a template")
    elif op == "%" and isinstance(left, str):
        check_format(left)
        for arg in right if isinstance(right, tuple) else (right,):
            _check_number(arg)
    elif (
        op == "+" and isinstance(left, sized) and isinstance(right, sized) and len(left) + len(right) > MAX_OUTPUT_CHARS
    ):
        raise TemplateLimitError(f"a value of more than {MAX_OUTPUT_CHARS} items would be built")


class _Environment(SandboxedEnvironment):
    """Jinja2's sandbox, with the arithmetic that allocates and every call's arguments checked first."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            _check_number(arg)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if getattr(value, "__name__", None) in ("format", "format_map"):
            check_format(getattr(value, "__self__", None))
        return super().wrap_str_format(value)


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter or test whose arguments after the value are checked (`center(10**9)`, `indent(10**9)`)."""

    first = 2 if getattr(fn, "jinja_pass_arg", None) is not None else 1  # (context,) value, arguments...

    @wraps(fn)  # keeps jinja_pass_arg, so context-taking filters still get it
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args[first:], *kwargs.values()):
            _check_number(arg)
        if fn.__name__ == "do_format" and len(args) >= first:
            check_format(args[first - 1])
        return fn(*args, **kwargs)

    return guarded


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one sandboxed environment every template is compiled in."""
    env = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.pop("lipsum", None)
    env.filters = {name: _guarded(fn) for name, fn in env.filters.items()}
    return env


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile (cached by source); raises jinja2.TemplateError (a syntax error, or code too deep to compile)."""
    try:
        return environment().from_string(source)
    except TemplateError:
        raise
    except (RecursionError, MemoryError, SyntaxError, ValueError) as exc:
        raise TemplateLimitError(f"the template does not compile ({type(exc).__name__}): nest it less") from None


class _Watch:
    """A trace function on the template's own frames: stops rendering past the deadline or the memory cap."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + RENDER_TIMEOUT_S
        self.memory_cap = _peak_bytes() + MAX_MEMORY_GROWTH
        self.ticks = 0

    def __call__(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if frame.f_code.co_filename != "<template>":
            return None
        return self.local(frame, event, arg)

    def local(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        # Memory on every line: a loop that doubles a string needs only a few lines to exhaust the machine.
        self.ticks += 1
        if self.ticks & 0xF == 0 and time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took longer than {RENDER_TIMEOUT_S:g} s")
        if _peak_bytes() > self.memory_cap:
            raise TemplateLimitError(f"rendering used more than {MAX_MEMORY_GROWTH >> 20} MB of memory")
        return self.local


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def _watched() -> Iterator[None]:
    previous = sys.gettrace()
    sys.settrace(_Watch())
    try:
        yield
    finally:
        sys.settrace(previous)


def render(source: str, **context: Any) -> str:
    """Render `source` with `context` within the limits; every failure is a jinja2.TemplateError
    (UndefinedError, SecurityError, TemplateLimitError, TemplateRenderError, ...)."""
    template = compile_template(source)
    parts: list[str] = []
    size = 0
    try:
        with _watched():
            for chunk in template.generate(**context):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateLimitError(f"the rendered text is longer than {MAX_OUTPUT_CHARS} characters")
                parts.append(chunk)
    except TemplateError:
        raise
    except RecursionError:
        raise TemplateLimitError("the template recursed too deeply") from None
    except MemoryError:
        raise TemplateLimitError("the template ran out of memory") from None
    except Exception as exc:  # the template is a hostile program: whatever it raises fails this item only
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}"[:500]) from None
    return "".join(parts)


@dataclass(frozen=True)
class TemplateUse:
    """What a template refers to."""

    variables: frozenset[str]
    """Top-level names it reads from the context."""
    fields: dict[str, frozenset[str]]
    """Per top-level name: the first-level attributes / constant keys it reads (`item.label` -> label)."""


class TemplateProblem(Exception):
    """A template that does not compile or breaks a limit; `line` is 1-based within the template."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def analyse(source: str) -> TemplateUse:
    """Parse `source`, check its static limits and report the names and fields it uses; raise TemplateProblem."""
    env = environment()
    try:
        ast = env.parse(source)
        _static_limits(ast)
        compile_template(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", exc.lineno) from None
    except TemplateLimitError as exc:
        raise TemplateProblem(f"template: {exc.message}", 1) from None
    except (RecursionError, MemoryError):
        raise TemplateProblem("template is nested too deeply; nest it less", 1) from None
    variables = frozenset(meta.find_undeclared_variables(ast))
    fields: dict[str, set[str]] = {}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name in variables:
            fields.setdefault(node.node.name, set()).add(node.attr)
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.node, nodes.Name)
            and node.node.name in variables
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            fields.setdefault(node.node.name, set()).add(node.arg.value)
    return TemplateUse(variables, {k: frozenset(v) for k, v in fields.items()})


_FOLD: dict[type[nodes.Expr], tuple[str, Callable[[Any, Any], Any]]] = {
    nodes.Mul: ("*", operator.mul),
    nodes.Pow: ("**", operator.pow),
    nodes.Mod: ("%", operator.mod),
    nodes.Add: ("+", operator.add),
}


def _constant(node: nodes.Node) -> Any:
    """The value of a constant expression (numbers, strings, tuples, lists and the checked operators over
    them), or None when it is not constant. Raises TemplateLimitError for a huge one."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg | nodes.Pos):
        value = _constant(node.node)
        return -value if isinstance(node, nodes.Neg) and isinstance(value, int | float) else value
    if isinstance(node, nodes.Tuple | nodes.List):
        values = [_constant(n) for n in node.items]
        return None if any(v is None for v in values) else (tuple(values) if isinstance(node, nodes.Tuple) else values)
    if type(node) in _FOLD and isinstance(node, nodes.BinExpr):
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None:
            return None
        op, fn = _FOLD[type(node)]
        check_binop(op, left, right)
        try:
            return fn(left, right)
        except (TypeError, ValueError, ArithmeticError):
            return None
    return None


def _static_limits(ast: nodes.Template) -> None:
    """Huge constants and constant-range loops, each raised as a TemplateProblem at its line."""
    for node in ast.find_all((nodes.BinExpr, nodes.Call, nodes.Filter, nodes.Test)):
        try:
            if isinstance(node, nodes.BinExpr):
                if isinstance(node, nodes.Mul | nodes.Pow):  # `text * 3000000000`: huge whatever text is
                    _check_number(_constant(node.right))
                    _check_number(_constant(node.left))
                _constant(node)
            elif isinstance(node, nodes.Call | nodes.Filter | nodes.Test):
                if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
                    check_format(_constant(node.node.node))  # '{:>999999999}'.format(...)
                if isinstance(node, nodes.Filter) and node.name == "format" and node.node is not None:
                    check_format(_constant(node.node))  # '%0999999999d'|format(...)
                for arg in (*node.args, *(kw.value for kw in node.kwargs)):
                    _check_number(_constant(arg))
        except TemplateLimitError as exc:
            raise TemplateProblem(f"template: {exc.message}", node.lineno) from None
    _loops(ast, 1)


def _range_length(node: nodes.Node) -> int | None:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "range":
        args = [_constant(a) for a in node.args]
        if args and all(_is_int(a) for a in args) and not node.kwargs:
            try:
                return len(range(*args))
            except (TypeError, ValueError, OverflowError):
                return None
    return None


def _loops(node: nodes.Node, runs: int) -> None:
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.For):
            length = _range_length(child.iter)
            total = runs * (length if length is not None else 1)
            if total > MAX_LOOP:
                raise TemplateProblem(
                    f"template: these loops would run {total} times (the limit is {MAX_LOOP})", child.lineno
                )
            _loops(child, total)
        else:
            _loops(child, runs)
