"""`flywheel apply [PLAN]`: run what the plan says under the state lock; applying twice does nothing."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from runner.commands.options import add_cassette, add_specs, add_unsafe_python, allow_unsafe_if_asked, specs_of
from runner.commands.progress import ProgressBar
from runner.commands.run import failure_exit, print_results
from runner.engine.calls import caller_session
from runner.engine.run import ModelRun
from runner.errors import ExitCode
from runner.finetune.facts import with_retrains
from runner.finetune.loop import retrain
from runner.reconcile.apply import apply_plan, check_saved_plan
from runner.reconcile.desired import Target, desired_targets
from runner.reconcile.plan import Plan, make_plan
from runner.reconcile.render import load_plan, plan_text
from runner.specs.loader import SpecSet, load_specs, reload_specs
from runner.state.lock import StateLock
from runner.state.store import State, load_state


def apply(
    spec_paths: Sequence[Path],
    plan_file: Path | None,
    lock_timeout: float,
    replay: Path | None,
    out: Console,
    err: Console,
    record: Path | None = None,
    skip_retrain: bool = False,
) -> int:
    """Apply the saved plan (or a fresh one), printing the plan first and the results after; then train the
    recipes whose triggers fired (unless `skip_retrain`, or from a pull request). Exit 5 when cells failed after
    their retries beyond an Eval's `max_error_rate` (the state records them; the next apply retries them)."""
    specs = load_specs(spec_paths)
    state_dir = specs.root / ".flywheel"
    saved = load_plan(plan_file) if plan_file is not None else None
    with StateLock(state_dir, "apply", lock_timeout):
        state = load_state(state_dir)
        targets = desired_targets(specs)
        current = make_plan(targets, state)
        if skip_retrain:
            saved = replace(saved, retrains=()) if saved is not None else None
        else:
            current = with_retrains(current, specs)
        if saved is not None:
            check_saved_plan(saved, current, state)
        out.print(plan_text(current), markup=False, highlight=False)
        if not current.has_changes:
            return ExitCode.OK
        recipes = [r.recipe for r in current.retrains]
        event = os.environ.get("GITHUB_EVENT_NAME", "")
        if recipes and event in PULL_REQUEST_EVENTS:
            out.print(f"Retraining skipped: nothing trains from a pull request ({event}).", markup=False)
            recipes = []
        runs = asyncio.run(_apply(specs, current, targets, state, recipes, (replay, record), out, err))
    return failure_exit(runs, err)


PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target", "merge_group"})


async def _apply(
    specs: SpecSet,
    plan: Plan,
    targets: list[Target],
    state: State,
    recipes: list[str],
    cassettes: tuple[Path | None, Path | None],
    out: Console,
    err: Console,
) -> list[ModelRun]:
    """Run the plan's evals, then train `recipes`, through one caller (one store, one model server); return
    the eval runs."""
    state_dir = specs.root / ".flywheel"

    def log(line: str) -> None:
        out.print(line, markup=False, highlight=False)

    async with caller_session(state_dir, replay=cassettes[0], record=cassettes[1]) as caller:
        applied = await apply_plan(specs, plan, targets, state, state_dir, caller, ProgressBar(err))
        if applied.runs:
            print_results(out, list(applied.runs))
        for name in recipes:
            outcome = await retrain(specs, name, caller, state_dir, ProgressBar(err), log=log)
            if outcome.runs:  # the promotion Eval: champion, then challenger
                print_results(out, list(outcome.runs))
            log(f"{name}: {outcome.decision} {outcome.model_id}: {outcome.reason}")
            specs = reload_specs(specs)  # later recipes see the aliases this one moved
        trained = f", {len(recipes)} recipe{'s' if len(recipes) != 1 else ''} trained" if recipes else ""
        log(
            f"Apply complete: {len(applied.runs)} target(s) run, {len(applied.pruned)} forgotten{trained}; "
            f"state serial {applied.state.serial}."
        )
    return list(applied.runs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", nargs="?", type=Path, metavar="PLAN", help="a plan saved by `plan --out`")
    add_specs(parser)
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another apply to finish (default: fail at once)",
    )
    add_cassette(parser)
    add_unsafe_python(parser)
    parser.add_argument(
        "--skip-retrain",
        action="store_true",
        help="run the evals only; do not train the FineTune recipes whose triggers fired",
    )


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    allow_unsafe_if_asked(args)
    return apply(
        specs_of(args),
        plan_file=args.plan_file,
        lock_timeout=args.lock_timeout,
        replay=args.replay,
        out=out,
        err=err,
        record=args.record,
        skip_retrain=args.skip_retrain,
    )
