"""The applied state (`.flywheel/state.json`): per (eval, model) the hashes and cell keys last applied, with a
lineage id and a serial that grows on every write. `schemas/state.schema.json` is generated from it."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.documents.versioned import Versioned

STATE_VERSION: Final = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class AppliedMetrics(_Frozen):
    """The metric values of one apply, for the retraining triggers."""

    commit: str | None = None
    metrics: dict[str, float]


class TargetRecord(_Frozen):
    """What was last applied for one (eval, model reference)."""

    model_id: str
    endpoint: str
    hashes: dict[str, Any]
    """prompt, sampling, dataset, split and per-grader hashes, as the plan computes them."""
    cells: dict[str, tuple[str, str]]
    """cell id (`item#repeat`) -> (call key, grade key)."""
    result: str | None = None
    """Path of the result document of the last apply."""
    history: list[AppliedMetrics] = []
    """Last applied metric values, newest last."""
    failed: list[str] = []
    """Cell ids that failed after their retries in the last apply: the next plan retries them."""


class StateFile(_Frozen):
    """The whole state file."""

    version: Literal[1] = STATE_VERSION
    lineage: str
    """Random id given by the first apply; a saved plan from another lineage is refused."""
    serial: int = Field(ge=0)
    evals: dict[str, dict[str, TargetRecord]] = {}
    """eval name -> model reference -> what was applied."""


STATE_DOC: Final = Versioned("state file", StateFile, STATE_VERSION, "move it aside to start over (results are kept)")
