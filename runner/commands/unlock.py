"""`flywheel force-unlock ID`: remove a state lock whose holder is gone."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode
from runner.specs.loader import find_root
from runner.state.lock import force_unlock


def force_unlock_command(lock_id: str, out: Console) -> int:
    """Remove the lock of the project's state folder if its id matches."""
    holder = force_unlock(find_root(Path.cwd()) / ".flywheel", lock_id)
    out.print(f"unlocked: removed the lock held by {holder.describe()}", markup=False, highlight=False)
    return ExitCode.OK
