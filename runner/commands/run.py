"""`flywheel run EVAL`: evaluate one Eval on its models, with a progress bar and a results table."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

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


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} items/s" if speed else "- items/s")


@dataclass
class _Bar:
    console: Console
    progress: Progress | None = None
    task: TaskID | None = None
    cost: list[float] = field(default_factory=lambda: [0.0])

    def begin(self, label: str, total: int, done: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            _RateColumn(),
            TextColumn("${task.fields[cost]:.4f}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, completed=done, cost=0.0)

    def advance(self, spent_usd: float) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, cost=spent_usd)

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


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
        return await run_eval(specs, args.eval_name, options, caller, _Bar(err))


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
