"""Gather what the retraining triggers look at (the I/O half of `runner.finetune.triggers`)."""

from __future__ import annotations

import datetime as dt

from runner.baselines.ledger import read_history
from runner.finetune import lineage
from runner.finetune.data import training_data_hash
from runner.finetune.triggers import RecipeFacts, due
from runner.reconcile.plan import Retrain
from runner.specs.common import parse_model_ref
from runner.specs.loader import SpecSet


def gather(specs: SpecSet, today: dt.date) -> list[tuple[str, RecipeFacts]]:
    """Facts for every FineTune recipe that has triggers, by name."""
    history = tuple(read_history(specs.root))
    out = []
    for name in sorted(specs.finetunes):
        spec = specs.finetunes[name].doc.spec
        if not spec.triggers:
            continue
        base = parse_model_ref(spec.base_model)[0]
        last = lineage.last_for(specs.root, name)
        facts = RecipeFacts(
            name=name,
            data_hash=training_data_hash(specs, name),
            last_data_hash=last.get("data_hash") if last else None,
            last_trained=lineage.last_trained(last),
            base_model=base,
            shutdown_date=specs.models[base].doc.spec.shutdown_date,
            history=history,
            today=today,
        )
        out.append((name, facts))
    return out


def retrains(specs: SpecSet, today: dt.date | None = None) -> tuple[Retrain, ...]:
    """The plan's retrain actions: every recipe with a fired trigger, with its reasons."""
    facts = gather(specs, today or dt.datetime.now(dt.UTC).date())
    fired = due([(name, specs.finetunes[name].doc.spec, f) for name, f in facts])
    return tuple(
        Retrain(name, specs.finetunes[name].doc.spec.backend, specs.finetunes[name].doc.spec.method, reasons)
        for name, reasons in fired
    )
