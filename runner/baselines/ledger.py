"""Append-only JSONL ledgers committed under `baselines/` (the results history, the retraining lineage).

Every line is a versioned document (`runner.documents.ledgers`): read through its model, refused with its line
when forged or damaged, written canonically. Light on purpose: `flywheel plan` reads them, so this module
imports nothing from the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from runner.documents.ledgers import HISTORY_LINE, HistoryEntry
from runner.documents.versioned import Versioned
from runner.errors import DocumentError
from runner.fsutil import atomic_write_text
from runner.hashing import canonical_json

FOLDER = "baselines"
"""The committed folder, relative to the repository root."""
HISTORY = "history.jsonl"
"""One line per (eval, model) result on main: the trend history `metric_below` reads."""

M = TypeVar("M", bound=BaseModel)


def read_ledger(path: Path, kind: Versioned[M]) -> list[M]:
    """Every line of a ledger, oldest first (empty when there is none)."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw: Any = json.loads(line)
        except ValueError as exc:
            raise DocumentError(f"{path}:{number}: invalid JSON ({exc}); {kind.fix}") from None
        entries.append(kind.parse(raw, f"{path}:{number}"))
    return entries


def append_unique(
    path: Path, kind: Versioned[M], entries: Sequence[Mapping[str, Any]], key: Callable[[M], Hashable]
) -> bool:
    """Append the entries whose `key` is not recorded yet, one canonical line each, atomically (the old lines
    are kept byte for byte); True when the file changed. An entry that breaks the model raises before anything
    is written."""
    typed = [kind.model.model_validate(dict(e)) for e in entries]
    seen = {key(e) for e in read_ledger(path, kind)}
    new: list[M] = []
    for entry in typed:
        if key(entry) not in seen:
            seen.add(key(entry))
            new.append(entry)
    if not new:
        return False
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, old + "".join(canonical_json(kind.dump(e)) + "\n" for e in new))
    return True


def history_path(root: Path) -> Path:
    return root / FOLDER / HISTORY


def read_history(root: Path) -> list[HistoryEntry]:
    """Every line of baselines/history.jsonl, oldest first."""
    return read_ledger(history_path(root), HISTORY_LINE)


def append_history(root: Path, entries: Sequence[Mapping[str, Any]]) -> bool:
    """Append entries not already recorded for the same (eval, model, commit, run); True when the file changed."""
    return append_unique(history_path(root), HISTORY_LINE, entries, lambda e: (e.eval, e.model, e.commit, e.run_id))
