"""Per-item reduction of repeats and per-metric aggregates with intervals (Wilson for pass rates, a seeded
percentile bootstrap for scores)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Reduce = Literal["mean", "pass_at_k", "pass_hat_k"]
Z95 = 1.959963984540054


@dataclass(frozen=True)
class ItemScore:
    """One item's reduced result for one metric."""

    score: float
    pass_value: float
    """1 or 0: the majority of repeats passed (mean), any passed (pass@k), all passed (pass^k)."""
    error: bool


def reduce_repeats(scores: Sequence[float], passes: Sequence[bool], errors: Sequence[bool], how: Reduce) -> ItemScore:
    """Reduce the repeats of one item to the one per-item value that the results table, floors, the gate and
    baselines all use: `mean` (mean score; the item passes when at least half its repeats pass, the majority
    the gate's paired test needs), pass@k (any passes, best score), pass^k (all pass, worst score)."""
    if how == "pass_at_k":
        return ItemScore(max(scores), float(any(passes)), all(errors))
    if how == "pass_hat_k":
        return ItemScore(min(scores), float(all(passes)), any(errors))
    n = len(scores)
    return ItemScore(sum(scores) / n, float(2 * sum(passes) >= n), any(errors))


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well-behaved at small n and near 0 or 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_ci(
    values: Sequence[float], samples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, with a fixed seed so reports are reproducible."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (0.0, 0.0)
    if arr.size == 1 or np.all(arr == arr[0]):
        return (float(arr[0]), float(arr[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(samples, arr.size))
    means = arr[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


@dataclass(frozen=True)
class MetricSummary:
    """The aggregate of one metric over the items of a run."""

    name: str
    aggregate: Literal["pass_rate", "mean"]
    value: float
    n: int
    ci_low: float
    ci_high: float
    method: Literal["wilson", "bootstrap"]
    errors: int
    floor_ok: bool | None
    """None when the metric has no `value` bounds."""


def summarise(
    name: str,
    aggregate: Literal["pass_rate", "mean"],
    items: Sequence[ItemScore],
    lower: float | None,
    upper: float | None,
) -> MetricSummary:
    """Mean over items, with its interval and the floor/ceiling check."""
    n = len(items)
    values = [i.pass_value if aggregate == "pass_rate" else i.score for i in items]
    value = sum(values) / n if n else 0.0
    binary = aggregate == "pass_rate" and all(v in (0.0, 1.0) for v in values)
    lo, hi = wilson(sum(values), n) if binary else bootstrap_ci(values)
    floor_ok = None
    if lower is not None or upper is not None:
        floor_ok = (lower is None or value >= lower) and (upper is None or value <= upper)
    return MetricSummary(
        name, aggregate, value, n, lo, hi, "wilson" if binary else "bootstrap", sum(i.error for i in items), floor_ok
    )
