"""Apply: execute a plan under the state lock, run the engine for targets with work, record the new state.

Targets are applied one at a time and the state is saved after each, so a killed apply keeps what it
finished; the engine's response cache and journal make the re-run send only what was never answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.engine.calls import Caller
from runner.engine.provenance import git_state
from runner.engine.run import ModelRun, ProgressSink, RunOptions, run_eval
from runner.errors import FlywheelError
from runner.reconcile.desired import Target
from runner.reconcile.plan import Plan
from runner.specs.loader import SpecSet
from runner.state.store import State, TargetState, save_state


class StalePlanError(FlywheelError):
    """A saved plan no longer matches the state or the specs."""


@dataclass(frozen=True)
class Applied:
    """What an apply did."""

    runs: tuple[ModelRun, ...]
    state: State
    pruned: tuple[tuple[str, str], ...]


def check_saved_plan(saved: Plan, current: Plan, state: State) -> None:
    """Refuse a saved plan made against another state, or whose actions or retrains differ from a fresh plan."""
    if saved.lineage and saved.lineage != state.lineage:
        raise StalePlanError(
            f"saved plan is for state lineage {saved.lineage[:8]}, but the state is {state.lineage[:8] or 'new'}; "
            "run: flywheel plan --out PLAN again"
        )
    if saved.serial != state.serial or saved.lineage != state.lineage:
        raise StalePlanError(
            f"saved plan is stale: it was made at state serial {saved.serial}, the state is now at serial "
            f"{state.serial}; run: flywheel plan --out PLAN again"
        )
    fresh = current.to_json()
    if any(saved.to_json()[key] != fresh[key] for key in ("actions", "retrains")):
        raise StalePlanError("the specs changed since the plan was saved; run: flywheel plan --out PLAN again")


async def apply_plan(
    specs: SpecSet,
    plan: Plan,
    targets: Sequence[Target],
    state: State,
    state_dir: Path,
    caller: Caller,
    progress: ProgressSink,
) -> Applied:
    """Run every target that has work in `plan`, saving the state after each one."""
    busy = {(a.eval, a.model) for a in plan.actions if a.type in ("run", "regrade")}
    runs: list[ModelRun] = []
    commit = git_state(specs.root).get("commit")
    for target in targets:
        if target.key not in busy:
            continue
        [model_run] = await run_eval(
            specs, target.eval, RunOptions(state_dir, models=(target.model_ref,)), caller, progress
        )
        runs.append(model_run)
        prior = state.target(*target.key)
        entry = {"commit": commit, "metrics": {k: v.value for k, v in model_run.result.metrics.items()}}
        state = save_state(
            state_dir,
            state.with_target(
                target.eval,
                target.model_ref,
                TargetState(
                    model_id=target.model_id,
                    endpoint=target.endpoint,
                    hashes=target.hashes,
                    cells={c.id: (c.call, c.grade) for c in target.cells},
                    result=str(model_run.path),
                    history=(*(prior.history if prior else ()), entry),
                    failed=frozenset(model_run.failed),
                ),
            ),
        )
    pruned = tuple((a.eval, a.model) for a in plan.actions if a.type == "prune")
    if pruned:
        kept = {k: v for k, v in state.targets.items() if k not in pruned}
        state = save_state(state_dir, State(state.lineage, state.serial, kept, state.extra))
    return Applied(tuple(runs), state, pruned)
