"""`flywheel run EVAL`: evaluate one Eval on its models, with a progress bar and a results table."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from runner.commands.options import add_cassette, add_specs, add_unsafe_python, allow_unsafe_if_asked, specs_of
from runner.commands.progress import ProgressBar
from runner.documents.io import document_json, read_result
from runner.engine.calls import caller_session
from runner.engine.run import ModelRun, RunOptions, run_eval
from runner.errors import ExitCode, UsageError
from runner.graders.python import notes as python_grader_notes
from runner.specs.diagnostics import did_you_mean
from runner.specs.loader import SpecSet, load_specs


@dataclass(frozen=True)
class RunArgs:
    """Arguments of `flywheel run`."""

    eval_name: str
    specs: tuple[Path, ...] = (Path("specs"),)
    models: tuple[str, ...] = ()
    limit: int | None = None
    repeats: int | None = None
    use_cache: bool = True
    record: Path | None = None
    replay: Path | None = None
    as_json: bool = False
    state_dir: Path | None = None


def _check_eval(specs: SpecSet, name: str, models: tuple[str, ...]) -> None:
    if name not in specs.evals:
        raise UsageError(
            f"no Eval named '{name}'{did_you_mean(name, specs.evals)}; Evals: {', '.join(sorted(specs.evals))}"
        )
    for ref in models:
        model_name, _, alias = ref.partition("@")
        if model_name not in specs.models:
            raise UsageError(f"no Model named '{model_name}'{did_you_mean(model_name, specs.models)}")
        if alias and alias not in specs.models[model_name].doc.spec.aliases:
            raise UsageError(f"Model '{model_name}' has no alias '{alias}'")


def run(args: RunArgs, out: Console, err: Console) -> int:
    """Run the Eval; print a table (or JSON); exit 0 when every cell ran (floors are the gate's business), 5 when
    more cells failed after their retries than the Eval's `max_error_rate` allows."""
    specs = load_specs(args.specs)
    _check_eval(specs, args.eval_name, args.models)
    state_dir = args.state_dir or specs.root / ".flywheel"
    options = RunOptions(state_dir, args.limit, args.repeats, args.models)
    runs = asyncio.run(_run(specs, args, options, err))
    for note in sorted(python_grader_notes):
        err.print(f"warning: python graders: {note}", markup=False, highlight=False)
    if args.as_json:
        documents = [document_json(read_result(r.path)) for r in runs]
        out.print(json.dumps(documents, indent=2, sort_keys=True), markup=False, highlight=False)
    else:
        print_results(out, runs)
        for r in runs:
            out.print(f"results: {r.path}", markup=False, highlight=False)
    return failure_exit(runs, err)


def failure_exit(runs: list[ModelRun], err: Console) -> int:
    """FAILED, with one error line per run, when a run has more failed cells than its Eval allows; else OK."""
    over = [r for r in runs if not r.failures_allowed]
    for r in over:
        err.print(f"error: {r.failure_message()}", markup=False, highlight=False)
    return ExitCode.FAILED if over else ExitCode.OK


async def _run(specs: SpecSet, args: RunArgs, options: RunOptions, err: Console) -> list[ModelRun]:
    async with caller_session(
        options.state_dir, replay=args.replay, record=args.record, use_cache=args.use_cache
    ) as caller:
        return await run_eval(specs, args.eval_name, options, caller, ProgressBar(err))


def print_results(out: Console, runs: list[ModelRun]) -> None:
    """Print the results table."""
    out.print(results_table(runs))


def results_table(runs: list[ModelRun]) -> Table:
    """One row per (model, metric): value, 95% interval, n (items scored), failed (cells that failed after their
    retries: their items are missing from n, never scored), floor; `new`: cells run now (the rest were done by an
    earlier run: cached or journaled)."""
    table = Table(title="Results", title_justify="left", box=box.SIMPLE_HEAD)
    right = ("value", "n", "failed", "cost", "new")
    for col in ("eval", "model", "metric", "value", "95% CI", "n", "failed", "floor", "cost", "new"):
        table.add_column(col, justify="right" if col in right else "left", no_wrap=True)
    for r in runs:
        for name, m in r.result.metrics.items():
            floor = {None: "-", True: "ok", False: "BROKEN"}[m.floor_ok]
            table.add_row(
                r.result.eval,
                r.model.ref,
                name,
                f"{m.value:.3f}",
                f"[{m.ci_low:.3f}, {m.ci_high:.3f}]",
                str(m.n),
                str(r.result.failed_cells),
                floor,
                f"${r.result.usage.cost_usd:.4f}",
                f"{r.new_cells}/{r.result.completed_cells}",
            )
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("eval_name", metavar="EVAL", help="name of the Eval spec")
    add_specs(parser)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="run on this Model (name or name@alias) instead of the Eval's models; repeatable",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N items of the split")
    parser.add_argument("--repeats", type=int, metavar="K", help="samples per item (overrides the Eval)")
    parser.add_argument("--no-cache", action="store_true", help="do not reuse cached responses (new ones are stored)")
    add_cassette(parser)
    add_unsafe_python(parser)
    parser.add_argument("--json", action="store_true", help="print the result documents as JSON")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    allow_unsafe_if_asked(args)
    for value, flag in ((args.limit, "--limit"), (args.repeats, "--repeats")):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be at least 1")
    run_args = RunArgs(
        eval_name=args.eval_name,
        specs=tuple(specs_of(args)),
        models=tuple(args.model),
        limit=args.limit,
        repeats=args.repeats,
        use_cache=not args.no_cache,
        record=args.record,
        replay=args.replay,
        as_json=args.json,
    )
    return run(run_args, out, err)
