"""Customer lifetime value: BG/NBD purchase model and Gamma-Gamma spend model.

Time is measured in weeks throughout (``period_days=7``), matching Fader,
Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
the Pareto/NBD model", Marketing Science 24(2), and Fader & Hardie (2013),
"The Gamma-Gamma model of monetary value".

Per customer the models use the RFM summary produced by :func:`rfm_summary`:

* ``frequency`` (x): number of repeat purchase days (distinct purchase days
  minus one);
* ``recency`` (t_x): time from the first to the last purchase;
* ``T``: time from the first purchase to the end of the calibration period;
* ``monetary_value`` (m_x): mean value of the repeat purchase days.

Parameters are fitted by maximum likelihood over log-parameters (so they stay
positive without constraints) with analytic gradients, so that a
million-customer summary fits in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.linalg import eigh_tridiagonal
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1, logsumexp

FloatArray = npt.NDArray[np.float64]

#: Weeks in an average Gregorian month (365.25 / 12 days). ``lifetimes`` uses
#: the rounded 4.345; 52/12 = 4.333 would silently drop 1.25 days a year.
WEEKS_PER_MONTH: Final[float] = 365.25 / 12.0 / 7.0

# Log-parameters are boxed so that a degenerate data set cannot push exp()
# into overflow; e**±20 is far outside any meaningful parameter value.
_LOG_BOUND: Final[float] = 20.0

# Where the closed form of E[X(t)] is trusted (see _purchases_if_alive):
# away from its removable singularity at a = 1, where it loses
# eps/|a-1| to cancellation, and below this a+b+x; within 1e-9 of the
# bounds [h(1), h(0)] the true value must lie in. Checked on a grid of
# a, b in [1e-6, 4e8], x <= 5000, r, α in [2e-9, 4e8], T <= 40, t <= 52:
# inside the region the closed form agrees with the quadrature to 5e-9.
_CLOSED_FORM_MIN_DISTANCE_FROM_ONE: Final[float] = 1e-4
_CLOSED_FORM_MAX_SHAPE: Final[float] = 1e4
_CLOSED_FORM_BOUND_SLACK: Final[float] = 1e-9
# Gauss-Beta nodes: on the same grid restricted to what daily data can
# give (x <= 7T) and α >= 0.2 weeks, 64 nodes agree with 192 to 1e-8
# wherever the closed form is not trusted. With α + T far below t (mean
# rates of hundreds a week) h varies faster near p = 0 than 64 nodes
# resolve: the value is then off by up to tens of percent, yet still finite
# and inside its bounds. Rows are scored in chunks to bound memory.
_QUADRATURE_NODES: Final[int] = 64
_QUADRATURE_CHUNK: Final[int] = 1 << 15


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD (or MBG/NBD) parameters (rate in purchases per week)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    # "bgnbd" (FHL 2005) or "mbgnbd" (Batislam et al. 2007: a customer may also drop out right after
    # the first purchase, so a lapsed one-time buyer is not certainly alive).
    model: str = "bgnbd"


@dataclass(frozen=True)
class ParetoNBDParams:
    """Fitted Pareto/NBD parameters (Schmittlein, Morrison & Colombo 1987): rate r, alpha; dropout s, beta."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: int
    model: str = "pareto_nbd"


PurchaseParams = BGNBDParams | ParetoNBDParams


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma spend parameters."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int


# --------------------------------------------------------------------------
# RFM summary
# --------------------------------------------------------------------------


def rfm_summary(
    transactions: pl.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    value_col: str,
    calibration_end: date,
    period_days: float = 7.0,
) -> pl.DataFrame:
    """Summarise transactions up to ``calibration_end`` into per-customer RFM.

    Definitions (they reproduce the CDNOW data of Fader, Hardie & Lee 2005):

    * purchases on the same day are summed into one purchase, so
      ``frequency`` is the number of distinct purchase days minus one (as
      ``lifetimes`` does with ``freq='D'``);
    * transactions dated after ``calibration_end`` are ignored; those on
      ``calibration_end`` are included;
    * ``recency = (last_day - first_day) / period_days``;
    * ``T = (calibration_end - first_day) / period_days``, i.e. measured to the
      *start* of ``calibration_end``. For CDNOW with ``calibration_end =
      1997-09-30`` a customer first seen on 1997-01-01 gets T = 272/7 = 38.86
      weeks, exactly the published summary; a customer whose first purchase
      is on ``calibration_end`` gets T = 0 (the models handle that: such a
      customer is scored with the population prior);
    * ``monetary_value`` is the mean value of the repeat purchase days (the
      first day excluded, because its spend is driven by acquisition, not
      by the repeat behaviour being modelled), 0 when there is no repeat.
    """
    if period_days <= 0:
        raise ValueError(f"period_days must be positive, got {period_days}")
    missing = {customer_col, date_col, value_col} - set(transactions.columns)
    if missing:
        raise ValueError(f"transactions lack column(s): {sorted(missing)}")
    dtype = transactions.schema[date_col]
    if not (dtype == pl.Date or isinstance(dtype, pl.Datetime)):
        raise ValueError(f"column {date_col!r} must be Date or Datetime, got {dtype}")
    frame = transactions.select(
        pl.col(customer_col).alias("customer_id"),
        # Day granularity: a Datetime is truncated to its calendar day.
        pl.col(date_col).cast(pl.Date).alias("day"),
        pl.col(value_col).cast(pl.Float64).alias("value"),
    )
    if frame.null_count().sum_horizontal().item() > 0:
        raise ValueError("transactions contain nulls in customer, date or value columns")
    frame = frame.filter(pl.col("day") <= calibration_end)
    if frame.height == 0:
        raise ValueError(f"no transactions on or before calibration_end={calibration_end}")

    daily = frame.group_by("customer_id", "day").agg(pl.col("value").sum())
    end = pl.lit(calibration_end, dtype=pl.Date)
    summary = (
        daily.group_by("customer_id")
        .agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
            # Repeat spend = everything except the first day's basket.
            (pl.col("value").sum() - pl.col("value").sort_by("day").first()).alias("repeat_value"),
        )
        .select(
            "customer_id",
            "frequency",
            ((pl.col("last_day") - pl.col("first_day")).dt.total_days() / period_days).alias("recency"),
            ((end - pl.col("first_day")).dt.total_days() / period_days).alias("T"),
            pl.when(pl.col("frequency") > 0)
            .then(pl.col("repeat_value") / pl.col("frequency"))
            .otherwise(0.0)
            .alias("monetary_value"),
        )
        .sort("customer_id")
    )
    return summary


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


def _as_float(name: str, values: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one customer")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_rfm(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = _as_float("frequency", frequency)
    t_x = _as_float("recency", recency)
    t_cal = _as_float("T", T)
    try:
        x, t_x, t_cal = np.broadcast_arrays(x, t_x, t_cal)
    except ValueError as exc:
        raise ValueError(
            f"frequency, recency and T have incompatible shapes {x.shape}, {t_x.shape}, {t_cal.shape}"
        ) from exc
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must contain non-negative integers")
    if np.any(t_x < 0):
        raise ValueError("recency must be non-negative")
    # A tiny tolerance absorbs float rounding when recency and T come from
    # different unit conversions of the same day count.
    if np.any(t_x > t_cal + 1e-9):
        raise ValueError("recency must not exceed T (last purchase after calibration end?)")
    return x, t_x, t_cal


def _count_values(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    # Terms that depend on the frequency alone are evaluated once per distinct
    # frequency and weighted by its count: frequencies have few distinct values.
    values, counts = np.unique(x, return_counts=True)
    return values, counts.astype(np.float64)


def _minimise(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], x0: FloatArray, what: str
) -> FloatArray:
    result = minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * x0.size,
        options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9},
    )
    solution = np.asarray(result.x, dtype=np.float64)
    if not np.all(np.isfinite(solution)) or not np.isfinite(result.fun):
        raise ValueError(f"{what} fit failed: {result.message}")
    return solution


# --------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------


def _bgnbd_neg_ll(
    log_params: FloatArray,
    x_values: FloatArray,
    x_counts: FloatArray,
    t_zero: FloatArray,
    x_rep: FloatArray,
    tx_rep: FloatArray,
    t_rep: FloatArray,
) -> tuple[float, FloatArray]:
    """Mean negative BG/NBD log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    n = float(x_counts.sum())

    # Frequency-only terms (FHL 2005 eq. 6):
    # ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x) - ln B(a, b).
    ll = x_counts @ (
        gammaln(r + x_values)
        - gammaln(r)
        + gammaln(a + b)
        + gammaln(b + x_values)
        - gammaln(b)
        - gammaln(a + b + x_values)
    ) + n * r * np.log(alpha)
    d_r = x_counts @ (digamma(r + x_values) - digamma(r)) + n * np.log(alpha)
    d_alpha = n * r / alpha
    d_a = x_counts @ (digamma(a + b) - digamma(a + b + x_values))
    d_b = x_counts @ (digamma(a + b) + digamma(b + x_values) - digamma(b) - digamma(a + b + x_values))

    # Customers without repeat purchases: only the "still alive" term
    # -(r+x) ln(α+T) with x = 0.
    ll += -r * np.log(alpha + t_zero).sum()
    d_r += -np.log(alpha + t_zero).sum()
    d_alpha += -r * (1.0 / (alpha + t_zero)).sum()

    # Repeat buyers: alive-at-T term plus died-after-t_x term, combined by
    # log-sum-exp because each is a product of very small numbers.
    rx = r + x_rep
    log_at = np.log(alpha + t_rep)
    log_atx = np.log(alpha + tx_rep)
    alive = -rx * log_at
    dead = np.log(a) - np.log(b + x_rep - 1.0) - rx * log_atx
    mix = np.logaddexp(alive, dead)
    w = np.exp(dead - mix)  # posterior weight of the "died" branch
    ll += mix.sum()
    d_r += -((1.0 - w) * log_at + w * log_atx).sum()
    d_alpha += -(rx * ((1.0 - w) / (alpha + t_rep) + w / (alpha + tx_rep))).sum()
    d_a += w.sum() / a
    d_b += -(w / (b + x_rep - 1.0)).sum()

    # Chain rule for log-parameters; mean (not sum) keeps the optimiser's
    # gradient tolerance meaningful whatever the number of customers.
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return float(-ll / n), -grad / n


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
) -> BGNBDParams:
    """Fit the BG/NBD model (FHL 2005) by maximum likelihood."""
    x, t_x, t_cal = (arr.ravel() for arr in _check_rfm(frequency, recency, T))
    if not np.any(x > 0):
        raise ValueError("no customer has a repeat purchase: BG/NBD parameters are not identifiable")
    rep = x > 0
    x_values, x_counts = _count_values(x)
    args = (x_values, x_counts, t_cal[~rep], x[rep], t_x[rep], t_cal[rep])

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        return _bgnbd_neg_ll(theta, *args)

    # Start at r = a = b = 1 and α = mean T, i.e. about one purchase per
    # observation window: the right order of magnitude for any time unit.
    x0 = np.array([0.0, np.log(max(float(t_cal.mean()), 1e-3)), 0.0, 0.0])
    theta = _minimise(objective, x0, "BG/NBD")
    neg_ll, _ = objective(theta)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BGNBDParams(r=r, alpha=alpha, a=a, b=b, log_likelihood=-neg_ll * x.size, n_customers=int(x.size))


def _mbgnbd_neg_ll(
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, t_cal: FloatArray
) -> tuple[float, FloatArray]:
    """Mean negative MBG/NBD log-likelihood (Batislam et al. 2007) and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    n = float(x.size)
    rx = r + x
    log_at = np.log(alpha + t_cal)
    log_atx = np.log(alpha + t_x)
    alive = -rx * log_at
    dead = np.log(a) - np.log(b + x) - rx * log_atx
    mix = np.logaddexp(alive, dead)
    w = np.exp(dead - mix)
    ll = (
        gammaln(rx)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + x + 1.0)
        - gammaln(b)
        - gammaln(a + b + x + 1.0)
        + mix
    ).sum()
    d_r = (digamma(rx) - digamma(r) + np.log(alpha) - ((1.0 - w) * log_at + w * log_atx)).sum()
    d_alpha = (r / alpha - rx * ((1.0 - w) / (alpha + t_cal) + w / (alpha + t_x))).sum()
    d_a = (digamma(a + b) - digamma(a + b + x + 1.0) + w / a).sum()
    d_b = (digamma(a + b) + digamma(b + x + 1.0) - digamma(b) - digamma(a + b + x + 1.0) - w / (b + x)).sum()
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return float(-ll / n), -grad / n


def fit_mbgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
) -> BGNBDParams:
    """Fit the MBG/NBD model (Batislam, Denizel & Filiztekin 2007) by maximum likelihood."""
    x, t_x, t_cal = (arr.ravel() for arr in _check_rfm(frequency, recency, T))

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        return _mbgnbd_neg_ll(theta, x, t_x, t_cal)

    x0 = np.array([0.0, np.log(max(float(t_cal.mean()), 1e-3)), 0.0, 0.0])
    theta = _minimise(objective, x0, "MBG/NBD")
    neg_ll, _ = objective(theta)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BGNBDParams(
        r=r, alpha=alpha, a=a, b=b, log_likelihood=-neg_ll * x.size, n_customers=int(x.size), model="mbgnbd"
    )


def purchase_model_problem(params: BGNBDParams) -> str | None:
    """Why a fitted purchase model is degenerate (a parameter at its bound, nobody ever dropping out), or None."""
    low, high = np.exp(-_LOG_BOUND + 0.5), np.exp(_LOG_BOUND - 0.5)
    for name in ("r", "alpha"):
        value = getattr(params, name)
        if not low < value < high:
            return f"the purchase-rate parameter {name} ran to its bound ({value:.3g})"
    if params.a <= low or params.b <= low:
        name = "a" if params.a <= low else "b"
        return f"the dropout parameter {name} ran to its bound ({getattr(params, name):.3g})"
    # A Beta(a, b) squeezed onto a point (a, b both huge) is a legitimate fit; a mean dropout chance
    # this small is not: every customer, however long gone, would be alive.
    if params.a / (params.a + params.b) < 1e-3:
        return (
            f"the dropout parameter a ran towards 0 ({params.a:.3g}, b = {params.b:.3g}): "
            "nobody would ever stop buying"
        )
    return None


def spend_model_problem(params: GammaGammaParams, monetary_value: npt.ArrayLike) -> str | None:
    """Why a fitted Gamma-Gamma is unusable (no finite mean, a mean far from the observed spend), or None."""
    if params.q <= 1.0:
        return f"the spend distribution has no finite mean (q = {params.q:.3g} <= 1)"
    m = np.asarray(monetary_value, dtype=np.float64)
    m = m[m > 0]
    mean = params.p * params.gamma / (params.q - 1.0)
    if m.size and not (np.min(m) <= mean <= np.max(m)):
        return (
            f"the model's mean spend {mean:,.2f} lies outside the observed {np.min(m):,.2f}..{np.max(m):,.2f}"
        )
    return None


def fit_gamma_gamma_trimmed(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike, *, quantile: float = 0.99
) -> GammaGammaParams:
    """Gamma-Gamma on spend capped at its `quantile`: a few huge baskets no longer make the mean infinite."""
    x = _as_float("frequency", frequency).ravel()
    m = _as_float("monetary_value", monetary_value).ravel()
    positive = m[(x > 0) & (m > 0)]
    if positive.size == 0:
        return fit_gamma_gamma(x, m)
    cap = float(np.quantile(positive, quantile))
    return fit_gamma_gamma(x, np.minimum(m, cap))


def _log_alive_odds(params: BGNBDParams, x: FloatArray, t_x: FloatArray, t_cal: FloatArray) -> FloatArray:
    # ln[(a / (b+x-1)) ((α+T)/(α+t_x))^(r+x)]: odds of having died after the
    # last purchase versus being alive; -inf (certainly alive) when x = 0.
    if params.model == "mbgnbd":
        # MBG/NBD: a coin is also tossed at the first purchase, so every customer can have died.
        return np.asarray(
            np.log(params.a)
            - np.log(params.b + x)
            + (params.r + x) * (np.log(params.alpha + t_cal) - np.log(params.alpha + t_x)),
            dtype=np.float64,
        )
    rep = x > 0
    b_x = np.where(rep, params.b + x - 1.0, 1.0)
    odds = (
        np.log(params.a)
        - np.log(b_x)
        + (params.r + x) * (np.log(params.alpha + t_cal) - np.log(params.alpha + t_x))
    )
    return np.where(rep, odds, -np.inf)


def probability_alive(
    params: PurchaseParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
) -> FloatArray:
    """Probability that each customer is still active at T (BG/NBD: 1 when frequency is 0)."""
    x, t_x, t_cal = _check_rfm(frequency, recency, T)
    if isinstance(params, ParetoNBDParams):
        return _pareto_alive(params, x, t_x, t_cal)
    # BG/NBD customers can only die right after a purchase, so a customer
    # with no repeat purchase is alive with probability one.
    return np.asarray(expit(-_log_alive_odds(params, x, t_x, t_cal)), dtype=np.float64)


def _beta_gauss_rule(a: float, b: float) -> tuple[FloatArray, FloatArray]:
    """Gauss nodes and weights on [0, 1] for the Beta(a, b) distribution.

    Golub-Welsch: the nodes are the eigenvalues of the Jacobi matrix of the
    monic Jacobi polynomials (orthogonal under p^(a-1) (1-p)^(b-1)), the
    weights the squared first components of its eigenvectors. The recurrence
    coefficients are ratios of terms linear in a and b, so unlike gamma
    functions or hypergeometric series they stay accurate for any a, b in
    the fitted box, including a Beta squeezed onto a point by a, b ~ 1e8.
    """
    n, total = _QUADRATURE_NODES, a + b
    k = np.arange(1.0, n)
    diag = np.empty(n)
    diag[0] = a / total  # the mean
    diag[1:] = 0.5 + 0.5 * (a - b) * (total - 2.0) / ((2.0 * k + total - 2.0) * (2.0 * k + total))
    off = np.empty(n - 1)
    # First term written out: the general one is 0/0 when a + b = 1.
    off[0] = a * b / (total * total * (total + 1.0))  # the variance
    j = k[1:]
    off[1:] = (
        j
        * (j + a - 1.0)
        * (j + b - 1.0)
        * (j + total - 2.0)
        / ((2.0 * j + total - 2.0) ** 2 * (2.0 * j + total - 1.0) * (2.0 * j + total - 3.0))
    )
    nodes, vectors = eigh_tridiagonal(diag, np.sqrt(off))
    return np.clip(nodes, 0.0, 1.0), np.asarray(vectors[0] ** 2, dtype=np.float64)


def _purchases_by_quadrature(params: BGNBDParams, x: FloatArray, s: FloatArray) -> FloatArray:
    # E over p ~ Beta(a, b+x) of h(p) = (1 - (1+ps)^-(r+x)) / p, grouped by
    # frequency because the Beta, hence the rule, depends on x only.
    out = np.empty_like(s)
    for value in np.unique(x):
        rows = np.flatnonzero(x == value)
        nodes, weights = _beta_gauss_rule(params.a, params.b + value)
        rx = params.r + value
        for start in range(0, rows.size, _QUADRATURE_CHUNK):
            idx = rows[start : start + _QUADRATURE_CHUNK]
            ps = np.multiply.outer(s[idx], nodes)
            # h(0) is the limit r's; expm1/log1p keep h accurate when ps is tiny.
            h = np.multiply.outer(rx * s[idx], np.ones_like(nodes))
            np.divide(-np.expm1(-rx * np.log1p(ps)), nodes, out=h, where=nodes > 0.0)
            out[idx] = h @ weights
    return out


def _purchases_if_alive(params: BGNBDParams, t: FloatArray, x: FloatArray, t_cal: FloatArray) -> FloatArray:
    """E[purchases in (T, T+t]] for a customer still alive at T (flat arrays)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    # Alive at T, the customer's rate and dropout probability have the
    # posteriors λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x); given them the
    # count has mean (1 - e^(-λpt))/p (FHL 2005 eq. 7). Integrating λ out
    # leaves E_p[h(p)], h(p) = (1 - (1+ps)^-(r+x))/p with s = t/(α+T):
    # h is bounded and decreasing, so the answer lies in [h(1), h(0)].
    s = t / (alpha + t_cal)
    rx = r + x
    upper = rx * s
    lower = -np.expm1(-rx * np.log1p(s))
    # Integrating p out too gives FHL eq. 10. Euler's transformation
    # 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z) turns its
    # ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) into
    # (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), without the huge power and
    # huge hypergeometric of heavy buyers over long horizons. It is exact but
    # 0/0 at a = 1 (and at a+b+x = 1); scipy's hyp2f1 returns inf or NaN for
    # some moderate inputs, and inf, NaN or plain wrong values once a+b+x
    # passes ~1e4 -- where a fit lands when every customer drops out with
    # the same probability, since Beta(a, b) tends to a point mass as a, b
    # grow with a/(a+b) fixed. The closed form is kept where it was checked
    # against the quadrature and its value lies within the bounds; Gauss
    # quadrature over p, always finite, does the rest.
    result = np.full(s.shape, np.nan)
    trusted = (abs(a - 1.0) >= _CLOSED_FORM_MIN_DISTANCE_FROM_ONE) & (a + b + x <= _CLOSED_FORM_MAX_SHAPE)
    if np.any(trusted):
        z = t[trusted] / (alpha + t_cal[trusted] + t[trusted])
        c = a + b + x[trusted] - 1.0
        with np.errstate(all="ignore"):  # failures are caught just below
            hyp = np.power(1.0 - z, a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
            result[trusted] = c / (a - 1.0) * (1.0 - hyp)
    slack = _CLOSED_FORM_BOUND_SLACK
    plausible = (result >= lower * (1.0 - slack)) & (result <= upper * (1.0 + slack))  # False for NaN
    todo = np.flatnonzero(~plausible)
    if todo.size:
        result[todo] = _purchases_by_quadrature(params, x[todo], s[todo])
    return result


def expected_purchases(
    params: PurchaseParams,
    t: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
) -> FloatArray:
    """Expected number of purchases in the next ``t`` weeks (FHL 2005 eq. 10)."""
    x, t_x, t_cal = _check_rfm(frequency, recency, T)
    horizon = _as_float("t", t)
    if np.any(horizon < 0):
        raise ValueError("t must be non-negative")
    horizon, x, t_x, t_cal = np.broadcast_arrays(horizon, x, t_x, t_cal)
    if isinstance(params, ParetoNBDParams):
        return _pareto_expected(params, horizon, x, t_x, t_cal)
    # Alive at T, an MBG/NBD customer has survived x + 1 dropout coins (BG/NBD: x), so its dropout
    # posterior is Beta(a, b + 1 + x): the BG/NBD formula with b + 1.
    alive_params = replace(params, b=params.b + 1.0) if params.model == "mbgnbd" else params
    if_alive = _purchases_if_alive(alive_params, horizon.ravel(), x.ravel(), t_cal.ravel()).reshape(x.shape)
    # P(alive) as in probability_alive: expit never overflows, unlike 1/(1+e^odds).
    p_alive = expit(-_log_alive_odds(params, x, t_x, t_cal))
    return np.asarray(if_alive * p_alive, dtype=np.float64)


# --------------------------------------------------------------------------
# Pareto/NBD: the fallback when BG/NBD and MBG/NBD see no dropout (dropout in continuous time)
# --------------------------------------------------------------------------


def _pareto_log_a0(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, t_cal: FloatArray
) -> FloatArray:
    # Fader & Hardie's note on the Pareto/NBD (2005), eq. A0, written as a log-difference; the
    # hypergeometric's argument is kept below 1 by expanding around the larger of alpha and beta.
    if alpha < beta:
        high, low, second = beta, alpha, r + x
    else:
        high, low, second = alpha, beta, np.full_like(x, s + 1.0)
    rsx = r + s + x
    with np.errstate(all="ignore"):
        p1 = hyp2f1(rsx, second, rsx + 1.0, (high - low) / (high + t_x))
        p2 = hyp2f1(rsx, second, rsx + 1.0, (high - low) / (high + t_cal))
        q1, q2 = high + t_x, high + t_cal
        value = logsumexp(
            [np.log(p1) + rsx * np.log(q2), np.log(p2) + rsx * np.log(q1)],
            axis=0,
            b=[np.ones_like(x), -np.ones_like(x)],
        ) - rsx * np.log(q1 * q2)
    return np.asarray(value, dtype=np.float64)


def _pareto_log_alive_odds(
    params: ParetoNBDParams, x: FloatArray, t_x: FloatArray, t_cal: FloatArray
) -> FloatArray:
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    log_a0 = _pareto_log_a0(r, alpha, s, beta, x, t_x, t_cal)
    return np.asarray(
        np.log(s / (r + s + x)) + (r + x) * np.log(alpha + t_cal) + s * np.log(beta + t_cal) + log_a0,
        dtype=np.float64,
    )


def _pareto_alive(params: ParetoNBDParams, x: FloatArray, t_x: FloatArray, t_cal: FloatArray) -> FloatArray:
    shape = np.broadcast_shapes(x.shape, t_x.shape, t_cal.shape)
    x, t_x, t_cal = (np.broadcast_to(v, shape).ravel() for v in (x, t_x, t_cal))
    odds = _pareto_log_alive_odds(params, x, t_x, t_cal)
    return np.asarray(expit(-odds), dtype=np.float64).reshape(shape)


def _pareto_expected(
    params: ParetoNBDParams, t: FloatArray, x: FloatArray, t_x: FloatArray, t_cal: FloatArray
) -> FloatArray:
    shape = x.shape
    t, x, t_x, t_cal = (np.asarray(v, dtype=np.float64).ravel() for v in (t, x, t_x, t_cal))
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    log_u = np.log(beta + t_cal) - np.log(beta + t_cal + t)  # <= 0
    # [1 - u^(s-1)] / (s-1), and its limit -ln u at s = 1.
    factor = -log_u if abs(s - 1.0) < 1e-08 else -np.expm1((s - 1.0) * log_u) / (s - 1.0)
    if_alive = (r + x) * (beta + t_cal) / (alpha + t_cal) * factor
    p_alive = expit(-_pareto_log_alive_odds(params, x, t_x, t_cal))
    return np.asarray(if_alive * p_alive, dtype=np.float64).reshape(shape)


def fit_pareto_nbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
) -> ParetoNBDParams:
    """Fit the Pareto/NBD model by maximum likelihood (Nelder-Mead over log-parameters)."""
    x, t_x, t_cal = (arr.ravel() for arr in _check_rfm(frequency, recency, T))
    # Customers with the same (x, t_x, T) share a likelihood term: fit on the distinct ones, weighted.
    triples, counts = np.unique(np.column_stack([x, t_x, t_cal]), axis=0, return_counts=True)
    ux, utx, ut = triples[:, 0], triples[:, 1], triples[:, 2]
    weights = counts.astype(np.float64)
    n = float(x.size)

    def objective(theta: FloatArray) -> float:
        r, alpha, s, beta = np.exp(np.clip(theta, -_LOG_BOUND, _LOG_BOUND))
        a1 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        with np.errstate(all="ignore"):
            a2 = np.logaddexp(
                -(r + ux) * np.log(alpha + ut) - s * np.log(beta + ut),
                np.log(s) + _pareto_log_a0(r, alpha, s, beta, ux, utx, ut) - np.log(r + s + ux),
            )
        value = -float(weights @ (a1 + a2)) / n
        return value if np.isfinite(value) else 1e300

    x0 = np.array([0.0, np.log(max(float(t_cal.mean()), 1e-3)), 0.0, np.log(max(float(t_cal.mean()), 1e-3))])
    result = minimize(
        objective, x0, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-12}
    )
    if not np.isfinite(result.fun) or result.fun >= 1e300:
        raise ValueError(f"Pareto/NBD fit failed: {result.message}")
    r, alpha, s, beta = (float(v) for v in np.exp(np.clip(result.x, -_LOG_BOUND, _LOG_BOUND)))
    return ParetoNBDParams(r, alpha, s, beta, log_likelihood=-float(result.fun) * n, n_customers=int(n))


def pareto_model_problem(params: ParetoNBDParams) -> str | None:
    """Why a fitted Pareto/NBD is degenerate (a parameter at its bound, no dropout at all), or None."""
    low, high = np.exp(-_LOG_BOUND + 0.5), np.exp(_LOG_BOUND - 0.5)
    for name in ("r", "alpha", "s", "beta"):
        value = getattr(params, name)
        if not low < value < high:
            return f"the parameter {name} ran to its bound ({value:.3g})"
    # Mean lifetime beta / (s - 1) weeks (s > 1), else heavy-tailed; a mean dropout rate s / beta
    # this small means nobody leaves within a century.
    if params.s / params.beta < 1.0 / 5200.0:
        return f"the dropout rate ran towards 0 (s = {params.s:.3g}, beta = {params.beta:.3g})"
    return None


# --------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------


def _gg_neg_ll(
    log_params: FloatArray,
    x_values: FloatArray,
    x_counts: FloatArray,
    x: FloatArray,
    m: FloatArray,
    sum_x_log_m: float,
    sum_log_m: float,
    sum_x_log_x: float,
) -> tuple[float, FloatArray]:
    """Mean negative Gamma-Gamma log-likelihood and its gradient in log-parameters."""
    p, q, gamma = np.exp(log_params)
    n = float(x.size)
    px = p * x_values
    log_gm = np.log(gamma + m * x)
    # Density of the mean spend m_x of x purchases (Fader & Hardie 2013):
    # Γ(px+q)/(Γ(px)Γ(q)) γ^q m^(px-1) x^(px) / (γ + m x)^(px+q).
    ll = (
        x_counts @ (gammaln(px + q) - gammaln(px))
        - n * gammaln(q)
        + n * q * np.log(gamma)
        + p * sum_x_log_m
        - sum_log_m
        + p * sum_x_log_x
        - ((p * x + q) * log_gm).sum()
    )
    d_p = (
        x_counts @ (x_values * (digamma(px + q) - digamma(px)))
        + sum_x_log_m
        + sum_x_log_x
        - (x * log_gm).sum()
    )
    d_q = x_counts @ digamma(px + q) - n * digamma(q) + n * np.log(gamma) - log_gm.sum()
    d_gamma = n * q / gamma - ((p * x + q) / (gamma + m * x)).sum()
    grad = np.array([d_p * p, d_q * q, d_gamma * gamma])
    return float(-ll / n), -grad / n


def fit_gamma_gamma(frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> GammaGammaParams:
    """Fit the Gamma-Gamma spend model on repeat buyers by maximum likelihood.

    Follows Fader & Hardie (2013), "The Gamma-Gamma model of monetary value":
    a customer enters the fit when ``frequency > 0`` and ``monetary_value``
    (the mean value of the repeat purchase days, see :func:`rfm_summary`) is
    positive. On CDNOW's 1997-01-01..1997-09-30 calibration that is the 946
    repeat buyers of the note (p=6.25, q=3.74, γ=15.44). Customers with a
    non-positive mean (free orders, net refunds) carry no information about
    a positive spend distribution and would make the likelihood -inf.
    """
    x = _as_float("frequency", frequency).ravel()
    m = _as_float("monetary_value", monetary_value).ravel()
    if x.shape != m.shape:
        raise ValueError(f"frequency and monetary_value differ in length: {x.size} vs {m.size}")
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if x.size < 2 or np.ptp(m) == 0:
        raise ValueError(
            "Gamma-Gamma needs at least two repeat buyers with different positive "
            f"monetary values, got {x.size}"
        )
    x_values, x_counts = _count_values(x)
    log_m = np.log(m)
    consts = (float((x * log_m).sum()), float(log_m.sum()), float((x * np.log(x)).sum()))

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        return _gg_neg_ll(theta, x_values, x_counts, x, m, *consts)

    # Start with p = q = 2 (finite mean spend) and γ matching the sample mean:
    # E[spend] = pγ/(q-1) = 2γ, so γ = mean/2.
    x0 = np.array([np.log(2.0), np.log(2.0), np.log(float(m.mean()) / 2.0)])
    theta = _minimise(objective, x0, "Gamma-Gamma")
    neg_ll, _ = objective(theta)
    p, q, gamma = (float(v) for v in np.exp(theta))
    return GammaGammaParams(p=p, q=q, gamma=gamma, log_likelihood=-neg_ll * x.size, n_customers=int(x.size))


def expected_average_value(
    params: GammaGammaParams, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> FloatArray:
    """Posterior mean spend per purchase (population mean for non-repeat buyers)."""
    x = _as_float("frequency", frequency)
    m = _as_float("monetary_value", monetary_value)
    if params.q <= 1.0:
        raise ValueError(f"q={params.q:.4g} <= 1: the fitted spend distribution has no finite mean")
    if np.any(x < 0):
        raise ValueError("frequency must be non-negative")
    p, q, gamma = params.p, params.q, params.gamma
    # The model describes non-negative spend; a net-refund mean is floored at
    # zero so it shrinks towards the population mean instead of going negative.
    m = np.maximum(m, 0.0)
    # Weighted average of the population mean pγ/(q-1) and the customer's own
    # mean, the weight on the latter growing with the number of purchases.
    weight = p * x / (p * x + q - 1.0)
    return np.asarray((1.0 - weight) * p * gamma / (q - 1.0) + weight * m, dtype=np.float64)


# --------------------------------------------------------------------------
# Lifetime value
# --------------------------------------------------------------------------


def customer_lifetime_value(
    bgnbd: PurchaseParams,
    gg: GammaGammaParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the literature's name for customer age
    monetary_value: npt.ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> FloatArray:
    """Discounted expected value of each customer over the next ``months`` months.

    Computed like ``lifetimes``' ``customer_lifetime_value``: for each month
    i = 1..months, (expected cumulative purchases at month i minus at month
    i-1) times the Gamma-Gamma expected spend, discounted by (1+d)^i. A month
    is ``WEEKS_PER_MONTH`` = 365.25/12/7 ≈ 4.348 weeks.
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    if monthly_discount_rate <= -1.0:
        raise ValueError(f"monthly_discount_rate must exceed -1, got {monthly_discount_rate}")
    value = expected_average_value(gg, frequency, monetary_value)
    previous = np.zeros(np.broadcast_shapes(np.shape(frequency), np.shape(recency), np.shape(T)))
    clv = np.zeros_like(previous)
    for month in range(1, months + 1):
        cumulative = expected_purchases(bgnbd, month * WEEKS_PER_MONTH, frequency, recency, T)
        clv += (cumulative - previous) / (1.0 + monthly_discount_rate) ** month
        previous = cumulative
    return np.asarray(clv * value, dtype=np.float64)


def fit_clv(
    summary: pl.DataFrame,
    *,
    horizon_days: int = 90,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> tuple[BGNBDParams, GammaGammaParams, pl.DataFrame]:
    """Fit both models on a weekly RFM summary and score every customer.

    ``summary`` is the output of :func:`rfm_summary` with ``period_days=7``.
    The returned frame holds customer_id, frequency, recency, T,
    monetary_value, ``expected_purchases_{horizon_days}d`` (the horizon
    converted to weeks as days / 7), ``p_alive`` and ``clv_{months}m``.
    """
    required = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    missing = [c for c in required if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks column(s): {missing}")
    if summary.height == 0:
        raise ValueError("summary is empty: need at least one customer")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    x = summary["frequency"].cast(pl.Float64).to_numpy()
    t_x = summary["recency"].cast(pl.Float64).to_numpy()
    t_cal = summary["T"].cast(pl.Float64).to_numpy()
    m = summary["monetary_value"].cast(pl.Float64).to_numpy()

    bgnbd = fit_bgnbd(x, t_x, t_cal)
    gg = fit_gamma_gamma(x, m)
    columns = {
        f"expected_purchases_{horizon_days}d": expected_purchases(bgnbd, horizon_days / 7.0, x, t_x, t_cal),
        "p_alive": probability_alive(bgnbd, x, t_x, t_cal),
        f"clv_{months}m": customer_lifetime_value(
            bgnbd, gg, x, t_x, t_cal, m, months=months, monthly_discount_rate=monthly_discount_rate
        ),
    }
    # The scores are finite for every parameter in the fitted box; should a
    # numerical corner ever slip through, fail loudly (the prediction runner
    # then skips lifetime value with this message) rather than hand on NaN.
    for name, values in columns.items():
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ValueError(f"{name} is not finite for {bad} customer(s) with BG/NBD parameters {bgnbd}")
    scores = summary.select(required).with_columns(
        pl.Series(name, values) for name, values in columns.items()
    )
    return bgnbd, gg, scores


# --------------------------------------------------------------------------
# Checked fit: detect degenerate models, fall back, or say why CLV is not reliable
# --------------------------------------------------------------------------

MODEL_NAMES: Final[dict[str, str]] = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "gamma_gamma": "Gamma-Gamma",
    "gamma_gamma_trimmed": "Gamma-Gamma on trimmed spend",
}

#: Predicted activity above this multiple of the busiest stretch of the shop's history is not believed.
HISTORY_MULTIPLE: Final[float] = 3.0
# Repeat buyers silent for this long (weeks) who all still count as certainly alive betray a dropout
# process the fit could not see.
_LAPSED_WEEKS: Final[float] = 26.0


@dataclass(frozen=True)
class History:
    """The busiest 13 weeks of the shop's past, per week: what predictions are compared with."""

    purchases_per_week: float
    revenue_per_week: float


@dataclass(frozen=True)
class FittedModel:
    """One model fitted on the way to the scores, with why it was rejected (None: accepted)."""

    name: str  # bgnbd | mbgnbd | gamma_gamma | gamma_gamma_trimmed
    params: PurchaseParams | GammaGammaParams
    used: bool
    diagnosis: str | None


@dataclass(frozen=True)
class CheckedClv:
    """Every model tried, the ones used, and the scores (None where not reliable, with the reason)."""

    fits: tuple[FittedModel, ...]
    purchase: PurchaseParams | None
    spend: GammaGammaParams | None
    scores: pl.DataFrame | None
    unreliable: str | None


def _activity_problem(
    params: PurchaseParams, x: FloatArray, t_x: FloatArray, t_cal: FloatArray, history: History | None
) -> str | None:
    p_alive = probability_alive(params, x, t_x, t_cal)
    # BG/NBD's one-time buyers are alive by construction; the other models can see them leave.
    lapsed = (t_cal - t_x > _LAPSED_WEEKS) & ((x > 0) | (params.model != "bgnbd"))
    if lapsed.sum() >= 10 and np.mean(p_alive[lapsed] > 0.999) >= 0.99:
        return (
            f"P(alive) is 1 for {int(np.sum(p_alive[lapsed] > 0.999))} of {int(lapsed.sum())} customers "
            f"who have not bought for {_LAPSED_WEEKS:.0f} weeks"
        )
    if history is not None and history.purchases_per_week > 0:
        weekly = float(expected_purchases(params, 13.0, x, t_x, t_cal).sum()) / 13.0
        if weekly > HISTORY_MULTIPLE * history.purchases_per_week:
            return (
                f"it predicts {weekly:,.0f} purchases a week; the shop's busiest 13 weeks had "
                f"{history.purchases_per_week:,.0f}"
            )
    return None


def fit_clv_checked(
    summary: pl.DataFrame,
    *,
    horizon_days: int = 90,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    history: History | None = None,
    max_training_rows: int | None = None,
    seed: int = 42,
) -> CheckedClv:
    """Fit BG/NBD (MBG/NBD when it degenerates) and Gamma-Gamma (on trimmed spend when it degenerates).

    Past `max_training_rows` customers the models are fitted on a seeded sample of them (one-time and
    repeat buyers in their shares); the checks and the scores always cover every customer.
    Raises ValueError only when no purchase model can be fitted at all (no repeat purchase).
    """
    from segmint.predict.sampling import training_rows

    if summary.height == 0:
        raise ValueError("summary is empty: need at least one customer")
    x = summary["frequency"].cast(pl.Float64).to_numpy()
    t_x = summary["recency"].cast(pl.Float64).to_numpy()
    t_cal = summary["T"].cast(pl.Float64).to_numpy()
    m = summary["monetary_value"].cast(pl.Float64).to_numpy()
    rows = training_rows(x > 0, max_training_rows, seed)
    fit_x, fit_t_x, fit_t_cal, fit_m = (
        (x, t_x, t_cal, m) if rows is None else (x[rows], t_x[rows], t_cal[rows], m[rows])
    )
    fits: list[FittedModel] = []
    purchase: PurchaseParams | None = None
    problems: list[str] = []
    fitters: tuple[tuple[str, Callable[[FloatArray, FloatArray, FloatArray], PurchaseParams]], ...] = (
        ("bgnbd", fit_bgnbd),
        ("mbgnbd", fit_mbgnbd),
        ("pareto_nbd", fit_pareto_nbd),
    )
    for name, fitter in fitters:
        if name == "bgnbd" and not np.any(x > 0):
            raise ValueError("no customer has a repeat purchase: BG/NBD parameters are not identifiable")
        try:
            params = fitter(fit_x, fit_t_x, fit_t_cal)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        structural = (
            pareto_model_problem(params)
            if isinstance(params, ParetoNBDParams)
            else purchase_model_problem(params)
        )
        problem = structural or _activity_problem(params, x, t_x, t_cal, history)
        fits.append(FittedModel(name, params, problem is None, problem))
        if problem is None:
            purchase = params
            break
        problems.append(f"{MODEL_NAMES[name]}: {problem}")
    if purchase is None:
        reason = "no purchase model fits this shop's history yet (" + "; ".join(problems) + ")"
        return CheckedClv(tuple(fits), None, None, None, reason)

    spend: GammaGammaParams | None = None
    spend_problems: list[str] = []
    for name, spend_fitter in (
        ("gamma_gamma", fit_gamma_gamma),
        ("gamma_gamma_trimmed", fit_gamma_gamma_trimmed),
    ):
        try:
            gg = spend_fitter(fit_x, fit_m)
        except ValueError as exc:
            spend_problems.append(str(exc))
            break  # trimming does not add repeat buyers
        problem = spend_model_problem(gg, m)
        fits.append(FittedModel(name, gg, problem is None, problem))
        if problem is None:
            spend = gg
            break
        spend_problems.append(problem)

    columns: dict[str, FloatArray] = {
        f"expected_purchases_{horizon_days}d": expected_purchases(
            purchase, horizon_days / 7.0, x, t_x, t_cal
        ),
        "p_alive": probability_alive(purchase, x, t_x, t_cal),
    }
    unreliable: str | None = None
    if spend is not None:
        value = customer_lifetime_value(
            purchase, spend, x, t_x, t_cal, m, months=months, monthly_discount_rate=monthly_discount_rate
        )
        weekly = float(value.sum()) / (months * WEEKS_PER_MONTH)
        if (
            history is not None
            and history.revenue_per_week > 0
            and weekly > HISTORY_MULTIPLE * history.revenue_per_week
        ):
            unreliable = (
                f"lifetime value of {weekly:,.0f} a week predicted; the shop's busiest 13 weeks had "
                f"{history.revenue_per_week:,.0f}"
            )
        else:
            columns[f"clv_{months}m"] = value
    else:
        unreliable = "; ".join(spend_problems)
    for name, values in columns.items():
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ValueError(f"{name} is not finite for {bad} customer(s) with parameters {purchase}")
    scores = summary.select("customer_id", "frequency", "recency", "T", "monetary_value").with_columns(
        pl.Series(name, values) for name, values in columns.items()
    )
    if f"clv_{months}m" not in scores.columns:
        scores = scores.with_columns(pl.lit(None, pl.Float64).alias(f"clv_{months}m"))
    return CheckedClv(tuple(fits), purchase, spend, scores, unreliable)
