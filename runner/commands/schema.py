"""`flywheel schema`: write the JSON Schemas of every spec kind and result document, or check they are up to date."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from runner import schemagen
from runner.errors import ExitCode, FlywheelError


class SchemaDriftError(FlywheelError):
    """Committed schemas differ from the models."""


def schema(out: Path, check: bool, console: Console) -> int:
    """Write schemas into `out`; with `check`, write nothing and fail when they would change."""
    if check:
        stale = schemagen.drift(out)
        if stale:
            raise SchemaDriftError(f"{out}: out of date: {', '.join(stale)}; run: flywheel schema --out {out}")
        console.print(f"ok: schemas in {out} are up to date", highlight=False)
        return ExitCode.OK
    written = schemagen.write_all(out)
    console.print(f"wrote {len(written)} schemas to {out}", highlight=False)
    return ExitCode.OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("schemas"), help="folder to write (default: schemas/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the schemas are out of date")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return schema(args.out, args.check, out)
