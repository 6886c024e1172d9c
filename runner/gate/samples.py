"""What a reviewer sees of a flipped item: an excerpt of its input, the value the graders expected, and the base
and head outputs (the base output only when the base was evaluated in this run: baselines keep scores only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.documents.io import ScoredDocument
from runner.documents.results import ItemRecord
from runner.engine.samples import load_input

if TYPE_CHECKING:
    from runner.gate.gate import Flip

EXCERPT = 80
"""Characters of input, expected value and outputs shown per flipped item in the PR comment."""


def excerpt(text: str | None, limit: int = EXCERPT) -> str | None:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe(flips: Sequence[Flip], base: ScoredDocument, head: ScoredDocument, head_state: Path) -> tuple[Flip, ...]:
    """`flips` with their input excerpt, expected value and both outputs filled in where known."""
    heads = {i.id: i for i in head.items if isinstance(i, ItemRecord)}
    bases = {i.id: i for i in base.items if isinstance(i, ItemRecord)}
    out = []
    for f in flips:
        h, b = heads.get(f.item), bases.get(f.item)
        user = None
        if h is not None and h.input_ref is not None:
            messages = load_input(head_state, h.input_ref) or []
            user = next((str(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), None)
        expected = "; ".join(str(v) for v in h.references.values()) if h is not None and h.references else None
        out.append(
            replace(
                f,
                input=excerpt(user),
                expected=excerpt(expected),
                base_output=excerpt(b.output if b else None),
                head_output=excerpt(h.output if h else None),
            )
        )
    return tuple(out)
