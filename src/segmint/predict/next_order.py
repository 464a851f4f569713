"""Next order: when each customer is expected to order again, and how likely within 30 days.

Both come from the fitted purchase model (BG/NBD, MBG/NBD or Pareto/NBD, weeks as time unit) and the
customer's own inter-order gaps:

* A customer alive at T buys at a rate λ whose posterior is Gamma(r + x, α + T) in all three models, so
  the time to the next purchase, if the customer stays, has survival ((α+T)/(α+T+t))^(r+x) and median
  (α+T)(2^(1/(r+x)) - 1): the model's wait.
* The model's Poisson clock forgets when the last order was. A customer who orders every 30 days and
  ordered 25 days ago is due in about 5 days, whatever the Poisson median says. The own gap, t_x / x,
  says that; it is weighted by x / (x + OWN_GAP_PRIOR) (more gaps, more trust) and fades out once the
  customer is overdue by a whole gap, where the gap no longer says much and the model takes over.
* P(order within t) = P(alive) × P(at least one purchase in t | alive). For BG/NBD and MBG/NBD a customer
  can only drop out right after a purchase, so with no purchase nothing changes and the second factor
  is 1 - ((α+T)/(α+T+t))^(r+x) exactly. Pareto/NBD customers can also die during t; there the second
  factor is taken as 1 - e^(-E[X(t) | alive]), a Poisson approximation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from segmint.predict.clv import (
    FloatArray,
    ParetoNBDParams,
    PurchaseParams,
    expected_purchases,
    probability_alive,
)

#: The window of p_order_30d, in days.
HORIZON_DAYS: Final[int] = 30
#: Pseudo-gaps of the model's wait in the blend: a customer with x gaps gets weight x / (x + 2) on their own.
OWN_GAP_PRIOR: Final[float] = 2.0


def model_wait_weeks(params: PurchaseParams, frequency: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
    """Median weeks from T to the next purchase of a customer who stays (λ ~ Gamma(r + x, α + T))."""
    return np.asarray((params.alpha + T) * np.expm1(np.log(2.0) / (params.r + frequency)), dtype=np.float64)


def probability_order_within(
    params: PurchaseParams,
    weeks: float,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,  # noqa: N803 - the literature's name for customer age
) -> FloatArray:
    """P(at least one purchase in the next `weeks` weeks) per customer."""
    alive = probability_alive(params, frequency, recency, T)
    if isinstance(params, ParetoNBDParams):
        expected = expected_purchases(params, weeks, frequency, recency, T)
        if_alive = -np.expm1(-np.divide(expected, alive, out=np.zeros_like(expected), where=alive > 0))
    else:
        ratio = (params.alpha + T) / (params.alpha + T + weeks)
        if_alive = -np.expm1((params.r + frequency) * np.log(ratio))
    return np.asarray(alive * if_alive, dtype=np.float64)


def own_gap_weeks(frequency: FloatArray, recency: FloatArray) -> FloatArray:
    """Each customer's mean inter-order gap t_x / x in weeks (NaN for a one-time buyer)."""
    return np.divide(recency, frequency, out=np.full_like(recency, np.nan), where=frequency > 0)


def blended_wait_weeks(
    params: PurchaseParams,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,  # noqa: N803
) -> FloatArray:
    """Weeks from T to the expected next order: the own gap's remainder blended with the model's wait."""
    model = model_wait_weeks(params, frequency, T)
    gap = own_gap_weeks(frequency, recency)
    since_last = T - recency
    with np.errstate(invalid="ignore", divide="ignore"):
        remaining = np.maximum(gap - since_last, 0.0)
        overdue = np.maximum(since_last - gap, 0.0)
        fade = np.clip(1.0 - overdue / gap, 0.0, 1.0)
    weight = np.where(frequency > 0, frequency / (frequency + OWN_GAP_PRIOR), 0.0) * np.nan_to_num(fade)
    return np.asarray(np.where(weight > 0, weight * np.nan_to_num(remaining) + (1 - weight) * model, model))


def own_gap_baseline_weeks(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
    """The simple baseline: last order + own mean gap (the shop's median gap for one-time buyers), at least 0."""
    gap = own_gap_weeks(frequency, recency)
    shop_gap = float(np.nanmedian(gap)) if np.any(frequency > 0) else float("nan")
    gap = np.where(np.isnan(gap), shop_gap, gap)
    return np.asarray(np.maximum(gap - (T - recency), 0.0), dtype=np.float64)


def next_order_columns(
    params: PurchaseParams, summary: pl.DataFrame, as_of: date, horizon_days: int = HORIZON_DAYS
) -> pl.DataFrame:
    """customer_id, days_to_next_order, next_order_date and p_order_30d for a weekly RFM summary at `as_of`."""
    x, t_x, t_cal = (summary[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T"))
    days = np.rint(blended_wait_weeks(params, x, t_x, t_cal) * 7.0)
    # A customer with almost no chance of buying again gets a wait past any date: cap it at ten years.
    days = np.minimum(days, 3653.0).astype(np.int64)
    return pl.DataFrame(
        {
            "customer_id": summary["customer_id"],
            "days_to_next_order": days,
            "p_order_30d": probability_order_within(params, horizon_days / 7.0, x, t_x, t_cal),
        }
    ).with_columns(
        next_order_date=pl.lit(as_of, pl.Date) + pl.duration(days=pl.col("days_to_next_order")),
    )


@dataclass(frozen=True)
class NextOrderCheck:
    """Next-order predictions made at calibration_end, judged on what followed (None: not measurable)."""

    n_customers: int
    predicted_share: float  # mean p_order_30d: the share expected to order within the horizon
    ordered_share: float  # share who did
    auc: float | None  # p_order_30d against ordered-or-not
    auc_recency: float | None  # the baseline: the more recent the last order, the likelier the next
    brier: float
    brier_base: float  # a constant forecast: the share who ordered in the horizon before calibration_end
    n_dated: int  # customers who ordered again within the holdout
    mae_days: float | None  # |predicted - actual| days to the next order, both capped at the holdout
    mae_days_model: float | None  # the model's wait alone
    mae_days_baseline: float | None  # last order + own mean gap


def _auc(score: npt.NDArray[np.float64], label: npt.NDArray[np.bool_]) -> float | None:
    # Mann-Whitney with tied scores shared: no sklearn import for one number.
    positives, negatives = int(label.sum()), int((~label).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = pl.Series(score).rank("average").to_numpy()
    return float((ranks[label].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def judge(
    frame: pl.DataFrame,
    calibration_end: date,
    holdout_days: int,
    *,
    ordered_before: float,
    horizon_days: int = HORIZON_DAYS,
    model_days: FloatArray | None = None,
) -> NextOrderCheck:
    """Score predictions made at calibration_end against what followed.

    `frame` has frequency, recency and T (weeks, at calibration_end), p_order_30d, days_to_next_order and
    next_day (the first purchase day in the holdout, null: none). `ordered_before` is the share who ordered in
    the `horizon_days` before calibration_end: the constant forecast the Brier score is compared with.
    """
    x, t_x, t_cal, p, days = (
        frame[c].cast(pl.Float64).to_numpy()
        for c in ("frequency", "recency", "T", "p_order_30d", "days_to_next_order")
    )
    actual_days = (
        frame.select((pl.col("next_day") - pl.lit(calibration_end, pl.Date)).dt.total_days().cast(pl.Float64))
        .to_series()
        .fill_null(np.nan)
        .to_numpy()
    )
    ordered = actual_days <= horizon_days
    dated = ~np.isnan(actual_days)
    # Who did not order within the holdout has a next order after it: predictions and outcomes are both
    # capped at the holdout, so an error is counted only as far as the holdout can tell it (a short guess for
    # a customer who never came back costs as much as a long one for a customer who did).
    capped_actual = np.where(dated, np.minimum(actual_days, holdout_days), holdout_days)

    def mae(predicted: FloatArray | None) -> float | None:
        if predicted is None:
            return None
        return float(np.mean(np.abs(np.minimum(predicted, holdout_days) - capped_actual)))

    return NextOrderCheck(
        n_customers=frame.height,
        predicted_share=float(p.mean()),
        ordered_share=float(ordered.mean()),
        auc=_auc(p, ordered),
        auc_recency=_auc(-(t_cal - t_x), ordered),
        brier=float(np.mean((p - ordered) ** 2)),
        brier_base=float(np.mean((ordered_before - ordered) ** 2)),
        n_dated=int(dated.sum()),
        mae_days=mae(days),
        mae_days_model=mae(model_days),
        mae_days_baseline=mae(np.rint(own_gap_baseline_weeks(x, t_x, t_cal) * 7.0)),
    )


def check_next_order(
    params: PurchaseParams,
    summary: pl.DataFrame,
    transactions: pl.DataFrame,
    calibration_end: date,
    through: date,
) -> NextOrderCheck | None:
    """Predict at calibration_end from `params` and judge on `transactions` in (calibration_end, through].

    None when the holdout is shorter than the 30-day window or there is nobody to judge.
    """
    holdout_days = (through - calibration_end).days
    if holdout_days < HORIZON_DAYS or summary.height == 0:
        return None
    predicted = next_order_columns(params, summary, calibration_end).drop("next_order_date")
    frame = summary.join(predicted, on="customer_id").join(
        first_order_after(transactions, calibration_end, through), on="customer_id", how="left"
    )
    x, t_cal = (frame[c].cast(pl.Float64).to_numpy() for c in ("frequency", "T"))
    return judge(
        frame,
        calibration_end,
        holdout_days,
        ordered_before=ordered_share_before(transactions, calibration_end),
        model_days=np.rint(model_wait_weeks(params, x, t_cal) * 7.0),
    )


def first_order_after(transactions: pl.DataFrame, after: date, through: date) -> pl.DataFrame:
    """customer_id and next_day: each customer's first purchase day in (after, through]."""
    day = pl.col("ordered_at").cast(pl.Date)
    return (
        transactions.filter((day > after) & (day <= through)).group_by("customer_id").agg(next_day=day.min())
    )


def ordered_share_before(transactions: pl.DataFrame, end: date, days: int = HORIZON_DAYS) -> float:
    """Share of the customers with a purchase by `end` who bought in the `days` days up to `end`."""
    day = pl.col("ordered_at").cast(pl.Date)
    upto = transactions.filter(day <= end)
    customers = upto["customer_id"].n_unique()
    if customers == 0:
        return 0.0
    recent = upto.filter(day > end - timedelta(days=days))["customer_id"].n_unique()
    return recent / customers
