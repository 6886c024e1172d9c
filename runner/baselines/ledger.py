"""Append-only JSONL ledgers committed under `baselines/` (the results history, the retraining lineage).

Light on purpose: `flywheel plan` reads them, so this module imports nothing from the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.fsutil import atomic_write_text
from runner.hashing import canonical_json

FOLDER = "baselines"
"""The committed folder, relative to the repository root."""
HISTORY = "history.jsonl"
"""One line per (eval, model) result on main: the trend history `metric_below` reads."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a ledger, oldest first (empty when there is none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_unique(
    path: Path, entries: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Hashable]
) -> bool:
    """Append the entries whose `key` is not recorded yet, one canonical line each, atomically (the old lines
    are kept byte for byte); True when the file changed."""
    existing = read_jsonl(path)
    seen = {key(e) for e in existing}
    new: list[Mapping[str, Any]] = []
    for entry in entries:
        if key(entry) not in seen:
            seen.add(key(entry))
            new.append(entry)
    if not new:
        return False
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, old + "".join(canonical_json(dict(e)) + "\n" for e in new))
    return True


def history_path(root: Path) -> Path:
    return root / FOLDER / HISTORY


def read_history(root: Path) -> list[dict[str, Any]]:
    """Every line of baselines/history.jsonl, oldest first."""
    return read_jsonl(history_path(root))
