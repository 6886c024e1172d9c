"""`baselines/lineage.jsonl`: one committed line per finished retraining, oldest first.

Each line links training data hash -> recipe hash -> job id -> model id -> the promotion gate's decision and
numbers, so any champion can be traced to the data it was trained on. The `dataset_changed` and `schedule`
triggers read the last line of a recipe.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.baselines.store import FOLDER
from runner.fsutil import atomic_write_text

LINEAGE = "lineage.jsonl"


def lineage_path(root: Path) -> Path:
    return root / FOLDER / LINEAGE


def read_lineage(root: Path) -> list[dict[str, Any]]:
    path = lineage_path(root)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def last_for(root: Path, recipe: str) -> dict[str, Any] | None:
    """The latest lineage entry of `recipe` whose training finished (whatever the promotion decided)."""
    entries = [e for e in read_lineage(root) if e.get("recipe") == recipe and e.get("model_id")]
    return entries[-1] if entries else None


def last_trained(entry: Mapping[str, Any] | None) -> dt.date | None:
    if not entry or not entry.get("trained_at"):
        return None
    return dt.datetime.fromisoformat(str(entry["trained_at"])).date()


def append(root: Path, entry: Mapping[str, Any]) -> Path:
    """Append one canonical line (re-writing atomically); the same job and decision is recorded once."""
    path = lineage_path(root)
    entries = read_lineage(root)
    key = (entry.get("recipe"), entry.get("job_id"), entry.get("decision"))
    if any((e.get("recipe"), e.get("job_id"), e.get("decision")) == key for e in entries):
        return path
    lines = [json.dumps(e, sort_keys=True, separators=(",", ":")) for e in [*entries, dict(entry)]]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
