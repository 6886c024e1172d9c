"""Where a result came from: git commit and dirty flag, Flywheel version, time."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from runner import __version__


def git_state(root: Path) -> dict[str, Any]:
    """`{"commit": sha or None, "dirty": bool or None}` for the repository at `root`."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip() if commit else None, "dirty": bool(status.strip()) if status is not None else None}


def provenance(root: Path) -> dict[str, Any]:
    """The provenance block every result carries (hashes and model details are added by the caller)."""
    return {
        "flywheel_version": __version__,
        "git": git_state(root),
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
