"""Uplift statistics against published values and against the definition they shortcut."""

from __future__ import annotations

import numpy as np
import pytest

from segmint.campaigns.stats import _bootstrap_means, bootstrap_mean_difference, two_proportion, wilson


@pytest.mark.parametrize(
    ("counts", "low", "high"),
    [
        # Newcombe (1998), "Interval estimation for the difference between independent proportions",
        # Statistics in Medicine 17, Table II, method 10.
        ((56, 70, 48, 80), 0.0524, 0.3339),
        ((9, 10, 3, 10), 0.1705, 0.8090),
        ((6, 7, 2, 7), 0.0582, 0.8062),
        ((5, 56, 0, 29), -0.0381, 0.1926),
    ],
)
def test_two_proportion_interval_matches_newcombe(
    counts: tuple[int, int, int, int], low: float, high: float
) -> None:
    result = two_proportion(*counts)
    assert result.estimate == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert result.low == pytest.approx(low, abs=6e-5)
    assert result.high == pytest.approx(high, abs=6e-5)


def test_wilson_interval_published_value() -> None:
    # Newcombe (1998) Table I: 81/263 -> 0.2553 to 0.3662 (score method).
    low, high = wilson(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=6e-5)


def test_two_proportion_p_value_is_the_pooled_z_test() -> None:
    # 56/70 vs 48/80: pooled p = 104/150, z = 0.2 / sqrt(p(1-p)(1/70+1/80)) = 2.6505, two-sided p = 0.00804.
    assert two_proportion(56, 70, 48, 80).p_value == pytest.approx(0.008045, abs=1e-6)
    assert two_proportion(0, 10, 0, 20).p_value == 1.0
    assert np.isnan(two_proportion(1, 0, 1, 10).estimate)


def test_two_proportion_covers_the_true_difference() -> None:
    # 95% intervals on 2,000 simulated campaigns (treatment 15%, holdout 10%) contain the truth ~95% of the time.
    rng = np.random.default_rng(7)
    n_t, n_h = 2700, 300
    x_t = rng.binomial(n_t, 0.15, size=2000)
    x_h = rng.binomial(n_h, 0.10, size=2000)
    hits = [two_proportion(int(a), n_t, int(b), n_h) for a, b in zip(x_t, x_h, strict=True)]
    coverage = np.mean([r.low <= 0.05 <= r.high for r in hits])
    assert 0.93 <= coverage <= 0.97


def test_sparse_bootstrap_resamples_like_the_full_bootstrap() -> None:
    # Drawing only the non-zero values must give the same distribution of means as resampling everything.
    rng = np.random.default_rng(1)
    values = np.where(rng.random(3000) < 0.1, rng.gamma(2.0, 30.0, 3000), 0.0)
    sparse = _bootstrap_means(values, 4000, np.random.default_rng(2))
    full_rng = np.random.default_rng(3)
    full = np.array([values[full_rng.integers(0, values.size, values.size)].mean() for _ in range(4000)])
    assert sparse.mean() == pytest.approx(full.mean(), rel=0.01)
    assert sparse.std() == pytest.approx(full.std(), rel=0.06)
    assert np.quantile(sparse, [0.025, 0.975]) == pytest.approx(np.quantile(full, [0.025, 0.975]), rel=0.03)


def test_bootstrap_interval_and_p_value() -> None:
    treatment = np.array([0.0] * 80 + [50.0] * 20)
    holdout = np.array([0.0] * 90 + [50.0] * 10)
    result = bootstrap_mean_difference(treatment, holdout, samples=4000, seed=3)
    assert result.estimate == pytest.approx(5.0)
    assert result.low < 5.0 < result.high
    # The mean difference of two 0/50 samples has a standard error of about 50 * 0.049 = 2.5.
    assert result.high - result.low == pytest.approx(
        2 * 1.96 * 50 * np.sqrt(0.2 * 0.8 / 100 + 0.1 * 0.9 / 100), rel=0.1
    )
    assert 0.0 < result.p_value < 0.1
    same = bootstrap_mean_difference(np.zeros(10), np.zeros(5))
    assert (same.estimate, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert bootstrap_mean_difference(treatment, holdout, seed=9) == bootstrap_mean_difference(
        treatment, holdout, seed=9
    )
