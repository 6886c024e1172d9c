"""Jinja2 templates, compiled in a sandbox with strict undefined, and analysed for the fields they use.

Templates come from pull requests and are hostile: they are compiled only by `SandboxedEnvironment`, which
blocks access to unsafe attributes, and see only the plain data of one item and one sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

SAMPLE_FIELDS = frozenset({"output_text", "output_json", "output_tools", "choices"})
"""Attributes of `sample` in grader templates (as OpenAI's graders define them)."""


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one sandboxed environment every template is compiled in."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile (cached by source); raises jinja2.TemplateSyntaxError."""
    return environment().from_string(source)


def render(source: str, **context: Any) -> str:
    """Render `source` with `context`; raises jinja2 errors (UndefinedError, SecurityError, ...)."""
    return compile_template(source).render(**context)


@dataclass(frozen=True)
class TemplateUse:
    """What a template refers to."""

    variables: frozenset[str]
    """Top-level names it reads from the context."""
    fields: dict[str, frozenset[str]]
    """Per top-level name: the first-level attributes / constant keys it reads (`item.label` -> label)."""


class TemplateProblem(Exception):
    """A template that does not compile; `line` is 1-based within the template."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def analyse(source: str) -> TemplateUse:
    """Parse `source` and report the names and fields it uses; raise TemplateProblem on a syntax error."""
    env = environment()
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", exc.lineno) from None
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
