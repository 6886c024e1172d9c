"""`flywheel import SOURCE ...`: turn another tool's eval suite into specs; print the files written and what
could not be carried over."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode
from runner.importers.common import Imported, write_files
from runner.project import SPECS_DIR, find_project


def default_out() -> Path:
    """The project's specs/ (found from any subfolder), else ./specs."""
    project = find_project()
    return (project if project is not None else Path()) / SPECS_DIR


def report(imported: Imported, out: Path, console: Console) -> int:
    """Write the files under `out`, then print each with its status and the notes."""
    statuses = write_files(out, imported.files)
    for rel, status in statuses:
        console.print(f"{status} {out / rel}", markup=False, highlight=False)
    evals = len(imported.evals)
    console.print(
        f"imported {evals} eval{'s' if evals != 1 else ''}"
        + (f" ({', '.join(imported.evals)})" if evals else "")
        + f"; {len(imported.notes)} note{'s' if len(imported.notes) != 1 else ''} on what was not carried over"
        + (":" if imported.notes else ""),
        markup=False,
        highlight=False,
    )
    for note in imported.notes:
        console.print(f"  - {note}", markup=False, highlight=False)
    if evals:
        console.print("next: flywheel validate", markup=False, highlight=False)
    return ExitCode.OK if evals else ExitCode.ERROR
