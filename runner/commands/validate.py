"""`flywheel validate`: load and check a spec tree; print every problem or a one-line summary.

It also points at plain values whose meaning YAML 1.2 (what Flywheel reads and writes) changed from YAML 1.1
(what PyYAML and older tools read): `yes`, `off`, `0755`, `1:30`, `1e-3`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import yaml
from rich.console import Console

from runner.errors import ExitCode, SpecError
from runner.project import default_specs
from runner.specs.diagnostics import snippet
from runner.specs.loader import MAX_SPEC_BYTES, display_path, load_specs, spec_files
from runner.specs.yaml12 import yaml11_changes
from runner.specs.yamlpos import Pos


def yaml11_notes(paths: Sequence[Path]) -> list[str]:
    """`file:line:col: note: ...` with a snippet, for each value that YAML 1.1 read differently."""
    notes = []
    for file in spec_files(paths or [Path("specs")]):
        if file.stat().st_size > MAX_SPEC_BYTES:
            continue  # load_specs refuses it; never parse a file past the limit twice
        try:
            text = file.read_text(encoding="utf-8")
            changes = yaml11_changes(text)
        except (UnicodeDecodeError, yaml.YAMLError):
            continue  # load_specs reports these
        lines = text.splitlines()
        for c in changes:
            head = f"{display_path(file)}:{c.line}:{c.col}: note: {c.message()}"
            notes.append("\n".join((head, *snippet(lines, Pos(c.line, c.col)))))
    return notes


def validate(paths: Sequence[Path], console: Console) -> int:
    """Exit 0 when every spec under `paths` is valid; a SpecError (exit 1) lists the problems otherwise."""
    try:
        specs = load_specs(paths)
    except SpecError:
        for note in yaml11_notes(paths):
            console.print(note, markup=False, highlight=False)
        raise
    for note in yaml11_notes(paths):
        console.print(note, markup=False, highlight=False)
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="spec files or folders (default: the project's specs/, found from any subfolder)",
    )


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return validate(args.paths or [default_specs()], out)
