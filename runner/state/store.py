"""The applied state: per (eval, model) the hashes and cell keys last applied, with a lineage id and a serial
that grows on every write. Canonical JSON, written atomically; git-ignored under the state folder."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runner.documents.state import STATE_DOC, STATE_VERSION, StateFile
from runner.errors import DocumentError
from runner.fsutil import atomic_write_text

STATE_FILE = "state.json"
HISTORY = 20
"""Applied metric values kept per (eval, model), newest last (retrain triggers read them)."""


class StateError(DocumentError):
    """The state file is unreadable or of another version."""


@dataclass(frozen=True)
class TargetState:
    """What was last applied for one (eval, model reference)."""

    model_id: str
    endpoint: str
    hashes: Mapping[str, Any]
    """prompt, sampling, dataset, split and per-grader hashes, as the plan computes them."""
    cells: Mapping[str, tuple[str, str]]
    """cell id (`item#repeat`) -> (call key, grade key)."""
    result: str | None = None
    """Path of the result document of the last apply."""
    history: tuple[Mapping[str, Any], ...] = ()
    """Last applied metric values: `{"commit": ..., "metrics": {name: value}}`, newest last."""
    failed: frozenset[str] = frozenset()
    """Cell ids that failed after their retries in the last apply: the next plan retries them."""

    def to_json(self) -> dict[str, Any]:
        return ({"failed": sorted(self.failed)} if self.failed else {}) | {
            "model_id": self.model_id,
            "endpoint": self.endpoint,
            "hashes": dict(self.hashes),
            "cells": {k: list(v) for k, v in sorted(self.cells.items())},
            "result": self.result,
            "history": [dict(h) for h in self.history[-HISTORY:]],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TargetState:
        return cls(
            model_id=str(data["model_id"]),
            endpoint=str(data["endpoint"]),
            hashes=dict(data["hashes"]),
            cells={k: (str(v[0]), str(v[1])) for k, v in data["cells"].items()},
            result=data.get("result"),
            history=tuple(data.get("history", ())),
            failed=frozenset(str(c) for c in data.get("failed", ())),
        )


@dataclass(frozen=True)
class State:
    """The whole applied state. Immutable: `with_target` returns a new one; `save` bumps the serial."""

    lineage: str
    serial: int
    targets: Mapping[tuple[str, str], TargetState] = field(default_factory=dict)
    """(eval name, model reference) -> its state."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other sections (fine-tune jobs, aliases) kept as plain data."""

    @classmethod
    def empty(cls) -> State:
        """No state yet: lineage is empty until the first save gives it one."""
        return cls(lineage="", serial=0)

    def target(self, eval_name: str, model_ref: str) -> TargetState | None:
        return self.targets.get((eval_name, model_ref))

    def with_target(self, eval_name: str, model_ref: str, target: TargetState) -> State:
        return replace(self, targets={**self.targets, (eval_name, model_ref): target})

    def with_extra(self, key: str, value: Any) -> State:
        return replace(self, extra={**self.extra, key: value})

    def to_json(self) -> dict[str, Any]:
        evals: dict[str, dict[str, Any]] = {}
        for (ev, ref), t in sorted(self.targets.items()):
            evals.setdefault(ev, {})[ref] = t.to_json()
        return {"version": STATE_VERSION, "lineage": self.lineage, "serial": self.serial, "evals": evals, **self.extra}


def load_state(state_dir: Path) -> State:
    """The state in `state_dir`, or a new empty one (serial 0) when there is none."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        return State.empty()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: unreadable state ({exc}); {STATE_DOC.fix}") from None
    data = STATE_DOC.dump(STATE_DOC.parse(raw, str(path)))
    targets = {(ev, ref): TargetState.from_json(t) for ev, by_ref in data["evals"].items() for ref, t in by_ref.items()}
    return State(data["lineage"], data["serial"], targets)


def save_state(state_dir: Path, state: State) -> State:
    """Write `state` with serial + 1, atomically; return what was written."""
    state_dir.mkdir(parents=True, exist_ok=True)
    written = replace(state, lineage=state.lineage or uuid.uuid4().hex, serial=state.serial + 1)
    data = written.to_json()
    StateFile.model_validate(data)  # what is written is what load_state accepts
    atomic_write_text(state_dir / STATE_FILE, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return written
