"""A scripted judge: the fake at the model seam for model-graded graders."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from runner.graders.base import GradeContext, Sample
from runner.models.types import ChatResponse

Answer = Callable[[list[dict[str, Any]], dict[str, Any]], str]


class ScriptedJudge:
    """Answers each chat with `answer(messages, params)`; records every call; embeds by a bag of letters."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or (lambda messages, params: "{}")
        self.calls: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []

    async def chat(
        self, model_ref: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
    ) -> ChatResponse:
        msgs, prm = [dict(m) for m in messages], dict(params)
        self.calls.append((model_ref, msgs, prm))
        text = self.answer(msgs, prm)
        return ChatResponse.from_json({"choices": [{"message": {"role": "assistant", "content": text}}], "model": "j"})

    async def embed(self, model_ref: str, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append((model_ref, [{"embed": t} for t in texts], {}))
        return [[float(t.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]


def context(
    judge: ScriptedJudge | None = None, spec_dir: Path | None = None, baseline: Sample | None = None
) -> GradeContext:
    return GradeContext(judge=judge or ScriptedJudge(), spec_dir=spec_dir or Path("."), baseline=baseline)


@pytest.fixture
def judge() -> ScriptedJudge:
    return ScriptedJudge()
