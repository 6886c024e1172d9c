"""`flywheel baseline update`: write baselines/ from the latest results (meant for the main branch).

Only whole runs become baselines (`runner.baselines.checks`): a run with failed cells never; a partial one (a
`--limit`, other repeats, a model the Eval does not list) only with `--allow-partial`. `--dry-run` prints what
would change and writes nothing."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runner.baselines.checks import failed_reason, partial_reasons
from runner.baselines.ledger import history_path
from runner.baselines.store import baseline_path, update_from_results
from runner.commands.options import add_specs, specs_of
from runner.documents.io import parse_baseline, read_header
from runner.documents.results import ResultHeader
from runner.errors import ExitCode, UsageError
from runner.specs.loader import load_specs


def baseline_update(
    spec_paths: Sequence[Path], evals: Sequence[str], out: Console, allow_partial: bool = False, dry_run: bool = False
) -> int:
    """Write one baseline per (eval, model) result; fail when there are no results to write, or when one is
    only part of its Eval (unless `allow_partial`)."""
    specs = load_specs(spec_paths)
    unknown = [e for e in evals if e not in specs.evals]
    if unknown:
        raise UsageError(f"no Eval named {', '.join(map(repr, unknown))}; Evals: {', '.join(sorted(specs.evals))}")
    results = specs.root / ".flywheel" / "results"
    wanted = (set(evals) if evals else set(specs.evals)) & set(specs.evals)
    found = [(p, read_header(p)) for p in sorted(results.glob("*/*.json")) if p.parent.name in wanted]
    if not found:
        raise UsageError(f"no results under {results}; run: flywheel apply")
    failed = [
        f"  {path.relative_to(specs.root)}: {reason}" for path, header in found if (reason := failed_reason(header))
    ]
    if failed:
        raise UsageError(
            "refusing to update baselines:\n"
            + "\n".join(failed)
            + "\nrun again (flywheel apply retries failed cells) until no cell fails"
        )
    if not allow_partial:
        problems = [
            f"  {path.relative_to(specs.root)}: {'; '.join(why)}"
            for path, header in found
            if (why := partial_reasons(specs, header))
        ]
        if problems:
            raise UsageError(
                "refusing to update baselines:\n"
                + "\n".join(problems)
                + "\nre-run the whole Eval (flywheel apply), or pass --allow-partial to write partial runs anyway"
            )
    if dry_run:
        for path, header in found:
            target = baseline_path(specs.root, path.parent.name, path.stem)
            out.print(_change(specs.root, target, header), markup=False, highlight=False)
        out.print(f"would append to {history_path(specs.root).relative_to(specs.root)}; nothing was written")
        return ExitCode.OK
    written = update_from_results(specs.root, results, wanted)
    for path in written:
        out.print(f"wrote {path.relative_to(specs.root)}", markup=False, highlight=False)
    return ExitCode.OK


def _change(root: Path, target: Path, result: ResultHeader) -> str:
    """`would write baselines/e/m.json: accuracy 0.450 -> 0.500 (n 20 -> 20)` (or `(n 20, new)` without one)."""
    old = parse_baseline(target.read_text(encoding="utf-8"), str(target)).header.metrics if target.is_file() else {}
    parts = []
    for name, metric in sorted(result.metrics.items()):
        before = old.get(name)
        if before is None:
            parts.append(f"{name} {metric.value:.3f} (n {metric.n}, new)")
        else:
            parts.append(f"{name} {before.value:.3f} -> {metric.value:.3f} (n {before.n} -> {metric.n})")
    return f"would write {target.relative_to(root)}: {', '.join(parts)}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    b = actions.add_parser("update", help="write baselines/ from the latest results (run on the main branch)")
    add_specs(b)
    b.add_argument("--eval", action="append", default=[], metavar="NAME", help="only this Eval; repeatable")
    b.add_argument(
        "--allow-partial",
        action="store_true",
        help="also write runs of part of an Eval (--limit, other repeats, a model it does not list)",
    )
    b.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return baseline_update(specs_of(args), args.eval, out, args.allow_partial, args.dry_run)
