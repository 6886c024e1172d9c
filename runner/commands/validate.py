"""`flywheel validate`: load and check a spec tree; print every problem or a one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode
from runner.specs.loader import load_specs


def validate(paths: Sequence[Path], console: Console) -> int:
    """Exit 0 when every spec under `paths` is valid; a SpecError (exit 1) lists the problems otherwise."""
    specs = load_specs(paths)
    counts = ", ".join(f"{n} {kind}" for kind, n in specs.counts().items() if n)
    items = sum(len(d.items) for d in specs.data.values())
    files = len(specs.files)
    console.print(f"ok: {counts} in {files} file{'s' if files != 1 else ''}; {items} dataset items", highlight=False)
    from runner.finetune.validate import overlap_summary  # noqa: PLC0415 - only when there are recipes

    for name in specs.finetunes:
        overlap = overlap_summary(specs, name)
        if overlap is not None:
            console.print(f"warning: {overlap}", markup=False, highlight=False)
    return ExitCode.OK
