"""Which FineTune recipes must retrain, and why: a pure function of facts gathered beforehand.

`decide(spec, facts)` reads no disk and calls nothing; `gather` (in `runner.finetune.facts`) reads the committed
lineage and metric history, and renders the training data, so `flywheel plan` can show the reasons and
`flywheel apply` act on exactly the same ones.

Triggers say *when* to train; the recipe hash says *what* would be trained. A trigger that fires while the recipe
hash is the one the last training had (same data, same recipe, same base model) trains nothing: backends find
jobs by that hash, so it would only find the old job and gate the model against itself. Such a recipe is held,
with a note in the plan saying what to change, and the plan stays quiet about it (no retrain, no exit 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from runner.documents.ledgers import HistoryEntry
from runner.specs.finetune import BaseModelShutdown, DatasetChanged, FineTuneSpec, MetricBelow, Schedule


@dataclass(frozen=True)
class RecipeFacts:
    """What the triggers of one recipe look at."""

    data_hash: str
    """The training data's hash now (`runner.finetune.data.training_data_hash`)."""
    last_data_hash: str | None
    """The training data hash of the last training on record (lineage), None if never trained."""
    last_trained: dt.date | None
    recipe_hash: str
    """The job identity the recipe would train now (`runner.finetune.data.recipe_hash`)."""
    last_recipe_hash: str | None
    """The job identity of the last training on record, None if never trained."""
    last_job: str | None
    """The job id of the last training on record."""
    base_model: str
    """Model spec name of the base model."""
    shutdown_date: dt.date | None
    """The base model's `shutdown_date`, when its Model spec declares one."""
    history: tuple[HistoryEntry, ...]
    """Lines of baselines/history.jsonl (results on main), oldest first."""
    today: dt.date


def _model_matches(slug: str, base_model: str) -> bool:
    return slug == base_model or slug.startswith(f"{base_model}_at_")


def _metric_below(trigger: MetricBelow, facts: RecipeFacts) -> str | None:
    runs = [
        h.metrics[trigger.metric]
        for h in facts.history
        if h.eval == trigger.eval and _model_matches(h.model, facts.base_model) and trigger.metric in h.metrics
    ]
    last = runs[-trigger.runs :]
    if len(last) < trigger.runs or not all(m.floor_ok is False for m in last):
        return None
    values = ", ".join(f"{m.value:.3f}" for m in last)
    plural = "s" if trigger.runs != 1 else ""
    return f"{trigger.eval}/{trigger.metric} below its floor in the last {trigger.runs} run{plural} on main ({values})"


def retrain_reasons(spec: FineTuneSpec, facts: RecipeFacts) -> tuple[str, ...]:
    """Every trigger of `spec` that fired, as a human reason; empty when nothing fired."""
    reasons: list[str] = []
    for trigger in spec.triggers:
        if isinstance(trigger, DatasetChanged):
            if facts.last_data_hash is None:
                reasons.append("never trained")
            elif facts.last_data_hash != facts.data_hash:
                reasons.append(f"training data changed ({facts.last_data_hash[:8]} -> {facts.data_hash[:8]})")
        elif isinstance(trigger, MetricBelow):
            reason = _metric_below(trigger, facts)
            if reason:
                reasons.append(reason)
        elif isinstance(trigger, Schedule):
            if facts.last_trained is None:
                reasons.append(f"schedule: every {trigger.every_days} days, never trained")
            elif (facts.today - facts.last_trained).days >= trigger.every_days:
                reasons.append(
                    f"schedule: every {trigger.every_days} days, last trained {facts.last_trained.isoformat()}"
                )
        elif isinstance(trigger, BaseModelShutdown) and facts.shutdown_date is not None:
            left = (facts.shutdown_date - facts.today).days
            if left <= trigger.within_days:
                when = f"in {left} days" if left >= 0 else f"{-left} days ago"
                reasons.append(
                    f"base model {facts.base_model} shuts down on {facts.shutdown_date.isoformat()} ({when})"
                )
    return tuple(dict.fromkeys(reasons))


@dataclass(frozen=True)
class Decision:
    """What the plan says of one recipe."""

    reasons: tuple[str, ...]
    """The triggers that fired; the recipe retrains when there are any and it is not `held`."""
    held: str | None = None
    """Why fired triggers train nothing: this exact recipe has already been trained."""

    @property
    def retrain(self) -> bool:
        return bool(self.reasons) and self.held is None


def decide(spec: FineTuneSpec, facts: RecipeFacts) -> Decision:
    """Retrain when a trigger fired and the recipe would train something not trained yet."""
    reasons = retrain_reasons(spec, facts)
    if reasons and facts.last_recipe_hash == facts.recipe_hash:
        held = (
            f"recipe, training data and base model unchanged since job {facts.last_job}, so there is nothing new "
            "to train; change the data, the recipe or the base model"
        )
        return Decision(reasons, held)
    return Decision(reasons)
