"""`flywheel baseline update`: write baselines/ from the latest results (meant for the main branch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runner.baselines.store import update_from_results
from runner.errors import ExitCode, UsageError
from runner.specs.loader import load_specs


def baseline_update(spec_paths: Sequence[Path], evals: Sequence[str], out: Console) -> int:
    """Write one baseline per (eval, model) result; fail when there are no results to write."""
    specs = load_specs(spec_paths)
    unknown = [e for e in evals if e not in specs.evals]
    if unknown:
        raise UsageError(f"no Eval named {', '.join(map(repr, unknown))}; Evals: {', '.join(sorted(specs.evals))}")
    results = specs.root / ".flywheel" / "results"
    written = update_from_results(specs.root, results, set(evals) if evals else set(specs.evals))
    if not written:
        raise UsageError(f"no results under {results}; run: flywheel apply")
    for path in written:
        out.print(f"wrote {path.relative_to(specs.root)}", markup=False, highlight=False)
    return ExitCode.OK
