"""`flywheel init`: scaffold specs/, the .gitignore entry, the workflows and a README into a project."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode
from runner.scaffold import plan_init, write_init

VERBS = {"create": "created", "append": "added .flywheel/ to", "unchanged": "unchanged"}


def init(project: Path, example: str, provider: str, action: str, out: Console) -> int:
    """Write the starter files into `project` (refusing to overwrite any); print what was written."""
    planned = plan_init(project, example, provider, action)
    write_init(project, planned)
    for p in planned:
        out.print(f"{VERBS[p.status]} {p.path}", markup=False, highlight=False)
    if all(p.status == "unchanged" for p in planned):
        out.print("nothing to do: this project is already initialised", markup=False, highlight=False)
        return ExitCode.OK
    out.print(f"next: flywheel validate && flywheel run {example}", markup=False, highlight=False)
    return ExitCode.OK
