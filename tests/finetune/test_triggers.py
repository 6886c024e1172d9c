"""The retraining triggers as a pure function: each trigger, the reason text it gives, and when it stays quiet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runner.documents.ledgers import HistoryEntry
from runner.finetune.triggers import Decision, RecipeFacts, decide, retrain_reasons
from runner.specs.finetune import FineTuneSpec

TODAY = dt.date(2026, 11, 23)


def _spec(*triggers: dict[str, Any]) -> FineTuneSpec:
    return FineTuneSpec.model_validate(
        {
            "method": "sft",
            "base_model": "m",
            "training": {"dataset": "d", "prompt": "p", "completion": "{{ item.label }}"},
            "triggers": list(triggers),
        }
    )


def _history(*values: tuple[float, bool], model: str = "m_at_champion") -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry.model_validate(
            {"commit": None, "created": None, "eval": "e", "model": model, "model_id": "m", "run_id": None}
            | {"metrics": {"acc": {"value": v, "n": 100, "floor_ok": ok}}}
        )
        for v, ok in values
    )


def _facts(**kw: Any) -> RecipeFacts:
    base: dict[str, Any] = {
        "data_hash": "b" * 64,
        "last_data_hash": "b" * 64,
        "last_trained": TODAY - dt.timedelta(days=3),
        "recipe_hash": "r2" * 32,
        "last_recipe_hash": "r1" * 32,
        "last_job": "job-1",
        "base_model": "m",
        "shutdown_date": None,
        "history": (),
        "today": TODAY,
    }
    return RecipeFacts(**(base | kw))


BELOW = {"type": "metric_below", "eval": "e", "metric": "acc", "runs": 2}

CASES = [
    ({"type": "dataset_changed"}, {"last_data_hash": None}, ("never trained",)),
    ({"type": "dataset_changed"}, {"last_data_hash": "a" * 64}, ("training data changed (aaaaaaaa -> bbbbbbbb)",)),
    ({"type": "dataset_changed"}, {}, ()),
    (BELOW, {"history": _history((0.6, True), (0.41, False), (0.39, False))},
     ("e/acc below its floor in the last 2 runs on main (0.410, 0.390)",)),
    (BELOW, {"history": _history((0.41, False), (0.6, True))}, ()),
    (BELOW, {"history": _history((0.41, False))}, ()),
    (BELOW, {"history": _history((0.41, False), (0.39, False), model="other")}, ()),
    ({"type": "schedule", "every_days": 3}, {}, ("schedule: every 3 days, last trained 2026-11-20",)),
    ({"type": "schedule", "every_days": 4}, {}, ()),
    ({"type": "schedule", "every_days": 4}, {"last_trained": None}, ("schedule: every 4 days, never trained",)),
    ({"type": "base_model_shutdown", "within_days": 30}, {"shutdown_date": dt.date(2026, 12, 10)},
     ("base model m shuts down on 2026-12-10 (in 17 days)",)),
    ({"type": "base_model_shutdown", "within_days": 10}, {"shutdown_date": dt.date(2026, 12, 10)}, ()),
    ({"type": "base_model_shutdown"}, {"shutdown_date": dt.date(2026, 11, 1)},
     ("base model m shuts down on 2026-11-01 (22 days ago)",)),
]  # fmt: skip


@pytest.mark.parametrize(("trigger", "facts", "reasons"), CASES)
def test_trigger_reasons(trigger: dict[str, Any], facts: dict[str, Any], reasons: tuple[str, ...]) -> None:
    assert retrain_reasons(_spec(trigger), _facts(**facts)) == reasons


def test_no_triggers_means_only_by_hand() -> None:
    assert retrain_reasons(_spec(), _facts(last_data_hash=None)) == ()


def test_a_fired_trigger_retrains_a_recipe_that_would_train_something_new() -> None:
    decision = decide(_spec({"type": "schedule", "every_days": 3}), _facts())
    assert decision == Decision(("schedule: every 3 days, last trained 2026-11-20",))
    assert decision.retrain


def test_a_fired_trigger_is_held_when_the_recipe_is_trained_as_it_stands() -> None:
    # Same data, recipe and base model as job-1: a retrain would find job-1 again and gate it against itself.
    decision = decide(_spec({"type": "schedule", "every_days": 3}), _facts(last_recipe_hash="r2" * 32))
    assert decision.reasons == ("schedule: every 3 days, last trained 2026-11-20",)
    assert decision.held == (
        "recipe, training data and base model unchanged since job job-1, so there is nothing new to train; "
        "change the data, the recipe or the base model"
    )
    assert not decision.retrain


def test_quiet_triggers_are_neither_retrained_nor_held() -> None:
    decision = decide(_spec({"type": "dataset_changed"}), _facts(last_recipe_hash="r2" * 32))
    assert decision == Decision(()) and not decision.retrain
