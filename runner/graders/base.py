"""The grader protocol and the values that flow through it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from runner.models.types import ChatResponse

S_contra = TypeVar("S_contra", contravariant=True)


@dataclass(frozen=True)
class Sample:
    """A model's output for one item, as graders see it (`{{ sample.* }}`)."""

    output_text: str
    output_tools: tuple[Mapping[str, Any], ...] = ()
    """Tool calls: `{"name": str, "arguments": parsed JSON object or the raw string when it does not parse}`."""

    @property
    def output_json(self) -> Any:
        """`output_text` parsed as JSON, or None when it is not valid JSON."""
        try:
            return json.loads(self.output_text)
        except ValueError:
            return None

    def context(self) -> dict[str, Any]:
        """The `sample` variable of grader templates and python graders (plain data only)."""
        return {
            "output_text": self.output_text,
            "output_json": self.output_json,
            "output_tools": [dict(t) for t in self.output_tools],
            "choices": [{"message": {"role": "assistant", "content": self.output_text}}],
        }


@dataclass(frozen=True)
class GradeResult:
    """The outcome of grading one sample. A grader that fails returns `error`, score 0 and passed False."""

    score: float
    passed: bool
    error: str | None = None
    reasoning: str | None = None
    sub_scores: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def failure(cls, error: str) -> GradeResult:
        return cls(score=0.0, passed=False, error=error)


class Judge(Protocol):
    """Model calls on behalf of a grader: cached, budgeted and retried by the engine."""

    async def chat(
        self, model_ref: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
    ) -> ChatResponse:
        """Call the Model spec `model_ref` (`name` or `name@alias`); temperature 0 and a seed are pinned by
        the caller unless `params` sets them."""
        ...

    async def embed(self, model_ref: str, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings from the Model spec `model_ref`."""
        ...


@dataclass(frozen=True)
class GradeContext:
    """What a grader may use besides the sample and the item."""

    judge: Judge
    spec_dir: Path
    """Folder of the Grader's spec file (python grader `file:` paths are relative to it)."""
    baseline: Sample | None = None
    """pairwise: the baseline model's sample for the same item."""


class Grader(Protocol[S_contra]):
    """One grader type."""

    async def grade(self, spec: S_contra, sample: Sample, item: Mapping[str, Any], ctx: GradeContext) -> GradeResult:
        """Grade `sample` for `item`. Expected failures (bad model output, a crashing python grader) return
        `GradeResult.failure(...)`; only bugs raise."""
        ...
