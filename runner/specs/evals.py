"""`kind: Eval`: dataset (+ split) x prompt x model(s) x metrics, with floors, regression policy and budget."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from runner.specs.common import ModelRef, Name, StrictModel


class Bounds(StrictModel):
    """An absolute floor and/or ceiling on a metric (TFMA `value` threshold)."""

    lower: float | None = None
    """The metric must be at least this."""
    upper: float | None = None
    """The metric must be at most this."""

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.lower is None and self.upper is None:
            raise ValueError("give `lower`, `upper` or both")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError("`lower` must not exceed `upper`")
        return self


class Metric(StrictModel):
    """One gated or reported number, computed from one grader."""

    name: Name
    """Metric name, unique within the Eval."""
    grader: Name
    """The Grader spec that scores each item."""
    aggregate: Literal["pass_rate", "mean"] = "pass_rate"
    """`pass_rate`: share of items that pass (McNemar in the gate); `mean`: mean score (paired bootstrap)."""
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    """Which way is better."""
    value: Bounds | None = None
    """Absolute floor/ceiling; breaking it fails the gate whatever the statistics say."""
    gate: bool = True
    """False: report the metric but never fail a PR on it."""
    min_effect: float | None = Field(default=None, ge=0)
    """Overrides the Eval's `regression.min_effect` for this metric."""


class RegressionPolicy(StrictModel):
    """How the gate decides a regression against the baseline."""

    min_effect: float = Field(default=0.02, ge=0)
    """Smallest drop that counts (absolute, in the metric's units: 0.02 = 2 points of pass rate)."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Family-wise significance level (Holm across gated metrics)."""
    on_inconclusive: Literal["pass", "warn", "fail"] = "warn"
    """What an underpowered comparison does: pass silently, pass with a warning, or fail (exit 4)."""
    bootstrap_samples: int = Field(default=2000, ge=100, le=100_000)
    """Resamples for the paired bootstrap of scored metrics."""
    seed: int = 0
    """Seed of the bootstrap, so verdicts are reproducible."""


class Budget(StrictModel):
    """Spending cap for one run of this Eval; checked against a worst-case estimate before any call."""

    usd: float | None = Field(default=None, ge=0)
    """Dollars."""
    tokens: int | None = Field(default=None, ge=0)
    """Prompt + completion tokens."""


class EvalSpec(StrictModel):
    """An evaluation: which items, which prompt, which models, which metrics."""

    dataset: Name
    """The Dataset spec."""
    split: str | None = None
    """Split of the dataset to evaluate on (default: all items)."""
    prompt: Name
    """The Prompt spec."""
    models: list[ModelRef] = Field(min_length=1)
    """Model specs to evaluate, e.g. `[triage-model@champion]`."""
    metrics: list[Metric] = Field(min_length=1)
    """Metrics, each from one Grader."""
    repeats: int = Field(default=1, ge=1, le=100)
    """Samples per item; use > 1 when sampling is not greedy."""
    reduce: Literal["mean", "pass_at_k", "pass_hat_k"] = "mean"
    """How repeats reduce to one value per item, which the results table, floors, the gate and baselines all
    use: `mean` (mean score; the item passes when at least half its repeats pass), `pass_at_k` (best score;
    passes when any repeat passes) or `pass_hat_k` (worst score; passes when every repeat passes)."""
    baseline_model: ModelRef | None = None
    """The model `pairwise` graders compare each evaluated model against."""
    regression: RegressionPolicy = RegressionPolicy()
    """Gate policy."""
    budget: Budget | None = None
    """Refuse to start above this worst-case estimate; stop when actual spend reaches it."""
    max_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of cells that may fail (a provider error after every retry) before `run` and `apply` exit 5.
    Failed cells are never scored: they are missing from every metric, and the next run retries them."""

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, metrics: list[Metric]) -> list[Metric]:
        names = [m.name for m in metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique; rename the repeated {', '.join(map(repr, dupes))}")
        return metrics

    @field_validator("models")
    @classmethod
    def _unique_models(cls, models: list[str]) -> list[str]:
        if len(set(models)) != len(models):
            raise ValueError("lists the same model twice; remove the duplicate")
        return models
