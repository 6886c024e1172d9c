"""Where a result came from: git commit and dirty flag, Flywheel version, time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from runner import __version__
from runner.git import state


def git_state(root: Path) -> dict[str, Any]:
    """`{"commit": sha or None, "dirty": bool or None}` for the repository at `root`."""
    found = state(root)
    return {"commit": found.commit, "dirty": found.dirty}


def provenance(root: Path) -> dict[str, Any]:
    """The provenance block every result carries (hashes and model details are added by the caller)."""
    return {
        "flywheel_version": __version__,
        "git": git_state(root),
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
