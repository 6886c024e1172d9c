"""Paired statistics for the regression gate: is the head worse than the base on the same items, beyond noise?

Base and head are paired by item. "Harm" is the change in the bad direction (a drop for `higher_is_better`, a
rise for `lower_is_better`), in the metric's units (0.02 = 2 points of pass rate).

- `pass_rate` metrics: one-sided exact McNemar. Only discordant items count: `b` passed on base and failed on head,
  `c` the reverse. Under "no change" the harmful count is Binomial(b + c, 1/2); p = P(X >= harmful).
- `mean` metrics: paired bootstrap of the mean difference (`bootstrap_samples` resamples of items, a fixed seed, so
  verdicts are reproducible); clustered when items declare a cluster (whole clusters are resampled, so items that
  share a context are not counted as independent evidence). p = (1 + #resamples showing no harm) / (B + 1).
- Holm's step-down correction across the gated metrics of one comparison.

Verdict per metric, in order:
1. FAIL when an absolute bound (`lower` / `upper`) is broken by the head value, whatever the statistics say;
2. FAIL when the Holm-adjusted p-value is below alpha **and** the observed harm is at least `min_effect`;
3. PASS when the data rule out a harm of `min_effect` (a one-sided non-inferiority test at alpha / m, m the number
   of gated metrics): this includes a significant drop smaller than `min_effect`, and improvements. So a true drop of
   `min_effect` or more passes at most about alpha of the time, however few items there are;
4. otherwise INCONCLUSIVE: the comparison is underpowered. The report gives the minimum detectable effect (MDE) at
   this n and the items needed for the MDE to reach `min_effect`.

`min_effect: 0` asks for a plain significance test: any significant harm FAILs and everything else PASSes (a margin
of zero can never be ruled out, so the non-inferiority rule would leave such a metric INCONCLUSIVE for ever).

The non-inferiority test for pass rates is Tango's score test for a paired difference of proportions (the variance
of the per-item difference is taken from the restricted maximum-likelihood estimate at harm = `min_effect`, so it
stays honest with few or no flipped items, where a Wald bound passed a true 2-point drop 15 % of the time at
n=300), with a continuity correction of half an item (without it the discrete statistic overshot alpha); for
means it is the (1 - alpha / m) percentile of the bootstrap harm. A mean metric with fewer than `MIN_ITEMS_MEAN`
resampling units (items, or clusters when given) gets no bootstrap verdict: p = 1 and INCONCLUSIVE.

The percentile bootstrap of a mean of u units is too narrow at small u (its variance is the plug-in one, and it uses
normal rather than t tails), so plain bootstrap p-values gave about 6.4 % false FAILs at u = 10-15 in A/A
simulations. Before anything is read off it, the bootstrap distribution of the difference is widened around the
observed difference by sqrt(u / (u - 1)) * t(1 - alpha / m, u - 1) / z(1 - alpha / m), which makes it behave like
a paired t-test at small u and vanishes as u grows. The widened distribution gives p, the non-inferiority bound,
the MDE and `ci_low` / `ci_high`; `base_ci` / `head_ci` are plain percentiles.

Power numbers use the one-sided level of the test, alpha / (number of gated metrics) (Holm's first step), and power
0.8: MDE = k * sd(per-item difference) / sqrt(n) with k = z(1 - alpha/m) + z(0.8). For pass rates the variance of
a per-item difference is the discordance rate d = (b + c) / n, floored at the effect itself (a drop of delta needs
at least delta * n flipped items), so a run with no flips at small n is still underpowered. With 10 % of items
flipping, a 3-point drop needs about 690 items with one gated metric (alpha 0.05) and about 870 with two (alpha
0.025, k^2 = 7.85: the figure often quoted, which is the two-sided 0.05 sample size).

Interval conventions: `ci_low` / `ci_high` bound head - base at the test's own level: two-sided 1 - 2 * alpha / m
(90 % for one gated metric at alpha 0.05), so the end on the harmful side is exactly the one-sided bound the
non-inferiority rule reads. For pass rates both ends invert Tango's score test (with its continuity correction),
so no flipped item at small n still gives a wide interval, never `[+0.000, +0.000]` beside "cannot be ruled
out"; for means they are percentiles of the widened bootstrap. A drop of `min_effect` is ruled out (PASS) exactly
when the interval's harmful end stays short of it. `base_ci` / `head_ci` are Wilson 95 % intervals for pass rates
and bootstrap percentile intervals for means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom, norm
from scipy.stats import t as student_t

from runner.engine.metrics import wilson

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
Z95 = 1.959963984540054
POWER = 0.8
MIN_ITEMS_MEAN = 10
"""Fewer resampling units (paired items, or clusters) than this cannot support a bootstrap verdict on a mean."""
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
    """Lower end of the interval of `delta` at the test's level (two-sided 1 - 2 * alpha / m)."""
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
    ruled_out: bool
    """The data rule out a harm of min_effect (one-sided non-inferiority test at alpha / m)."""
    enough: bool
    """There are enough resampling units for any verdict but INCONCLUSIVE from the statistics."""
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
    for x in metrics:
        _validate(x)
    tests = [_run_test(x, level, bootstrap_samples, seed) if len(x.base) else None for x in metrics]
    adjusted = holm([t.p if t else 1.0 for t in tests])
    results = []
    for x, t, p_adj in zip(metrics, tests, adjusted, strict=True):
        results.append(_decide(x, t, p_adj, alpha))
    verdicts = {r.verdict for r in results}
    verdict: Verdict = "FAIL" if "FAIL" in verdicts else "INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "PASS"
    return Comparison(verdict, tuple(results))


def superiority(
    metrics: Sequence[MetricInput], *, alpha: float = 0.05, bootstrap_samples: int = 2000, seed: int = 0
) -> list[float]:
    """Holm-adjusted one-sided p-values of "head is better than base", one per metric, in input order.

    The same paired tests as `compare`, with base and head swapped and a margin of zero (exact McNemar for pass
    rates, the widened paired bootstrap for means); floors play no part. Promotion asks for one of these below
    alpha, so a challenger that is merely as good as the champion does not replace it."""
    swapped = [replace(x, base=x.head, head=x.base, min_effect=0.0, lower=None, upper=None) for x in metrics]
    return [m.p_adjusted for m in compare(swapped, alpha=alpha, bootstrap_samples=bootstrap_samples, seed=seed).metrics]


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


def tango_z(harmful: int, helpful: int, n: int, margin: float) -> float:
    """Tango's score statistic for H0: harm = margin, harm = P(harmful flip) - P(helpful flip) on paired items.

    Strongly negative values reject "harm >= margin" (non-inferiority). The variance of a per-item difference is
    2 * p_helpful + margin * (1 - margin), with p_helpful the maximum-likelihood estimate under harm = margin
    (Tango 1998, Statistics in Medicine 17:891), so zero observed flips still leave a variance.
    """
    a = 2 * n
    b = -harmful - helpful + (2 * n - harmful + helpful) * margin
    c = -helpful * margin * (1 - margin)
    p_helpful = max(0.0, (math.sqrt(max(b * b - 4 * a * c, 0.0)) - b) / (2 * a))
    var = n * (2 * p_helpful + margin * (1 - margin))
    if var <= 0:
        return -math.inf if harmful - helpful < n * margin else math.inf
    return (harmful - helpful - n * margin + 0.5) / math.sqrt(var)


def tango_bound(harmful: int, helpful: int, n: int, z: float) -> float:
    """The largest harm the data do not rule out at one-sided level z: the margin where Tango's statistic equals
    -z (found by bisection: the statistic falls as the margin grows). In [-1, 1]."""
    lo, hi = -1 + 1e-12, 1 - 1e-12
    if tango_z(harmful, helpful, n, hi) >= -z:
        return 1.0
    if tango_z(harmful, helpful, n, lo) < -z:
        return -1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if tango_z(harmful, helpful, n, mid) < -z:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def _validate(x: MetricInput) -> None:
    if len(x.base) != len(x.head):
        raise ValueError(f"metric {x.name}: {len(x.base)} base scores but {len(x.head)} head scores")
    if x.clusters is not None and len(x.clusters) != len(x.base):
        raise ValueError(f"metric {x.name}: {len(x.clusters)} cluster ids for {len(x.base)} paired items")
    if x.min_effect < 0:
        raise ValueError(f"metric {x.name}: min_effect must be >= 0, got {x.min_effect}")


def _run_test(x: MetricInput, level: float, samples: int, seed: int) -> _Test:
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
    harm = (harmful - helpful) / n
    ruled_out = x.min_effect > 0 and (
        x.min_effect >= 1 or tango_z(harmful, helpful, n, x.min_effect) < -float(norm.ppf(1 - level))
    )
    z = float(norm.ppf(1 - level))
    max_harm = tango_bound(harmful, helpful, n, z)
    max_help = tango_bound(helpful, harmful, n, z)
    ci = (-max_harm, max_help) if x.direction == "higher_is_better" else (-max_help, max_harm)
    d = (b + c) / n
    k = _k(level)
    mde = max(k * math.sqrt(d / n), k * k / n)
    needed = math.ceil(k * k * max(d, x.min_effect) / x.min_effect**2) if x.min_effect > 0 else 0
    base_value, head_value = float(base.mean()), float(head.mean())
    return _Test(
        base_value,
        head_value,
        harm,
        ruled_out,
        True,
        ci,
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


def _small_sample_widening(units: int, level: float) -> float:
    """Factor turning the bootstrap spread of a mean of `units` into a t-test-like spread at one-sided `level`."""
    return math.sqrt(units / (units - 1)) * float(student_t.ppf(1 - level, units - 1) / norm.ppf(1 - level))


def _bootstrap(x: MetricInput, level: float, samples: int, seed: int) -> _Test:
    base = np.asarray(x.base, dtype=float)
    head = np.asarray(x.head, dtype=float)
    n = len(base)
    s = _sign(x)
    rng = np.random.default_rng(seed)
    boot = _resample_means(np.column_stack([base, head]), samples, rng, x.clusters)
    delta = float(head.mean() - base.mean())
    units = len(set(x.clusters)) if x.clusters is not None else n
    enough = units >= MIN_ITEMS_MEAN
    # Small-sample widening of the bootstrap distribution of the difference around the observed one (see the module
    # docstring): the plain percentile bootstrap of a mean is too narrow at a few dozen units.
    widen = _small_sample_widening(units, level) if enough else 1.0
    diff = delta + widen * (boot[:, 1] - boot[:, 0] - delta)
    harm_boot = -s * diff
    harm = -s * delta
    p = float((1 + np.sum(harm_boot <= 0)) / (samples + 1)) if enough else 1.0
    se = float(harm_boot.std(ddof=1)) if samples > 1 else 0.0
    k = _k(level)
    mde = k * se if enough else None
    ruled_out = enough and x.min_effect > 0 and float(np.quantile(harm_boot, 1 - level)) < x.min_effect
    needed = 0
    if mde is not None and x.min_effect > 0 and mde > x.min_effect:
        needed = math.ceil(n * (mde / x.min_effect) ** 2)
    q = [0.025, 0.975]
    lo, hi = (float(v) for v in np.quantile(diff, [level, 1 - level]))  # the decision's own level
    b_lo, b_hi = (float(v) for v in np.quantile(boot[:, 0], q))
    h_lo, h_hi = (float(v) for v in np.quantile(boot[:, 1], q))
    test = "cluster-bootstrap" if x.clusters is not None else "paired-bootstrap"
    return _Test(
        float(base.mean()),
        float(head.mean()),
        harm,
        ruled_out,
        enough,
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
    elif t.ruled_out or (x.min_effect == 0 and t.enough):
        verdict = "PASS"
        if p_adj < alpha and t.harm > 0:
            reason = f"worse by {_points(t.harm, unit)} (p={p_adj:.3g}), below min_effect {eff}"
        elif t.harm < 0:
            reason = f"better by {_points(-t.harm, unit)}"
        elif t.ruled_out:
            reason = f"within noise: a drop of {eff} or more is ruled out"
        else:
            worse = f"worse by {_points(t.harm, unit)}, " if t.harm > 0 else ""
            reason = f"no significant drop ({worse}p={p_adj:.3g} after Holm; min_effect is 0)"
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
