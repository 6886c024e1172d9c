"""The plan: a pure function from the desired targets and the applied state to actions, each with reasons.

No disk, no network: `make_plan(desired_targets(specs), state)` is what `flywheel plan` prints and what
`flywheel apply` executes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from runner.reconcile.desired import Target
from runner.state.store import State, TargetState

ActionType = Literal["run", "regrade", "reuse", "prune"]
ORDER: dict[str, int] = {"run": 0, "regrade": 1, "reuse": 2, "prune": 3}


@dataclass(frozen=True)
class Action:
    """What to do for one (eval, model): run cells, re-grade stored outputs, reuse, or forget (prune)."""

    type: ActionType
    eval: str
    model: str
    cells: int
    reasons: tuple[str, ...]
    est_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "eval": self.eval,
            "model": self.model,
            "cells": self.cells,
            "reasons": list(self.reasons),
            "estimated_usd": round(self.est_usd, 8),
        }


@dataclass(frozen=True)
class Retrain:
    """A FineTune recipe whose triggers fired: `apply` trains it and gates the result (never from a PR)."""

    recipe: str
    backend: str
    method: str
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "backend": self.backend, "method": self.method, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Plan:
    """Every action, sorted; the state it was made against (a saved plan is stale once that changes)."""

    lineage: str
    serial: int
    actions: tuple[Action, ...]
    retrains: tuple[Retrain, ...] = ()
    notes: tuple[str, ...] = ()
    """Things the plan does not act on but a reader should know (a fired trigger with nothing new to train)."""

    @property
    def has_changes(self) -> bool:
        return any(a.type != "reuse" for a in self.actions) or bool(self.retrains)

    @property
    def est_usd(self) -> float:
        return sum(a.est_usd for a in self.actions)

    def count(self, kind: ActionType) -> int:
        return sum(a.cells for a in self.actions if a.type == kind)

    def summary(self) -> str:
        """The one-line summary `flywheel plan` ends with."""
        if not self.has_changes:
            return "No changes: every eval is up to date with the specs."
        pruned = sum(1 for a in self.actions if a.type == "prune")
        prune = f", {pruned} target{'s' if pruned != 1 else ''} to forget" if pruned else ""
        n = len(self.retrains)
        retrain = f", {n} recipe{'s' if n != 1 else ''} to retrain" if n else ""
        return (
            f"Plan: {self.count('run')} cells to run, {self.count('regrade')} to re-grade, "
            f"{self.count('reuse')} unchanged{prune}{retrain}; estimated cost ${self.est_usd:.4f}."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "lineage": self.lineage,
            "serial": self.serial,
            "has_changes": self.has_changes,
            "summary": self.summary(),
            "estimated_usd": round(self.est_usd, 8),
            "actions": [a.to_json() for a in self.actions],
            "retrains": [r.to_json() for r in self.retrains],
            "notes": list(self.notes),
        }


def _item_reasons(new: Mapping[str, str], old: Mapping[str, str]) -> list[str]:
    added = sum(1 for k in new if k not in old)
    changed = sum(1 for k, v in new.items() if k in old and old[k] != v)
    removed = sum(1 for k in old if k not in new)
    out = []
    for n, what in ((added, "new"), (changed, "changed"), (removed, "removed")):
        if n:
            out.append(f"{n} item{'s' if n != 1 else ''} {what}")
    return out


def _run_reasons(target: Target, prior: TargetState | None) -> list[str]:
    if prior is None:
        return ["never run"]
    reasons = []
    if prior.model_id != target.model_id:
        reasons.append(f"model {target.model_ref} moved from {prior.model_id} to {target.model_id}")
    elif prior.endpoint != target.endpoint:
        reasons.append("model endpoint or adapter changed")
    old, new = prior.hashes, target.hashes
    for key, label in (
        ("prompt", "prompt changed"),
        ("sampling", "sampling parameters changed"),
        ("repeats", "repeats changed"),
        ("split", "split changed"),
    ):
        if old.get(key) != new.get(key):
            reasons.append(label)
    reasons.extend(_item_reasons(new.get("items", {}), old.get("items", {})))
    return reasons or ["cells changed"]


def _grade_reasons(target: Target, prior: TargetState | None) -> list[str]:
    old = dict((prior.hashes if prior else {}).get("graders", {}))
    reasons = [
        f"grader '{g}' {'added' if g not in old else 'changed'}"
        for g, h in sorted(target.hashes["graders"].items())
        if old.get(g) != h
    ]
    if not reasons and prior is not None and prior.hashes.get("metrics") != target.hashes["metrics"]:
        reasons.append("metrics changed")
    return reasons or ["grading changed"]


def make_plan(targets: Sequence[Target], state: State) -> Plan:
    """Compare each target's cells with what the state says was applied."""
    actions: list[Action] = []
    wanted = set()
    for target in targets:
        wanted.add(target.key)
        prior = state.target(*target.key)
        applied = prior.cells if prior else {}
        to_run = [c for c in target.cells if applied.get(c.id, ("", ""))[0] != c.call]
        failed = prior.failed if prior else frozenset()
        to_retry = [
            c for c in target.cells if c.id in failed and c.id in applied and applied[c.id] == (c.call, c.grade)
        ]
        to_grade = [
            c for c in target.cells if c.id in applied and applied[c.id][0] == c.call and applied[c.id][1] != c.grade
        ]
        same = len(target.cells) - len(to_run) - len(to_grade) - len(to_retry)
        removed = [cid for cid in applied if cid not in {c.id for c in target.cells}]
        if to_run or to_retry or (removed and not to_grade):
            reasons = _run_reasons(target, prior) if to_run or removed else []
            if to_retry:
                reasons.append(f"retry {len(to_retry)} failed cell{'s' if len(to_retry) != 1 else ''}")
            work = to_run + to_retry
            actions.append(
                Action("run", target.eval, target.model_ref, len(work), tuple(reasons), sum(c.est_usd for c in work))
            )
        if to_grade:
            actions.append(
                Action("regrade", target.eval, target.model_ref, len(to_grade), tuple(_grade_reasons(target, prior)))
            )
        if same and not to_run and not to_grade and not removed:
            actions.append(Action("reuse", target.eval, target.model_ref, same, ("up to date",)))
        elif same:
            actions.append(Action("reuse", target.eval, target.model_ref, same, ("unchanged cells",)))
    for key in sorted(set(state.targets) - wanted):
        prior = state.targets[key]
        actions.append(Action("prune", key[0], key[1], len(prior.cells), ("no longer in the specs",)))
    actions.sort(key=lambda a: (a.eval, a.model, ORDER[a.type]))
    return Plan(state.lineage, state.serial, tuple(actions))
