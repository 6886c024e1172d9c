"""`flywheel force-unlock ID`: remove a state lock whose holder hangs (or whose description was left behind)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode
from runner.specs.loader import find_root
from runner.state.lock import force_unlock


def force_unlock_command(lock_id: str, out: Console) -> int:
    """Remove the lock of the project's state folder if its id matches."""
    done = force_unlock(find_root(Path.cwd()) / ".flywheel", lock_id)
    if done.was_held:
        text = f"unlocked: removed the lock held by {done.holder.describe()}; that process still runs: stop it"
    else:
        text = f"unlocked: removed the lock left by {done.holder.describe()}; that process had already exited"
    out.print(text, markup=False, highlight=False)
    return ExitCode.OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lock_id", metavar="ID", help="the lock id the error message printed")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return force_unlock_command(args.lock_id, out)
