"""The lines of the committed ledgers under `baselines/`: the results history and the retraining lineage.

Each line is one document with its own `version`. Lines written before lines carried one are version 1, the
format they were written in. Both files are in the head tree of a pull request, so a forged or damaged line is
refused with its file and line, never half-read.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.documents.versioned import Versioned

LEDGER_VERSION: Final = 1


class _Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    version: Literal[1] = LEDGER_VERSION


class HistoryMetric(BaseModel):
    """One metric of a result on main."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    value: float
    n: int = Field(ge=0)
    floor_ok: bool | None
    """Whether the value was inside the metric's floor; None when it has none."""


class HistoryEntry(_Line):
    """A line of `baselines/history.jsonl`: one (eval, model) result on main, for trends and `metric_below`."""

    commit: str | None
    created: str | None
    """When the result was written (ISO 8601, UTC)."""
    eval: str
    model: str
    """The model reference as a file name (`name` or `name_at_alias`)."""
    model_id: str
    metrics: dict[str, HistoryMetric]
    run_id: str | None


class LineageMetric(BaseModel):
    """One gated metric of a promotion: champion vs challenger on the promotion Eval."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    champion: float | None
    challenger: float | None
    delta: float | None
    p_worse: float | None
    """One-sided p-value of the challenger being worse."""
    p_better: float | None
    """One-sided p-value of the challenger being better (the superiority test)."""
    n: int = Field(ge=0)
    verdict: str


class LineageEntry(_Line):
    """A line of `baselines/lineage.jsonl`: training data -> recipe -> job -> model -> promotion decision."""

    recipe: str
    trained_at: str
    """When training finished (ISO 8601, UTC)."""
    commit: str | None
    data_hash: str
    recipe_hash: str
    training_file_sha256: str
    n_examples: int = Field(ge=0)
    backend: str
    job_id: str
    base_model: str
    model_id: str | None
    """The trained model; None when the job failed."""
    trained_tokens: int | None
    decision: str
    """`failed`, `trained` (no promotion rule), `promoted`, or what the promotion gate decided otherwise."""
    reason: str
    eval: str | None = None
    """The promotion Eval, when the recipe has a promotion rule."""
    reports: dict[str, str] = {}
    """Result documents the promotion compared (`champion`, `challenger`)."""
    metrics: list[LineageMetric] = []


HISTORY_LINE: Final = Versioned(
    "history line", HistoryEntry, LEDGER_VERSION, "fix or remove the line (git log -p baselines/history.jsonl)", {}, 1
)
LINEAGE_LINE: Final = Versioned(
    "lineage line", LineageEntry, LEDGER_VERSION, "fix or remove the line (git log -p baselines/lineage.jsonl)", {}, 1
)
