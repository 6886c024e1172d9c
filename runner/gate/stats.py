"""Paired statistics for the regression gate: is the head worse than the base on the same items, beyond noise?

Base and head are paired by item. "Harm" is the change in the bad direction (a drop for `higher_is_better`, a
rise for `lower_is_better`), in the metric's units (0.02 = 2 points of pass rate).

- `pass_rate` metrics: one-sided exact McNemar. Only discordant items count: `b` passed on base and failed on head,
  `c` the reverse. Under "no change" the harmful count is Binomial(b + c, 1/2); p = P(X >= harmful).
- `mean` metrics: paired bootstrap of the mean difference (`bootstrap_samples` resamples of items, a fixed seed, so
  verdicts are reproducible); clustered when items declare a cluster (whole clusters are resampled, so items that
  share a context are not counted as independent evidence). p = share of resamples showing no harm.
- Holm's step-down correction across the gated metrics of one comparison.

Verdict per metric, in order:
1. FAIL when an absolute bound (`lower` / `upper`) is broken by the head value, whatever the statistics say;
2. FAIL when the Holm-adjusted p-value is below alpha **and** the observed harm is at least `min_effect`;
3. PASS when the data rule out a harm of `min_effect`: the one-sided upper confidence bound of the harm is below it
   (this includes a significant drop smaller than `min_effect`, and improvements);
4. otherwise INCONCLUSIVE: the comparison is underpowered. The report gives the minimum detectable effect (MDE) at
   this n and the items needed for the MDE to reach `min_effect`.

Power numbers use the one-sided level of the test, alpha / (number of gated metrics) (Holm's first step), and power
0.8: MDE = k * sd(per-item difference) / sqrt(n) with k = z(1 - alpha/m) + z(0.8). For pass rates the variance of
a per-item difference is the discordance rate d = (b + c) / n, floored at the effect itself (a drop of delta needs
at least delta * n flipped items), so a run with no flips at small n is still underpowered. With 10 % of items
flipping, a 3-point drop at alpha 0.05 needs about 690 items (about 870 two-sided, the figure often quoted).

Interval conventions: `ci_low` / `ci_high` are the two-sided 95 % interval of head - base (paired Wald for pass
rates, bootstrap percentiles for means); `base_ci` / `head_ci` are Wilson 95 % intervals for pass rates and
bootstrap percentile intervals for means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom, norm

from runner.engine.metrics import wilson

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
Z95 = 1.959963984540054
POWER = 0.8
MIN_ITEMS_MEAN = 10
"""Fewer paired items than this cannot support a bootstrap verdict on a mean metric."""
MAX_BOOT_CELLS = 4_000_000
"""Resample indices generated per chunk (bounds memory at about 32 MB)."""


@dataclass(frozen=True)
class MetricInput:
    """One gated metric: per-item scores of base and head, paired by position."""

    name: str
    aggregate: Literal["pass_rate", "mean"]
    direction: Literal["higher_is_better", "lower_is_better"]
    base: Sequence[float]
    head: Sequence[float]
    min_effect: float
    lower: float | None = None
    upper: float | None = None
    clusters: Sequence[str] | None = None


@dataclass(frozen=True)
class MetricComparison:
    """The verdict on one metric and the numbers behind it."""

    name: str
    verdict: Verdict
    reason: str
    base_value: float
    head_value: float
    delta: float
    """head_value - base_value."""
    ci_low: float
    ci_high: float
    p_value: float
    """One-sided p-value of "head is worse than base"."""
    p_adjusted: float
    """Holm-adjusted across the metrics of the comparison."""
    test: str
    n: int
    b: int
    """pass_rate: items that passed on base and failed on head."""
    c: int
    """pass_rate: items that failed on base and passed on head."""
    mde: float | None
    """Minimum detectable harm at this n (power 0.8); None when too few items to estimate it."""
    n_needed: int
    """Items needed for the MDE to reach min_effect (0 when there are enough)."""
    base_ci: tuple[float, float]
    head_ci: tuple[float, float]


@dataclass(frozen=True)
class Comparison:
    """Per-metric results and the overall verdict (FAIL > INCONCLUSIVE > PASS)."""

    verdict: Verdict
    metrics: tuple[MetricComparison, ...]


@dataclass(frozen=True)
class _Test:
    base_value: float
    head_value: float
    harm: float
    harm_upper: float
    ci: tuple[float, float]
    p: float
    test: str
    b: int
    c: int
    mde: float | None
    n_needed: int
    base_ci: tuple[float, float]
    head_ci: tuple[float, float]


def compare(
    metrics: Sequence[MetricInput], *, alpha: float = 0.05, bootstrap_samples: int = 2000, seed: int = 0
) -> Comparison:
    """Compare base and head on every metric; see the module docstring for the method."""
    m = max(1, len(metrics))
    level = alpha / m
    tests = [_run_test(x, level, bootstrap_samples, seed) if len(x.base) else None for x in metrics]
    adjusted = holm([t.p if t else 1.0 for t in tests])
    results = []
    for x, t, p_adj in zip(metrics, tests, adjusted, strict=True):
        results.append(_decide(x, t, p_adj, alpha))
    verdicts = {r.verdict for r in results}
    verdict: Verdict = "FAIL" if "FAIL" in verdicts else "INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "PASS"
    return Comparison(verdict, tuple(results))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _k(level: float) -> float:
    return float(norm.ppf(1 - level) + norm.ppf(POWER))


def _run_test(x: MetricInput, level: float, samples: int, seed: int) -> _Test:
    if len(x.base) != len(x.head):
        raise ValueError(f"metric {x.name}: {len(x.base)} base scores but {len(x.head)} head scores")
    if x.aggregate == "pass_rate":
        return _mcnemar(x, level)
    return _bootstrap(x, level, samples, seed)


def _sign(x: MetricInput) -> float:
    return 1.0 if x.direction == "higher_is_better" else -1.0


def _mcnemar(x: MetricInput, level: float) -> _Test:
    base = np.asarray(x.base, dtype=float) >= 0.5
    head = np.asarray(x.head, dtype=float) >= 0.5
    n = len(base)
    b = int(np.sum(base & ~head))
    c = int(np.sum(~base & head))
    harmful, helpful = (b, c) if x.direction == "higher_is_better" else (c, b)
    p = float(binom.sf(harmful - 1, b + c, 0.5)) if b + c else 1.0
    delta = (c - b) / n
    # Variance of the sum of per-item differences (each -1, 0 or +1), floored so that zero observed flips at small
    # n still leave room for a drop the data cannot exclude.
    z = float(norm.ppf(1 - level))
    var_sum = (b + c) - (c - b) ** 2 / n
    harm = (harmful - helpful) / n
    harm_upper = (harmful - helpful + z * math.sqrt(max(var_sum, z * z))) / n
    half = Z95 * math.sqrt(max(var_sum, 0.0)) / n
    d = (b + c) / n
    k = _k(level)
    mde = max(k * math.sqrt(d / n), k * k / n)
    needed = math.ceil(k * k * max(d, x.min_effect) / x.min_effect**2) if x.min_effect > 0 else 0
    base_value, head_value = float(base.mean()), float(head.mean())
    return _Test(
        base_value,
        head_value,
        harm,
        harm_upper,
        (delta - half, delta + half),
        p,
        "mcnemar-exact",
        b,
        c,
        mde,
        needed if needed > n else 0,
        wilson(float(base.sum()), n),
        wilson(float(head.sum()), n),
    )


def _resample_means(
    columns: NDArray[np.float64], samples: int, rng: np.random.Generator, clusters: Sequence[str] | None
) -> NDArray[np.float64]:
    """Bootstrap means of each column of `columns` (items x k): a (samples x k) array."""
    n = columns.shape[0]
    if clusters is None:
        groups, counts = columns, np.ones(n)
    else:
        _, inverse = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
        g = int(inverse.max()) + 1
        groups = np.zeros((g, columns.shape[1]))
        np.add.at(groups, inverse, columns)
        counts = np.bincount(inverse, minlength=g).astype(float)
    size = groups.shape[0]
    chunk = max(1, MAX_BOOT_CELLS // size)
    out = np.empty((samples, columns.shape[1]))
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, size, size=(stop - start, size))
        out[start:stop] = groups[idx].sum(axis=1) / counts[idx].sum(axis=1)[:, None]
    return out


def _bootstrap(x: MetricInput, level: float, samples: int, seed: int) -> _Test:
    base = np.asarray(x.base, dtype=float)
    head = np.asarray(x.head, dtype=float)
    n = len(base)
    s = _sign(x)
    rng = np.random.default_rng(seed)
    boot = _resample_means(np.column_stack([base, head]), samples, rng, x.clusters)
    diff = boot[:, 1] - boot[:, 0]
    harm_boot = -s * diff
    harm = float(-s * (head.mean() - base.mean()))
    p = float((1 + np.sum(harm_boot <= 0)) / (samples + 1)) if n >= MIN_ITEMS_MEAN else 1.0
    se = float(harm_boot.std(ddof=1)) if samples > 1 else 0.0
    k = _k(level)
    enough = n >= MIN_ITEMS_MEAN
    mde = k * se if enough else None
    harm_upper = float(np.quantile(harm_boot, 1 - level)) if enough else math.inf
    needed = 0
    if mde is not None and x.min_effect > 0 and mde > x.min_effect:
        needed = math.ceil(n * (mde / x.min_effect) ** 2)
    q = [0.025, 0.975]
    lo, hi = (float(v) for v in np.quantile(diff, q))
    b_lo, b_hi = (float(v) for v in np.quantile(boot[:, 0], q))
    h_lo, h_hi = (float(v) for v in np.quantile(boot[:, 1], q))
    test = "cluster-bootstrap" if x.clusters is not None else "paired-bootstrap"
    return _Test(
        float(base.mean()),
        float(head.mean()),
        harm,
        harm_upper,
        (lo, hi),
        p,
        test,
        0,
        0,
        mde,
        needed,
        (b_lo, b_hi),
        (h_lo, h_hi),
    )


def _points(value: float, aggregate: str) -> str:
    return f"{100 * value:.1f} points" if aggregate == "pass_rate" else f"{value:.4g}"


def _decide(x: MetricInput, t: _Test | None, p_adj: float, alpha: float) -> MetricComparison:
    if t is None:
        return MetricComparison(
            x.name,
            "INCONCLUSIVE",
            "no paired items",
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            1.0,
            1.0,
            "none",
            0,
            0,
            0,
            None,
            0,
            (0.0, 0.0),
            (0.0, 0.0),
        )
    unit = x.aggregate
    eff = _points(x.min_effect, unit)
    verdict: Verdict
    if x.lower is not None and t.head_value < x.lower:
        verdict, reason = "FAIL", f"head {t.head_value:.4g} is below the floor {x.lower:g}"
    elif x.upper is not None and t.head_value > x.upper:
        verdict, reason = "FAIL", f"head {t.head_value:.4g} is above the ceiling {x.upper:g}"
    elif p_adj < alpha and t.harm >= x.min_effect:
        verdict = "FAIL"
        reason = f"worse by {_points(t.harm, unit)} (p={p_adj:.3g} after Holm, at least min_effect {eff})"
    elif t.harm_upper < x.min_effect:
        verdict = "PASS"
        if p_adj < alpha and t.harm > 0:
            reason = f"worse by {_points(t.harm, unit)} (p={p_adj:.3g}), below min_effect {eff}"
        elif t.harm < 0:
            reason = f"better by {_points(-t.harm, unit)}"
        else:
            reason = f"within noise: a drop of {eff} or more is ruled out"
    else:
        verdict = "INCONCLUSIVE"
        need = f"; about {t.n_needed} items needed" if t.n_needed else ""
        mde = f" (minimum detectable effect {_points(t.mde, unit)})" if t.mde is not None else ""
        change = (
            f"worse by {_points(t.harm, unit)}"
            if t.harm > 0
            else f"better by {_points(-t.harm, unit)}"
            if t.harm < 0
            else "no change"
        )
        reason = (
            f"underpowered: {change} (p={p_adj:.3g}); a drop of {eff} cannot be ruled out at n={len(x.base)}{mde}{need}"
        )
    return MetricComparison(
        name=x.name,
        verdict=verdict,
        reason=reason,
        base_value=t.base_value,
        head_value=t.head_value,
        delta=t.head_value - t.base_value,
        ci_low=t.ci[0],
        ci_high=t.ci[1],
        p_value=t.p,
        p_adjusted=p_adj,
        test=t.test,
        n=len(x.base),
        b=t.b,
        c=t.c,
        mde=t.mde,
        n_needed=t.n_needed,
        base_ci=t.base_ci,
        head_ci=t.head_ci,
    )
