"""Uplift statistics: two-proportion interval and test for conversion, bootstrap interval for revenue."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm, ttest_ind

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """A difference (treatment minus holdout) with its confidence interval and p-value."""

    estimate: float
    low: float
    high: float
    p_value: float


def wilson(conversions: int, n: int, *, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of one proportion."""
    z = float(norm.ppf(0.5 + level / 2))
    p = conversions / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def two_proportion(
    conversions_t: int, n_t: int, conversions_h: int, n_h: int, *, level: float = 0.95
) -> Interval:
    """Difference of two conversion rates: Newcombe's hybrid score interval and a pooled two-sided z-test.

    Newcombe (1998, method 10) combines the two Wilson intervals. Unlike the textbook Wald interval it keeps
    its 95% coverage when a group is small or converts (almost) never, e.g. a holdout of 4 customers with no
    order, where the Wald interval collapses to a width of zero on that side.
    """
    if n_t <= 0 or n_h <= 0:
        return Interval(math.nan, math.nan, math.nan, math.nan)
    p_t, p_h = conversions_t / n_t, conversions_h / n_h
    diff = p_t - p_h
    low_t, high_t = wilson(conversions_t, n_t, level=level)
    low_h, high_h = wilson(conversions_h, n_h, level=level)
    low = diff - math.sqrt((p_t - low_t) ** 2 + (high_h - p_h) ** 2)
    high = diff + math.sqrt((high_t - p_t) ** 2 + (p_h - low_h) ** 2)
    pooled = (conversions_t + conversions_h) / (n_t + n_h)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_h))
    # Both groups all-converted or none-converted: no evidence of any difference.
    p_value = 1.0 if se0 == 0 else float(2 * norm.sf(abs(diff) / se0))
    return Interval(diff, low, high, p_value)


def _bootstrap_means(values: FloatArray, samples: int, rng: np.random.Generator) -> FloatArray:
    """Means of `samples` bootstrap resamples of `values`, drawing only the non-zero values.

    Most customers spend nothing in a campaign window, so a resample is a Binomial(n, k/n) count of draws
    from the k non-zero values: the same distribution as resampling all n, at O(samples x k) cost.
    """
    n = values.size
    nonzero = values[values != 0]
    if n == 0:
        return np.full(samples, math.nan)
    if nonzero.size == 0:
        return np.zeros(samples)
    counts = rng.binomial(n, nonzero.size / n, size=samples)
    totals = np.empty(samples)
    for i, k in enumerate(counts):
        totals[i] = nonzero[rng.integers(0, nonzero.size, size=k)].sum()
    return totals / n


def bootstrap_mean_difference(
    treatment: FloatArray,
    holdout: FloatArray,
    *,
    samples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Difference of means (treatment minus holdout): percentile bootstrap interval and Welch t-test p-value."""
    if treatment.size == 0 or holdout.size == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    diffs = _bootstrap_means(treatment, samples, rng) - _bootstrap_means(holdout, samples, rng)
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    estimate = float(treatment.mean() - holdout.mean())
    if treatment.size < 2 or holdout.size < 2 or (np.ptp(treatment) == 0 and np.ptp(holdout) == 0):
        p_value = 1.0 if estimate == 0 else math.nan
    else:
        p_value = float(ttest_ind(treatment, holdout, equal_var=False).pvalue)
    return Interval(estimate, float(low), float(high), p_value)
