"""The gate's statistics: simulated error rates and power, exact values, Holm, floors, bootstrap."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ttest_rel

from runner.gate.stats import MetricInput, compare, holm, superiority, tango_z

ALPHA = 0.05
SIMS = 1000
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / SIMS)

Model = Callable[[np.random.Generator, int], np.ndarray]
"""Draws per-item pass probabilities of a model for n items."""


def _noisy_model(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-item pass probabilities of a sampled model: most items are stable, a fifth are coin-flips-ish."""
    stable = np.where(rng.random(n) < 0.5, 0.95, 0.05)
    return np.where(rng.random(n) < 0.8, stable, rng.uniform(0.3, 0.7, n))


def _very_noisy_model(rng: np.random.Generator, n: int) -> np.ndarray:
    """Every item is a biased coin, p ~ Uniform(0.3, 0.95): about 40 % of items flip between two samples."""
    return rng.uniform(0.3, 0.95, n)


def _pass_rate(base: np.ndarray, head: np.ndarray, min_effect: float = 0.02, **kw: object) -> MetricInput:
    return MetricInput("accuracy", "pass_rate", "higher_is_better", base.tolist(), head.tolist(), min_effect, **kw)  # type: ignore[arg-type]


def _simulate(n: int, drop: float, sims: int = SIMS, seed: int = 0, model: Model = _noisy_model) -> Counter[str]:
    rng = np.random.default_rng(seed)
    verdicts: Counter[str] = Counter()
    for _ in range(sims):
        p = model(rng, n)
        base = (rng.random(n) < p).astype(float)
        head = (rng.random(n) < np.clip(p - drop, 0, 1)).astype(float)
        verdicts[compare([_pass_rate(base, head)], alpha=ALPHA).verdict] += 1
    return verdicts


@pytest.mark.parametrize("model", [_noisy_model, _very_noisy_model])
def test_a_a_comparisons_fail_at_most_alpha_of_the_time(model: Model) -> None:
    verdicts = _simulate(500, 0.0, model=model)
    assert verdicts["FAIL"] / SIMS <= ALPHA + TOLERANCE


def test_a_true_five_point_drop_at_n_500_is_caught_at_least_80_percent_of_the_time() -> None:
    verdicts = _simulate(500, 0.05)
    assert verdicts["FAIL"] / SIMS >= 0.80


def test_too_much_noise_for_the_drop_is_inconclusive_not_pass() -> None:
    # With 40 % of items flipping, a 5-point drop at n=500 is below the minimum detectable effect (about 7 points):
    # no test at level 0.05 catches it 80 % of the time, and the gate must say so rather than pass it.
    verdicts = _simulate(500, 0.05, sims=500, model=_very_noisy_model)
    assert verdicts["PASS"] / 500 <= ALPHA
    assert 0.3 <= verdicts["FAIL"] / 500 <= 0.7  # the power the data allow, about 55 %
    rng = np.random.default_rng(4)
    p = _very_noisy_model(rng, 500)
    one = compare([_pass_rate((rng.random(500) < p).astype(float), (rng.random(500) < p - 0.05).astype(float))])
    assert one.metrics[0].mde is not None and one.metrics[0].mde > 0.05


@pytest.mark.parametrize("model", [_noisy_model, _very_noisy_model])
def test_n_30_is_inconclusive_not_fail(model: Model) -> None:
    verdicts = _simulate(30, 0.0, sims=500, model=model)
    assert verdicts["FAIL"] / 500 <= ALPHA + TOLERANCE
    assert verdicts["INCONCLUSIVE"] / 500 >= 0.8
    # A 6.7-point drop on 30 items (2 flips, none back) is not evidence either way.
    base = np.ones(30)
    head = base.copy()
    head[:2] = 0
    result = compare([_pass_rate(base, head)]).metrics[0]
    assert result.verdict == "INCONCLUSIVE"
    assert (result.b, result.c, result.n) == (2, 0, 30)
    assert result.n_needed > 30
    assert "underpowered" in result.reason and "items needed" in result.reason


def test_no_flips_on_many_items_passes() -> None:
    base = np.r_[np.ones(400), np.zeros(100)]
    result = compare([_pass_rate(base, base.copy())]).metrics[0]
    assert result.verdict == "PASS"
    assert result.p_value == 1.0 and result.delta == 0.0


def test_exact_mcnemar_p_value() -> None:
    # b = 10 harmful flips, c = 2 helpful: P(X >= 10), X ~ Binomial(12, 1/2) = (66 + 12 + 1) / 4096.
    base = np.r_[np.ones(10), np.zeros(2), np.ones(88)]
    head = np.r_[np.zeros(10), np.ones(2), np.ones(88)]
    result = compare([_pass_rate(base, head)]).metrics[0]
    assert result.p_value == pytest.approx(float(Fraction(79, 4096)), rel=1e-12)
    assert (result.b, result.c) == (10, 2)
    assert result.delta == pytest.approx(-0.08)
    assert result.verdict == "FAIL"
    assert result.reason.startswith("worse by 8.0 points")


def test_holm_step_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm([0.02, 0.011]) == pytest.approx([0.022, 0.022])  # monotone: never below an earlier step
    assert holm([0.9, 0.3]) == pytest.approx([0.9, 0.6])
    assert holm([]) == []


def test_holm_is_applied_across_metrics() -> None:
    base = np.r_[np.ones(9), np.ones(491)]
    head = np.r_[np.zeros(9), np.ones(491)]  # p = 2^-9 = 0.00195 alone
    one = compare([_pass_rate(base, head, 0.01)]).metrics[0]
    two = compare([_pass_rate(base, head, 0.01), _pass_rate(base, base, 0.01)]).metrics
    assert one.p_adjusted == pytest.approx(2**-9)
    assert two[0].p_adjusted == pytest.approx(2 * 2**-9)
    assert two[1].p_adjusted == pytest.approx(1.0)


def test_a_significant_drop_below_min_effect_passes() -> None:
    base = np.ones(2000)
    head = base.copy()
    head[:20] = 0  # 1 point, p ~ 1e-6
    result = compare([_pass_rate(base, head, min_effect=0.02)]).metrics[0]
    assert result.verdict == "PASS"
    assert "below min_effect 2.0 points" in result.reason


def test_a_broken_floor_fails_whatever_the_statistics() -> None:
    base = np.r_[np.ones(6), np.zeros(4)]
    result = compare([_pass_rate(base, base.copy(), lower=0.7)]).metrics[0]
    assert result.verdict == "FAIL"
    assert result.reason == "head 0.6 is below the floor 0.7"


def test_lower_is_better_treats_a_rise_as_harm() -> None:
    base = np.r_[np.zeros(40), np.zeros(460)]
    head = np.r_[np.ones(40), np.zeros(460)]  # the error rate rises by 8 points
    down = MetricInput("errors", "pass_rate", "lower_is_better", base.tolist(), head.tolist(), 0.02)
    assert compare([down]).metrics[0].verdict == "FAIL"
    up = MetricInput("errors", "pass_rate", "lower_is_better", head.tolist(), base.tolist(), 0.02)
    assert compare([up]).metrics[0].verdict == "PASS"
    ceiling = MetricInput("errors", "mean", "lower_is_better", base.tolist(), head.tolist(), 0.02, upper=0.05)
    assert compare([ceiling]).metrics[0].reason == "head 0.08 is above the ceiling 0.05"


@pytest.mark.parametrize(("n", "model"), [(150, None), (300, None), (500, _very_noisy_model)])
def test_a_true_drop_of_min_effect_passes_at_most_alpha_of_the_time(n: int, model: Model | None) -> None:
    # The PASS side is a non-inferiority test. With few flipped items (a deterministic model where 2 % of items
    # broke) a Wald bound passed such a drop up to 15 % of the time at n=300; Tango's score test must not.
    rng = np.random.default_rng(21)
    sims = 1000
    passed = 0
    for _ in range(sims):
        if model is None:
            base = np.ones(n)
            head = np.where(rng.random(n) < 0.02, 0.0, 1.0)
        else:
            p = model(rng, n)
            base = (rng.random(n) < p).astype(float)
            head = (rng.random(n) < p - 0.02).astype(float)
        passed += compare([_pass_rate(base, head)]).verdict == "PASS"
    assert passed / sims <= ALPHA + TOLERANCE


def _tango_z_by_brute_force(harmful: int, helpful: int, n: int, margin: float) -> float:
    """Score statistic with the restricted maximum-likelihood estimate found on a fine grid."""
    p2 = np.linspace(1e-9, (1 - margin) / 2 - 1e-9, 200_001)
    with np.errstate(divide="ignore"):
        ll = (
            harmful * np.log(p2 + margin) + helpful * np.log(p2) + (n - harmful - helpful) * np.log(1 - 2 * p2 - margin)
        )
    best = float(p2[np.argmax(ll)])
    return (harmful - helpful - n * margin + 0.5) / math.sqrt(n * (2 * best + margin * (1 - margin)))


@pytest.mark.parametrize(
    ("harmful", "helpful", "n", "margin"), [(10, 2, 100, 0.02), (5, 9, 60, 0.05), (20, 20, 400, 0.03)]
)
def test_tango_score_statistic_uses_the_restricted_mle(harmful: int, helpful: int, n: int, margin: float) -> None:
    assert tango_z(harmful, helpful, n, margin) == pytest.approx(
        _tango_z_by_brute_force(harmful, helpful, n, margin), abs=1e-4
    )


def test_zero_flips_rule_out_a_drop_only_with_enough_items() -> None:
    # No flipped item leaves a drop of 2 points possible at n=100 (0.98^100 = 13 %), not at n=1000.
    assert tango_z(0, 0, 100, 0.02) > -1.645
    assert tango_z(0, 0, 1000, 0.02) < -1.645
    small = np.ones(100)
    assert compare([_pass_rate(small, small.copy())]).verdict == "INCONCLUSIVE"


def test_minimum_detectable_effect_and_items_needed() -> None:
    # 10 % of items flip, half each way, and the gate must detect 3 points.
    n = 200
    base = np.r_[np.ones(10), np.zeros(10), np.ones(180)]
    head = np.r_[np.zeros(10), np.ones(10), np.ones(180)]
    result = compare([_pass_rate(base, head, min_effect=0.03)]).metrics[0]
    assert result.verdict == "INCONCLUSIVE"
    assert 650 <= result.n_needed <= 720  # one-sided alpha 0.05, power 0.8: 6.18 * 0.10 / 0.03^2 = 687
    assert result.mde == pytest.approx(2.486 * math.sqrt(0.10 / n), rel=1e-3)
    # Twice the items with the same flip rate rule a 3-point drop out: the one-sided upper bound falls below it.
    assert compare([_pass_rate(np.r_[base, base], np.r_[head, head], min_effect=0.03)]).verdict == "PASS"


def test_items_needed_with_two_gated_metrics_match_the_reference_figure() -> None:
    # Two gated metrics test at alpha / 2 = 0.025 one-sided (Holm's first step): (1.96 + 0.84)^2 = 7.85, and
    # 7.85 * 0.10 / 0.03^2 = 872, the "about 870 items" of the reference.
    base = np.r_[np.ones(10), np.zeros(10), np.ones(180)]
    head = np.r_[np.zeros(10), np.ones(10), np.ones(180)]
    two = compare([_pass_rate(base, head, min_effect=0.03), _pass_rate(base, base.copy(), min_effect=0.03)])
    assert 850 <= two.metrics[0].n_needed <= 900
    assert "about 873 items needed" in two.metrics[0].reason and "n=200" in two.metrics[0].reason


def test_min_effect_zero_is_a_plain_significance_test() -> None:
    base = np.r_[np.ones(3), np.zeros(3), np.ones(24)]
    head = np.r_[np.zeros(3), np.ones(3), np.ones(24)]
    same = compare([_pass_rate(base, head, min_effect=0.0)]).metrics[0]
    assert same.verdict == "PASS" and same.n_needed == 0
    assert same.reason.startswith("no significant drop")
    worse = np.r_[np.zeros(12), np.ones(488)]
    assert compare([_pass_rate(np.ones(500), worse, min_effect=0.0)]).verdict == "FAIL"


def test_superiority_is_the_exact_mcnemar_p_of_improvement() -> None:
    # c = 10 helpful flips, b = 2 harmful: P(X >= 10), X ~ Binomial(12, 1/2), as for a drop the other way round.
    base = np.r_[np.zeros(10), np.ones(2), np.ones(88)]
    head = np.r_[np.ones(10), np.zeros(2), np.ones(88)]
    [p] = superiority([_pass_rate(base, head)])
    assert p == pytest.approx(float(Fraction(79, 4096)), rel=1e-12)
    [p_worse] = superiority([_pass_rate(head, base)])
    assert p_worse == pytest.approx(float(Fraction(4096 - 1 - 12, 4096)), rel=1e-12)  # P(X >= 2): 2 helpful flips


def test_superiority_ignores_floors_and_margins_and_respects_direction() -> None:
    base = np.r_[np.zeros(9), np.ones(491)]
    head = np.ones(500)
    [p] = superiority([_pass_rate(base, head, min_effect=0.2, lower=0.999)])  # floor broken by both: irrelevant
    assert p == pytest.approx(2**-9)
    latency_base = np.full(40, 2.0) + np.linspace(0, 0.1, 40)
    faster = MetricInput(
        "latency", "mean", "lower_is_better", latency_base.tolist(), (latency_base - 0.5).tolist(), 0.1
    )
    slower = MetricInput(
        "latency", "mean", "lower_is_better", latency_base.tolist(), (latency_base + 0.5).tolist(), 0.1
    )
    assert superiority([faster])[0] < 0.01
    assert superiority([slower])[0] > 0.99


def test_superiority_is_holm_adjusted_across_metrics() -> None:
    base = np.r_[np.zeros(9), np.ones(491)]
    head = np.ones(500)
    assert superiority([_pass_rate(base, head), _pass_rate(head, head)]) == pytest.approx([2 * 2**-9, 1.0])


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError, match="3 base scores but 2 head scores"):
        compare([_pass_rate(np.ones(3), np.ones(2))])
    with pytest.raises(ValueError, match="2 cluster ids for 3 paired items"):
        compare([_pass_rate(np.ones(3), np.ones(3), clusters=["a", "b"])])


def _scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    quality = rng.uniform(0.2, 0.9, n)
    return np.clip(quality + rng.normal(0, 0.1, n), 0, 1), np.clip(quality + rng.normal(0, 0.1, n), 0, 1)


def _mean(base: np.ndarray, head: np.ndarray, **kw: object) -> MetricInput:
    return MetricInput("judge", "mean", "higher_is_better", base.tolist(), head.tolist(), 0.02, **kw)  # type: ignore[arg-type]


def test_paired_bootstrap_is_deterministic_for_a_seed() -> None:
    base, head = _scores(np.random.default_rng(3), 300)
    first = compare([_mean(base, head)], seed=7)
    assert compare([_mean(base, head)], seed=7) == first
    assert compare([_mean(base, head)], seed=8).metrics[0].ci_low != first.metrics[0].ci_low
    assert first.metrics[0].test == "paired-bootstrap"


def test_paired_bootstrap_detects_a_drop_and_rarely_fails_a_a() -> None:
    rng = np.random.default_rng(11)
    sims = 200
    false_fails = 0
    for _ in range(sims):
        base, head = _scores(rng, 300)
        false_fails += compare([_mean(base, head)], bootstrap_samples=500).verdict == "FAIL"
    assert false_fails / sims <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / sims)
    base, head = _scores(rng, 300)
    result = compare([_mean(base, head - 0.05)]).metrics[0]
    assert result.verdict == "FAIL"
    assert result.ci_high < 0


def test_cluster_bootstrap_is_wider_when_items_share_a_context() -> None:
    rng = np.random.default_rng(5)
    effect = np.repeat(rng.normal(0, 0.2, 20), 10)  # 20 contexts of 10 items that move together
    base = np.full(200, 0.5)
    head = base + effect
    clusters = [str(i // 10) for i in range(200)]
    items = compare([_mean(base, head)]).metrics[0]
    grouped = compare([_mean(base, head, clusters=clusters)]).metrics[0]
    assert grouped.test == "cluster-bootstrap"
    assert grouped.ci_high - grouped.ci_low > 2 * (items.ci_high - items.ci_low)


def test_too_few_items_for_a_bootstrap_is_inconclusive() -> None:
    result = compare([_mean(np.ones(5), np.zeros(5))]).metrics[0]
    assert result.verdict == "INCONCLUSIVE" and result.mde is None


def test_too_few_clusters_for_a_bootstrap_is_inconclusive() -> None:
    # 300 items but only 3 contexts: three resampling units cannot support a verdict, however large the drop.
    clusters = [str(i % 3) for i in range(300)]
    result = compare([_mean(np.ones(300), np.zeros(300), clusters=clusters)]).metrics[0]
    assert result.verdict == "INCONCLUSIVE" and result.p_value == 1.0 and result.mde is None


@pytest.mark.parametrize("seed", range(4))
def test_small_sample_bootstrap_p_value_is_close_to_a_paired_t_test(seed: int) -> None:
    # A plain percentile bootstrap is too narrow at n=12 (about 6.4 % false FAILs in A/A); the widened one tracks
    # the paired t-test near the decision threshold.
    rng = np.random.default_rng(100 + seed)
    base = rng.normal(0.6, 0.1, 12)
    head = base + rng.normal(-0.02, 0.05, 12)
    t_p = float(ttest_rel(head, base, alternative="less").pvalue)
    result = compare([_mean(base, head)], bootstrap_samples=20_000, seed=1).metrics[0]
    assert result.p_value == pytest.approx(t_p, abs=0.25 * t_p + 0.005)


def test_no_items_is_inconclusive() -> None:
    comparison = compare([MetricInput("x", "pass_rate", "higher_is_better", [], [], 0.02)])
    assert comparison.verdict == "INCONCLUSIVE"
    assert comparison.metrics[0].reason == "no paired items"


def test_overall_verdict_is_the_worst() -> None:
    base = np.ones(500)
    bad = base.copy()
    bad[:50] = 0
    small = np.ones(20)
    result = compare([_pass_rate(base, base), _pass_rate(small, small)])
    assert result.verdict == "INCONCLUSIVE"
    assert compare([_pass_rate(base, base), _pass_rate(base, bad)]).verdict == "FAIL"


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=5, max_value=400),
    harmful=st.integers(min_value=0, max_value=40),
    helpful=st.integers(min_value=0, max_value=40),
    min_effect=st.sampled_from([0.01, 0.02, 0.05, 0.1]),
)
def test_the_pass_rate_interval_agrees_with_the_verdict(n: int, harmful: int, helpful: int, min_effect: float) -> None:
    harmful, helpful = min(harmful, n), min(helpful, n - min(harmful, n))
    base = [1.0] * harmful + [0.0] * helpful + [1.0] * (n - harmful - helpful)
    head = [0.0] * harmful + [1.0] * helpful + [1.0] * (n - harmful - helpful)
    m = compare([MetricInput("acc", "pass_rate", "higher_is_better", base, head, min_effect)]).metrics[0]
    assert m.ci_low <= m.delta <= m.ci_high
    if m.verdict == "PASS":
        assert m.ci_low > -min_effect  # the drop it rules out lies beyond the interval
    if m.verdict == "INCONCLUSIVE":
        assert m.ci_low <= -min_effect  # "a drop of min_effect cannot be ruled out": the interval reaches it
