"""Human and machine forms of a plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.documents.plan import plan_document
from runner.errors import UsageError
from runner.reconcile.plan import Action, Plan, Retrain

SYMBOL = {"run": "+ run    ", "regrade": "~ regrade", "reuse": "= reuse  ", "prune": "- forget "}


def plan_text(plan: Plan) -> str:
    """The plan as `flywheel plan` prints it, ending with the one-line summary."""
    lineage = plan.lineage[:8] or "new"
    lines = [f"Flywheel plan (state serial {plan.serial}, lineage {lineage})", ""]
    width = max((len(f"{a.eval} · {a.model}") for a in plan.actions), default=0)
    for a in plan.actions:
        target = f"{a.eval} · {a.model}".ljust(width)
        cost = f"  ~${a.est_usd:.4f}" if a.type == "run" else ""
        lines.append(f"  {SYMBOL[a.type]}  {target}  {a.cells:>6} cells  {'; '.join(a.reasons)}{cost}")
    for r in plan.retrains:
        lines.append(f"  ~  retrain {r.recipe} ({r.method}, backend {r.backend}): {'; '.join(r.reasons)}")
    lines.extend(f"  !  {note}" for note in plan.notes)
    if plan.actions or plan.retrains or plan.notes:
        lines.append("")
    lines.append(plan.summary())
    return "\n".join(lines)


def plan_from_json(data: Any, source: Path) -> Plan:
    """A saved plan, checked by its model (version first)."""
    doc = plan_document(str(source)).parse(data, str(source))
    actions = tuple(Action(a.type, a.eval, a.model, a.cells, tuple(a.reasons), a.estimated_usd) for a in doc.actions)
    retrains = tuple(Retrain(r.recipe, r.backend, r.method, tuple(r.reasons)) for r in doc.retrains)
    return Plan(doc.lineage, doc.serial, actions, retrains, tuple(doc.notes))


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such plan file") from None
    except ValueError:
        raise UsageError(f"{path}: not JSON; write a plan with: flywheel plan --out {path}") from None
    return plan_from_json(data, path)
