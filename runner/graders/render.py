"""Rendering grader templates over `item` and `sample`, turning template failures into graded errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError

from runner.graders.base import Sample
from runner.specs.templates import render


class GraderTemplateError(Exception):
    """A grader template failed on this item (an undefined field, a sandbox violation)."""


def render_for(source: str, sample: Sample, item: Mapping[str, Any], **extra: Any) -> str:
    """Render `source` with `item` and `sample` (plus `extra` names); raise GraderTemplateError on failure."""
    try:
        return render(source, item=dict(item), sample=sample.context(), **extra)
    except TemplateError as exc:
        raise GraderTemplateError(f"grader template: {exc}") from None
