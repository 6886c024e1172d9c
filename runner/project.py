"""Where the project is: the folder holding `specs/`, found from any subfolder the way git finds its top.

Every command that defaults to `specs/` asks `default_specs()`, so `flywheel validate` (or plan, run, ...) works
from `specs/triage/` as well as from the top. State, results and baselines live beside that `specs/` folder.
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import UsageError

SPECS_DIR = "specs"
"""The spec folder every command reads unless given paths."""


def find_project(start: Path | None = None) -> Path | None:
    """The nearest of `start` (default: the working directory) and its parents that holds a `specs/` folder,
    never looking above the top of the git work tree `start` is in; None when there is none."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / SPECS_DIR).is_dir():
            return candidate
        if (candidate / ".git").exists():
            return None
    return None


def default_specs(start: Path | None = None) -> Path:
    """`<project>/specs` for commands given no spec paths; a clear error outside any project."""
    project = find_project(start)
    if project is None:
        raise UsageError(
            f"no {SPECS_DIR}/ folder here or in any parent folder; run `flywheel init` to create one, "
            "or pass the spec folder (--specs PATH)"
        )
    return project / SPECS_DIR
