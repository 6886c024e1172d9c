"""`flywheel report`: write the HTML report (and optionally a CSV) of the latest results or of the last gate."""

from __future__ import annotations

import argparse
import webbrowser
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from runner.commands.options import add_specs, specs_of
from runner.errors import ExitCode, UsageError
from runner.fsutil import atomic_write_text
from runner.report.build import build
from runner.report.collect import Loaded, collect
from runner.report.export import to_csv
from runner.report.html import render
from runner.specs.loader import SpecSet, load_specs


def report(
    spec_paths: Sequence[Path],
    evals: Sequence[str],
    gate: bool,
    html: Path | None,
    csv: Path | None,
    open_browser: bool,
    out: Console,
) -> int:
    """Write `html` (default `.flywheel/report.html`, or `.flywheel/gate/report.html` for a gate) and `csv`."""
    specs = load_specs(spec_paths)
    unknown = [e for e in evals if e not in specs.evals]
    if unknown:
        raise UsageError(f"no Eval named {', '.join(map(repr, unknown))}; Evals: {', '.join(sorted(specs.evals))}")
    state_dir = specs.root / ".flywheel"
    sources = collect(specs.root, state_dir, set(evals) if evals else None, gate)
    sources = replace(sources, results=tuple(sorted(sources.results, key=lambda r: _order(specs, r))))
    title = "Flywheel gate report" if gate else "Flywheel results"
    if html is None:
        html = state_dir / "gate" / "report.html" if gate else state_dir / "report.html"
    html.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(html, render(build(sources, title)))
    out.print(f"wrote {html}", markup=False, highlight=False)
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(csv, to_csv(sources.results))
        out.print(f"wrote {csv}", markup=False, highlight=False)
    if open_browser:
        webbrowser.open(html.resolve().as_uri())
    return ExitCode.OK


def _order(specs: SpecSet, loaded: Loaded) -> tuple[str, int, str]:
    """Evals by name, then models in the order the Eval lists them (the first is model A of comparisons)."""
    h = loaded.doc.header
    located = specs.evals.get(h.eval)
    models = list(located.doc.spec.models) if located else []
    return (h.eval, models.index(h.model.ref) if h.model.ref in models else len(models), h.model.ref)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("evals", nargs="*", metavar="EVAL", help="only these Evals (default: all with results)")
    add_specs(parser)
    parser.add_argument("--gate", action="store_true", help="report the last `flywheel gate` (flips, verdict numbers)")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="where the HTML goes (default: .flywheel/report.html, or .flywheel/gate/report.html with --gate)",
    )
    parser.add_argument("--csv", type=Path, metavar="PATH", help="also write one CSV row per sample and metric")
    parser.add_argument("--open", action="store_true", help="open the HTML in the default browser")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return report(specs_of(args), args.evals, args.gate, args.html, args.csv, args.open, out)
