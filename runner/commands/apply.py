"""`flywheel apply [PLAN]`: run what the plan says under the state lock; applying twice does nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runner.commands.run import _Bar, print_results
from runner.engine.calls import Caller, Spend
from runner.engine.cassette import Cassette
from runner.engine.store import Store
from runner.errors import ExitCode
from runner.models.pool import ClientPool
from runner.reconcile.apply import Applied, apply_plan, check_saved_plan
from runner.reconcile.desired import Target, desired_targets
from runner.reconcile.plan import Plan, make_plan
from runner.reconcile.render import load_plan, plan_text
from runner.specs.loader import SpecSet, load_specs
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
) -> int:
    """Apply the saved plan (or a fresh one), printing the plan first and the results after."""
    specs = load_specs(spec_paths)
    state_dir = specs.root / ".flywheel"
    saved = load_plan(plan_file) if plan_file is not None else None
    with StateLock(state_dir, "apply", lock_timeout):
        state = load_state(state_dir)
        targets = desired_targets(specs)
        current = make_plan(targets, state)
        if saved is not None:
            check_saved_plan(saved, current, state)
        out.print(plan_text(current), markup=False, highlight=False)
        if not current.has_changes:
            return ExitCode.OK
        applied = asyncio.run(_apply(specs, current, targets, state, state_dir, replay, record, err))
    if applied.runs:
        print_results(out, list(applied.runs))
    out.print(
        f"Apply complete: {len(applied.runs)} target(s) run, {len(applied.pruned)} forgotten; "
        f"state serial {applied.state.serial}.",
        markup=False,
        highlight=False,
    )
    return ExitCode.OK


async def _apply(
    specs: SpecSet,
    plan: Plan,
    targets: list[Target],
    state: State,
    state_dir: Path,
    replay: Path | None,
    record: Path | None,
    err: Console,
) -> Applied:
    cassette = Cassette.load(replay, must_exist=True) if replay else None
    recorder = Cassette.load(record, must_exist=False) if record else None
    with Store(state_dir / "store.sqlite") as store:
        async with ClientPool(state_dir) as pool:
            caller = Caller(pool, store, Spend(), record=recorder, replay=cassette)
            try:
                return await apply_plan(specs, plan, targets, state, state_dir, caller, _Bar(err))
            finally:
                if recorder is not None:
                    recorder.save()
