"""Finding what a report shows: the latest result documents under a state folder, a gate's report and the
results it compared, the committed trend history and lineage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.baselines.ledger import read_history
from runner.documents.io import ResultDocument, read_result
from runner.errors import UsageError
from runner.finetune.lineage import read_lineage


@dataclass(frozen=True)
class Loaded:
    """One result document and where its rendered inputs are kept."""

    slug: str
    """The model's file name (`fake`, `student_at_champion`)."""
    doc: ResultDocument
    state_dir: Path


@dataclass(frozen=True)
class Sources:
    """Everything one report is drawn from."""

    results: tuple[Loaded, ...]
    gate: dict[str, Any] | None
    """The gate's report.json, when the report is of a gate."""
    gate_base: tuple[Loaded, ...]
    """The base side the gate evaluated in the same run (empty when it read committed baselines)."""
    history: tuple[dict[str, Any], ...]
    lineage: tuple[dict[str, Any], ...]


def _history(root: Path, evals: set[str] | None) -> tuple[dict[str, Any], ...]:
    """The committed trend history (read and checked through its model), optionally only of `evals`."""
    return tuple(e.model_dump(mode="json") for e in read_history(root) if evals is None or e.eval in evals)


def _lineage(root: Path) -> tuple[dict[str, Any], ...]:
    return tuple(e.model_dump(mode="json") for e in read_lineage(root))


def load_results(state_dir: Path, evals: set[str] | None) -> tuple[Loaded, ...]:
    """Every result document under `state_dir/results/` (optionally only of `evals`), by eval then model."""
    out = []
    for path in sorted((state_dir / "results").glob("*/*.json")):
        if evals is None or path.parent.name in evals:
            out.append(Loaded(path.stem, read_result(path), state_dir))
    return tuple(out)


def collect(root: Path, state_dir: Path, evals: set[str] | None, gate: bool) -> Sources:
    """The sources of a run report (`gate` False) or of a gate report, read from `state_dir`."""
    history = _history(root, evals)
    lineage = _lineage(root)
    if not gate:
        results = load_results(state_dir, evals)
        if not results:
            raise UsageError(f"no results under {state_dir / 'results'}; run: flywheel run EVAL (or flywheel apply)")
        return Sources(results, None, (), history, lineage)
    report_file = state_dir / "gate" / "report.json"
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no gate report at {report_file}; run: flywheel gate --base REF") from None
    except ValueError as exc:
        raise UsageError(f"{report_file}: not a gate report ({exc}); run: flywheel gate --base REF") from None
    if not isinstance(report, dict) or not isinstance(report.get("evals"), list):
        raise UsageError(f"{report_file}: not a gate report; run: flywheel gate --base REF")
    return gate_sources(root, state_dir, report, evals)


def gate_sources(root: Path, state_dir: Path, report: dict[str, Any], evals: set[str] | None = None) -> Sources:
    """The sources of the report of a gate whose JSON report is `report` (head and base results under
    `state_dir/gate/`)."""
    history = _history(root, evals)
    # Only Evals this gate compared: results of an Eval it did not re-run are left over from an earlier gate.
    compared = {str(e.get("eval")) for e in report.get("evals", []) if e.get("n_paired")}
    wanted = compared if evals is None else compared & evals
    head = load_results(state_dir / "gate" / "head", wanted)
    base = load_results(state_dir / "gate" / "base", wanted)
    return Sources(head, report, base, history, _lineage(root))
