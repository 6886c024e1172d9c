"""`baselines/lineage.jsonl`: one committed line per finished retraining, oldest first.

Each line links training data hash -> recipe hash -> job id -> model id -> the promotion gate's decision and
numbers, so any champion can be traced to the data it was trained on. The `dataset_changed` and `schedule`
triggers read the last line of a recipe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.baselines.ledger import FOLDER, append_unique, read_jsonl

LINEAGE = "lineage.jsonl"


def lineage_path(root: Path) -> Path:
    return root / FOLDER / LINEAGE


def read_lineage(root: Path) -> list[dict[str, Any]]:
    return read_jsonl(lineage_path(root))


def last_of(entries: Sequence[Mapping[str, Any]], recipe: str) -> Mapping[str, Any] | None:
    """The latest of `entries` (the lineage, oldest first) for `recipe` whose training finished (whatever the
    promotion decided)."""
    mine = [e for e in entries if e.get("recipe") == recipe and e.get("model_id")]
    return mine[-1] if mine else None


def last_trained(entry: Mapping[str, Any] | None) -> dt.date | None:
    if not entry or not entry.get("trained_at"):
        return None
    return dt.datetime.fromisoformat(str(entry["trained_at"])).date()


def append(root: Path, entry: Mapping[str, Any]) -> Path:
    """Append one canonical line (re-writing atomically); the same job and decision is recorded once."""
    path = lineage_path(root)
    append_unique(path, [entry], lambda e: (e.get("recipe"), e.get("job_id"), e.get("decision")))
    return path
