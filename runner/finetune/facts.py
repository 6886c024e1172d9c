"""Gather what the retraining triggers look at (the I/O half of `runner.finetune.triggers`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from runner.baselines.ledger import read_history
from runner.finetune import lineage
from runner.finetune.data import recipe_hash, training_data_hash
from runner.finetune.triggers import RecipeFacts, decide
from runner.finetune.validate import overlap_summary
from runner.reconcile.plan import Plan, Retrain
from runner.specs.common import parse_model_ref
from runner.specs.finetune import MetricBelow
from runner.specs.loader import SpecSet


def gather(specs: SpecSet, today: dt.date) -> list[tuple[str, RecipeFacts]]:
    """Facts for every FineTune recipe that has triggers, by name. The lineage is read once, and the metric
    history only when a `metric_below` trigger needs it."""
    names = [name for name in sorted(specs.finetunes) if specs.finetunes[name].doc.spec.triggers]
    if not names:
        return []
    needs_history = any(isinstance(t, MetricBelow) for name in names for t in specs.finetunes[name].doc.spec.triggers)
    history = tuple(read_history(specs.root)) if needs_history else ()
    entries = lineage.read_lineage(specs.root)
    out = []
    for name in names:
        spec = specs.finetunes[name].doc.spec
        base = parse_model_ref(spec.base_model)[0]
        last = lineage.last_of(entries, name)
        data_hash = training_data_hash(specs, name)
        facts = RecipeFacts(
            data_hash=data_hash,
            last_data_hash=last.data_hash if last else None,
            last_trained=lineage.last_trained(last),
            recipe_hash=recipe_hash(specs, name, data_hash),
            last_recipe_hash=last.recipe_hash if last else None,
            last_job=last.job_id if last else None,
            base_model=base,
            shutdown_date=specs.models[base].doc.spec.shutdown_date,
            history=history,
            today=today,
        )
        out.append((name, facts))
    return out


def with_retrains(plan: Plan, specs: SpecSet, today: dt.date | None = None) -> Plan:
    """`plan` with its retrain actions (every recipe with a fired trigger and something new to train) and a note
    for each recipe whose triggers fired but that is already trained as it stands."""
    retrains: list[Retrain] = []
    notes: list[str] = []
    for name, facts in gather(specs, today or dt.datetime.now(dt.UTC).date()):
        spec = specs.finetunes[name].doc.spec
        decision = decide(spec, facts)
        if decision.retrain:
            retrains.append(Retrain(name, spec.backend, spec.method, decision.reasons))
        elif decision.held:
            notes.append(f"retrain {name} held: {'; '.join(decision.reasons)}; {decision.held}")
        overlap = overlap_summary(specs, name)
        if overlap is not None:
            notes.append(overlap)
    return replace(plan, retrains=tuple(retrains), notes=tuple(notes))
