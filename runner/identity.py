"""Cell identity and run identity: the one definition of when two cells, or two runs, are the same.

Every identity is the sha256 of the canonical JSON of an explicit field list plus `IDENTITY_VERSION`, so
adding a field is a visible change here (bump the version) and golden tests (tests/test_identity.py) pin the
hashes. The engine's journal, the plan, result and baseline documents and the gate all use these functions.

- **call key** (`call_key`): endpoint, request body, repeat index. The response cache and cassettes are keyed
  by it; it has no version field, so caches and committed cassettes stay valid.
- **cell key** (`cell_key`): the call key, the item's content hash and the grading hash. A journaled cell is
  reused only when all three match: a changed reference answer or grader re-grades the cell.
- **grading hash** (`grading_hash`): each grader's content hash and the Eval's metric definitions.
- **dataset hash** (`items_hash`): the ids and content hashes of the items an Eval evaluates (its split, after
  `--limit`), sorted by id; editing a training item does not change a test split's hash.
- **run identity** (`RunIdentity`, its `run_id`): `RUN_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.hashing import content_hash

IDENTITY_VERSION = 1
"""Bump when a field list below changes: cells and runs of another version are never reused."""

CELL_FIELDS = ("version", "call", "item", "grading")
"""What a cell key covers."""
GRADING_FIELDS = ("version", "graders", "metrics")
"""What the grading hash covers."""
RUN_FIELDS = (
    "version",
    "eval",
    "endpoint",
    "model_id",
    "sampling",
    "prompt",
    "dataset",
    "split",
    "repeats",
    "reduce",
    "grading",
)
"""What a run id covers (the model reference is not part of it: two names for one model are one run)."""


def call_key(endpoint: str, body: Mapping[str, Any], repeat: int) -> str:
    """The response cache key of one call: endpoint, the JSON body sent, and the repeat index (repeats are
    independent samples, each cached)."""
    return content_hash({"endpoint": endpoint, "body": dict(body), "repeat": repeat})


def template_error_key(error: str, item_hash: str) -> str:
    """The call key of a cell whose prompt fails to render (no call is made; the error is its identity)."""
    return content_hash({"template_error": error, "item": item_hash})


def grading_hash(graders: Mapping[str, str], metrics: Iterable[Mapping[str, Any]]) -> str:
    """Hash of how a cell is graded: grader name -> grader content hash, and the metric definitions in order."""
    return content_hash({"version": IDENTITY_VERSION, "graders": dict(graders), "metrics": [dict(m) for m in metrics]})


def cell_key(call: str, item_hash: str, grading: str) -> str:
    """The journal key of one cell: its call, its item's content and how it is graded."""
    return content_hash({"version": IDENTITY_VERSION, "call": call, "item": item_hash, "grading": grading})


def cell_id(item_id: str, repeat: int) -> str:
    """The readable name of a cell within a run: `item#repeat`."""
    return f"{item_id}#{repeat}"


def items_hash(items: Iterable[tuple[str, str]]) -> str:
    """The dataset hash of an Eval: (item id, item content hash) of exactly the items it evaluates, sorted by
    id so that reordering lines changes nothing."""
    return content_hash({"version": IDENTITY_VERSION, "items": sorted([i, h] for i, h in items)})


@dataclass(frozen=True)
class RunIdentity:
    """Everything that decides the results of one (Eval, model) run; `run_id` is its hash."""

    eval: str
    endpoint: str
    model_id: str
    sampling: Mapping[str, Any]
    prompt: str
    """Content hash of the Prompt spec."""
    dataset: str
    """`items_hash` of the evaluated items."""
    split: str | None
    repeats: int
    reduce: str
    grading: str
    """`grading_hash` of the Eval's graders and metrics."""

    def fields(self) -> dict[str, Any]:
        """The hashed fields, exactly `RUN_FIELDS`."""
        out = {name: getattr(self, name) for name in RUN_FIELDS if name != "version"}
        out["sampling"] = dict(self.sampling)
        return {"version": IDENTITY_VERSION, **out}

    @property
    def run_id(self) -> str:
        return content_hash(self.fields())
