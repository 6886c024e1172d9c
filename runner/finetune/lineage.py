"""`baselines/lineage.jsonl`: one committed line per finished retraining, oldest first.

Each line links training data hash -> recipe hash -> job id -> model id -> the promotion gate's decision and
numbers, so any champion can be traced to the data it was trained on. The `dataset_changed` and `schedule`
triggers read the last line of a recipe. Lines are `runner.documents.ledgers.LineageEntry` documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.baselines.ledger import FOLDER, append_unique, read_ledger
from runner.documents.ledgers import LINEAGE_LINE, LineageEntry

LINEAGE = "lineage.jsonl"


def lineage_path(root: Path) -> Path:
    return root / FOLDER / LINEAGE


def read_lineage(root: Path) -> list[LineageEntry]:
    return read_ledger(lineage_path(root), LINEAGE_LINE)


def last_of(entries: Sequence[LineageEntry], recipe: str) -> LineageEntry | None:
    """The latest of `entries` (the lineage, oldest first) for `recipe` whose training finished (whatever the
    promotion decided)."""
    mine = [e for e in entries if e.recipe == recipe and e.model_id]
    return mine[-1] if mine else None


def last_trained(entry: LineageEntry | None) -> dt.date | None:
    if entry is None or not entry.trained_at:
        return None
    return dt.datetime.fromisoformat(entry.trained_at).date()


def append(root: Path, entry: Mapping[str, Any]) -> Path:
    """Append one canonical line (re-writing atomically); the same job and decision is recorded once."""
    path = lineage_path(root)
    append_unique(path, LINEAGE_LINE, [entry], lambda e: (e.recipe, e.job_id, e.decision))
    return path
