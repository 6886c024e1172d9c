"""A saved plan (`flywheel plan --out FILE`, applied by `flywheel apply FILE`): what apply will run, made against
one state serial, so an apply of a stale plan is refused. `schemas/plan.schema.json` is generated from it."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.documents.versioned import Versioned

PLAN_VERSION: Final = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class PlannedAction(_Frozen):
    """What apply does for one (eval, model)."""

    type: Literal["run", "regrade", "reuse", "prune"]
    eval: str
    model: str
    """The model reference (`name` or `name@alias`)."""
    cells: int = Field(ge=0)
    reasons: list[str]
    estimated_usd: float = Field(ge=0)


class PlannedRetrain(_Frozen):
    """A FineTune recipe whose triggers fired, with something new to train."""

    recipe: str
    backend: str
    method: str
    reasons: list[str]


class SavedPlan(_Frozen):
    """The whole saved plan."""

    version: Literal[1] = PLAN_VERSION
    lineage: str
    """The state lineage the plan was made against (empty before the first apply)."""
    serial: int = Field(ge=0)
    """The state serial the plan was made against: apply refuses the plan once the state moved on."""
    has_changes: bool
    summary: str
    estimated_usd: float = Field(ge=0)
    actions: list[PlannedAction]
    retrains: list[PlannedRetrain] = []
    notes: list[str] = []


def _fix(source: str) -> str:
    return f"write a new one with: flywheel plan --out {source}"


def plan_document(source: str) -> Versioned[SavedPlan]:
    """The saved-plan kind, its fix naming `source`."""
    return Versioned("saved plan", SavedPlan, PLAN_VERSION, _fix(source))
