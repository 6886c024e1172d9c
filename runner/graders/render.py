"""Rendering grader templates over `item` and `sample`, turning template failures into graded errors.

A reference template that is one expression naming a list (`{{ item.ideal }}` with `ideal: ["18", "eighteen"]`,
as openai/evals datasets have) renders to every element: graders compare against any of them (never against
the list's Python repr)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.environment import TemplateExpression

from runner.graders.base import Sample
from runner.specs.templates import environment, render

_ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}\s*$", re.S)


class GraderTemplateError(Exception):
    """A grader template failed on this item (an undefined field, a sandbox violation)."""


def render_for(source: str, sample: Sample, item: Mapping[str, Any], **extra: Any) -> str:
    """Render `source` with `item` and `sample` (plus `extra` names); raise GraderTemplateError on failure."""
    try:
        return render(source, item=dict(item), sample=sample.context(), **extra)
    except TemplateError as exc:
        raise GraderTemplateError(f"grader template: {exc}") from None


@lru_cache(maxsize=1024)
def _expression(source: str) -> TemplateExpression | None:
    match = _ONE_EXPRESSION.match(source)
    if match is None:
        return None
    try:
        return environment().compile_expression(match["expr"], undefined_to_none=False)
    except TemplateError:
        return None


def render_references(source: str, sample: Sample, item: Mapping[str, Any]) -> list[str]:
    """The reference(s) `source` names: every element when it is one expression whose value is a list, else the
    one rendered string. An empty list is a graded error."""
    expression = _expression(source)
    if expression is not None:
        try:
            value = expression(item=dict(item), sample=sample.context())
        except TemplateError as exc:
            raise GraderTemplateError(f"grader template: {exc}") from None
        if isinstance(value, list | tuple):
            if not value:
                raise GraderTemplateError(
                    f"grader template: {source.strip()} is an empty list; give at least one reference"
                )
            return [render("{{ value }}", value=v) for v in value]
    return [render_for(source, sample, item)]
