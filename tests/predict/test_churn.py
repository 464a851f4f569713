"""Churn: labels from orders after the as-of date, validation on a later period, the backtest for the report."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

from segmint.predict.churn import (
    InsufficientHistoryError,
    best_threshold,
    churn_labels,
    churn_outcomes,
    label,
    store_churn_backtest,
    train_and_validate,
)


def test_labels_use_exactly_the_horizon_after_as_of(seg_duck: duckdb.DuckDBPyConnection, order: Any) -> None:
    con = seg_duck
    order(con, "o1", "on-as-of", "2024-03-31 23:59:59", [("P", 1, 1.0)])  # not after as_of
    order(con, "o2", "first-day", "2024-04-01 00:00:00", [("P", 1, 1.0)])
    order(con, "o3", "last-day", "2024-04-30 23:59:59", [("P", 1, 1.0)])  # day 30 of a 30-day horizon
    order(con, "o4", "too-late", "2024-05-01 00:00:00", [("P", 1, 1.0)])
    order(con, "o5", "cancelled", "2024-04-10", [("P", -1, 1.0)], cancelled=True)
    order(con, "o6", None, "2024-04-10", [("P", 1, 1.0)])  # a guest
    active = churn_labels(con, date(2024, 3, 31), 30)
    assert sorted(active["customer_id"]) == ["first-day", "last-day"]
    features = pl.DataFrame(
        {"customer_id": ["first-day", "on-as-of", "prospect"], "is_prospect": [False, False, True]}
    )
    assert label(features, active).select("customer_id", "churned").rows() == [
        ("first-day", 0),
        ("on-as-of", 1),
    ]


def test_best_threshold_maximises_f1() -> None:
    y = np.array([1, 1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    # Cut at 0.6: tp=3, fp=1, fn=0 -> F1 = 6/7, the best of all cuts.
    assert best_threshold(y, p) == 0.6
    # Ties fall on the same side: no cut between the two 0.5s.
    assert best_threshold(np.array([1, 0, 0]), np.array([0.5, 0.5, 0.1])) == 0.5


def synthetic(n: int, seed: int) -> pl.DataFrame:
    """Buyers whose churn depends on recency and, more strongly, on whether they still browse."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(0, 365, n)
    sessions = rng.poisson(3, n) * (rng.random(n) < 0.5)
    logit = -1.0 + recency / 150 - 1.5 * np.sqrt(sessions)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "is_prospect": [False] * n,
            "recency_days": recency,
            "frequency": rng.integers(1, 10, n),
            "sessions_90d": sessions,
            "days_since_last_visit": np.where(sessions > 0, rng.integers(0, 90, n), np.nan),
            "churned": churned,
        }
    )


def test_model_validated_on_the_later_period_beats_recency(seg_duck: duckdb.DuckDBPyConnection) -> None:
    report = train_and_validate(
        synthetic(3000, 1),
        synthetic(3000, 2),
        horizon_days=90,
        train_as_of=date(2024, 1, 1),
        valid_as_of=date(2024, 3, 31),
        seed=3,
    )
    assert (report.n_train, report.n_valid) == (3000, 3000)
    assert report.model_scores.roc_auc > report.baseline_scores.roc_auc + 0.05
    assert report.model_scores.f1 > report.baseline_scores.f1
    assert 0.0 < report.threshold < 1.0
    row = report.as_row()
    assert {"precision", "recall", "f1", "roc_auc", "baseline_f1", "baseline_roc_auc"} <= set(row)
    forest = train_and_validate(
        synthetic(1000, 1),
        synthetic(1000, 2),
        horizon_days=90,
        train_as_of=date(2024, 1, 1),
        valid_as_of=date(2024, 3, 31),
        model="random_forest",
    )
    assert forest.model == "random_forest"
    assert forest.model_scores.roc_auc > 0.7


def test_too_little_history_is_reported_not_crashed() -> None:
    few = synthetic(30, 1)
    with pytest.raises(InsufficientHistoryError, match="at least 50"):
        train_and_validate(
            few, few, horizon_days=90, train_as_of=date(2024, 1, 1), valid_as_of=date(2024, 3, 31)
        )
    one_class = synthetic(200, 1).with_columns(churned=pl.lit(1, pl.Int8))
    with pytest.raises(InsufficientHistoryError, match="none of 200 did"):
        train_and_validate(
            one_class,
            synthetic(200, 2),
            horizon_days=90,
            train_as_of=date(2024, 1, 1),
            valid_as_of=date(2024, 3, 31),
        )


def scored_shop(con: duckdb.DuckDBPyConnection, order: Any) -> None:
    """Churn scores of 2024-01-01 (30-day model, threshold 0.6) and of 2024-03-01, then January's orders."""
    con.execute(
        "insert into prediction_runs values ('old', '2024-01-01', null, '2024-01-01 03:00', 4, 0, 0, null), "
        "('new', '2024-03-01', null, '2024-03-01 03:00', 4, 0, 0, null)"
    )
    con.execute(
        """
        insert into churn_models by name select 'old' as run_id, date '2024-01-01' as as_of, 'gradient_boosting' as model,
            30 as horizon_days, date '2023-11-01' as train_as_of, date '2023-12-01' as valid_as_of, 100 as n_train,
            100 as n_valid, 0.5 as churn_rate_valid, 0.6 as threshold, 1.0 as precision, 1.0 as recall, 1.0 as f1,
            1.0 as roc_auc, 1.0 as baseline_precision, 1.0 as baseline_recall, 1.0 as baseline_f1,
            1.0 as baseline_roc_auc, '[]' as features
        """
    )
    scores = [("a", "S1", 0.9), ("b", "S1", 0.8), ("c", "S2", 0.3), ("d", "S2", 0.1)]
    for run in ("old", "new"):
        for customer, segment, score in scores:
            con.execute(
                "insert into customer_predictions (run_id, as_of, customer_id, segment_name, churn_score, is_anomaly) "
                "values (?, '2024-01-01', ?, ?, ?, false)",
                [run, customer, segment, score],
            )
    order(con, "o1", "b", "2024-01-15", [("P", 1, 1.0)])  # predicted to churn, but bought
    order(con, "o2", "c", "2024-01-20", [("P", 1, 1.0)])
    order(con, "o3", "d", "2024-02-15", [("P", 1, 1.0)])  # after the 30-day horizon: d churned


def test_outcomes_compare_old_predictions_with_what_happened(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    con = seg_duck
    scored_shop(con, order)
    outcome = churn_outcomes(con, date(2024, 2, 20), horizon_days=30)
    assert outcome is not None
    # 'new' is less than 30 days before 2024-02-20... no: it is after it, so the January run is compared.
    assert (outcome.prediction_run_id, outcome.predicted_as_of, outcome.outcome_as_of) == (
        "old",
        date(2024, 1, 1),
        date(2024, 1, 31),
    )
    assert outcome.n_customers == 4
    assert outcome.actual_churn_rate == 0.5  # a and d
    assert outcome.predicted_churn_rate == pytest.approx(0.525)
    # At the stored threshold 0.6, a and b are predicted churners: precision 1/2, recall 1/2.
    assert (outcome.scores.precision, outcome.scores.recall) == (0.5, 0.5)
    assert outcome.by_segment.rows() == [
        ("S1", 2, pytest.approx(0.85), 0.5),
        ("S2", 2, pytest.approx(0.2), 0.5),
    ]
    assert churn_outcomes(con, date(2024, 1, 20), horizon_days=30) is None


def test_the_weekly_report_shows_the_churn_check_of_one_horizon_ago(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    from segmint.report import build_report
    from segmint.report.render import render_web

    scored_shop(seg_duck, order)
    # The night of 20 Feb judged the scores of one horizon before it and stored the result for the report.
    store_churn_backtest(seg_duck, "feb", date(2024, 2, 20), horizon_days=30)
    data = build_report(seg_duck, date(2024, 2, 20))
    check = data.predictions.churn_check  # type: ignore[union-attr]
    assert check is not None
    outcome = churn_outcomes(seg_duck, date(2024, 2, 20), horizon_days=30)  # horizon of the stored model
    assert outcome is not None
    assert (check.predicted_as_of, check.outcome_as_of, check.customers) == (
        date(2024, 1, 1),
        date(2024, 1, 31),
        4,
    )
    assert (check.actual_churn_rate, check.precision, check.recall) == (0.5, 0.5, 0.5)
    assert check.predicted_churn_rate == pytest.approx(outcome.predicted_churn_rate)
    html = render_web(data, [])
    assert "on 1 Jan 2024 we expected" in html and "52.5% of 4 customers" in html
