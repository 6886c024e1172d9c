"""The result document of one (eval, model) run, and the baseline made from it: typed, frozen models.

A document is a header (what ran, under which hashes, with which metric summaries) followed by one record per
item. The two are separate models so a reader can take the header without the items and stream the items one by
one (see `runner.documents.io`). `schemas/result.schema.json` and `schemas/baseline.schema.json` are generated
from these models. Changing a field's meaning or adding a required one bumps `RESULT_VERSION` and adds a step to
`runner.documents.migrate.MIGRATIONS`, so documents committed by an older Flywheel stay readable.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

RESULT_VERSION: Final = 3
"""The version every document is written with; readers migrate older ones and refuse newer ones."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True)


class MetricResult(_Frozen):
    """One metric's aggregate over the items of a run."""

    aggregate: Literal["pass_rate", "mean"]
    value: float
    """The mean over items of the pass value (`pass_rate`) or of the score (`mean`)."""
    n: int = Field(ge=0)
    """Items aggregated."""
    ci_low: float
    """Lower end of the 95% interval (Wilson for 0/1 pass rates, otherwise a seeded percentile bootstrap)."""
    ci_high: float
    ci_method: Literal["wilson", "bootstrap"]
    errors: int = Field(ge=0)
    """Items whose grading failed (they score 0)."""
    floor_ok: bool | None
    """Whether `value` is inside the metric's `value` bounds; None when it has none."""
    grader: str
    direction: Literal["higher_is_better", "lower_is_better"]


class ModelInfo(_Frozen):
    """The model a run called."""

    ref: str
    """The Model reference in the specs (`name` or `name@alias`)."""
    id: str
    """The provider's model id."""
    endpoint: str
    sampling: dict[str, Any]
    """Sampling parameters sent with every request."""


class GitInfo(_Frozen):
    commit: str | None
    dirty: bool | None


class Hashes(_Frozen):
    """Content hashes of the run's inputs."""

    eval: str
    prompt: str
    dataset: str
    """Hash of the dataset items the Eval reads."""
    graders: dict[str, str]
    """Grader name -> content hash (spec plus referenced files)."""


class Provenance(_Frozen):
    """Where a result came from."""

    flywheel_version: str
    git: GitInfo
    created: str
    """UTC time the document was written (ISO 8601)."""
    hashes: Hashes


class Usage(_Frozen):
    """Tokens, money and time spent by the run (cached cells included, at their original cost)."""

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0)
    cached_cells: int = Field(ge=0)
    errors: int = Field(ge=0)
    """Cells whose model call or prompt rendering failed (failed cells included)."""
    mean_latency_s: float = Field(ge=0)
    estimate_usd: float = Field(ge=0)
    """The worst-case estimate checked against the budget before the first call."""


class _Header(_Frozen):
    version: Literal[3] = RESULT_VERSION
    """Document format version (checked on read)."""
    eval: str
    run_id: str | None
    """Hash of everything that identifies the run (the resume key)."""
    model: ModelInfo
    dataset: str
    split: str | None
    repeats: int = Field(ge=1)
    reduce: Literal["mean", "pass_at_k", "pass_hat_k"]
    metrics: dict[str, MetricResult]
    provenance: Provenance


class ResultHeader(_Header):
    """The header of a result document (`.flywheel/results/<eval>/<model>.json`)."""

    kind: Literal["EvalResult"] = "EvalResult"
    n_items: int = Field(ge=0)
    completed_cells: int = Field(ge=0)
    """(item, repeat) cells journaled so far (failed ones included); fewer than n_items x repeats after a stopped
    run."""
    failed_cells: int = Field(ge=0)
    """Cells whose model or judge call failed after its retries: never scored; the next run retries them."""
    failed_items: int = Field(ge=0)
    """Items with a failed cell: they have no scores and are missing from every metric (never a 0)."""
    usage: Usage


class BaselineHeader(_Header):
    """The header of a baseline (`baselines/<eval>/<model>.json`, committed on main)."""

    kind: Literal["Baseline"] = "Baseline"


class Score(_Frozen):
    """One metric of one item, reduced over its repeats."""

    score: float
    pass_: float = Field(alias="pass", ge=0, le=1)
    """1 or 0: a majority of the repeats passed (reduce: mean), any passed (pass@k), all passed (pass^k)."""


class BaselineItem(_Frozen):
    """One item of a baseline: its id and scores only (no model output, nothing secret)."""

    id: str
    scores: dict[str, Score]


class Tokens(_Frozen):
    """Tokens of the model calls of every repeat (judges not included)."""

    prompt: int = Field(ge=0)
    completion: int = Field(ge=0)


class ItemRecord(BaselineItem):
    """One item of a result document: what went in, what came out, and how each grader judged it."""

    status: Literal["ok", "failed"] = "ok"
    """`failed` when a cell of the item failed after its retries: `scores` is then empty (missing, never 0) and
    `error` says why; the next run retries it."""

    input_ref: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """Content hash of the rendered input messages, kept once in `.flywheel/inputs/<2 chars>/<hash>.json`
    (None when the prompt did not render)."""
    references: dict[str, Any] = {}
    """The item fields the graders read (`item.label`, ...), each value capped."""
    output: str | None
    """The model's text on the first repeat, capped (None when the call failed)."""
    error: str | None
    """The first failure among the item's repeats, if any."""
    reasons: dict[str, str] = {}
    """Metric -> its grader's reason on the first repeat that gave one: judge reasoning, or the grading error."""
    repeats: int = Field(ge=0)
    cost_usd: float = Field(ge=0)
    """Model and judge calls of every repeat."""
    latency_s: float | None = Field(default=None, ge=0)
    """Mean seconds per model call over the repeats answered now, not from the cache (None when every repeat was
    cached, and in documents from before version 2)."""
    tokens: Tokens | None = None
    capped: dict[str, int] = {}
    """Fields cut to their cap (`output`, `references.<field>`, `reasons.<metric>`) -> original length."""


class ResultFile(ResultHeader):
    """A whole result document as stored: the header, then `items` (for the JSON Schema)."""

    items: list[ItemRecord]


class BaselineFile(BaselineHeader):
    """A whole baseline as stored: the header, then `items` (for the JSON Schema)."""

    items: list[BaselineItem]
