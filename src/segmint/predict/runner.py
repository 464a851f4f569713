"""One prediction run: lifetime value, churn, anomalies and basket rules for an as-of date, stored together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import polars as pl

from segmint.config import PredictSettings
from segmint.features import FEATURE_MODELS, query_frame, query_one, run_model
from segmint.predict import clv
from segmint.predict.anomalies import detect_anomalies
from segmint.predict.basket import BasketThresholds, store_basket_rules, store_recommendations
from segmint.predict.churn import ChurnReport, InsufficientHistoryError, churn_labels, fit_churn
from segmint.runs import published_run
from segmint.warehouse import transaction

CLV_HORIZON_DAYS = 90


@dataclass
class PredictionOutcome:
    """What a prediction run stored, for the flow summary and the CLI."""

    run_id: str
    as_of: date
    segment_run_id: str | None = None
    n_customers: int = 0
    n_anomalies: int = 0
    n_rules: int = 0
    n_recommendations: int = 0
    bgnbd: clv.BGNBDParams | None = None
    gamma_gamma: clv.GammaGammaParams | None = None
    churn: ChurnReport | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def published_segment_run(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """The published segment run in force on `as_of` (the latest one not after it), if any."""
    found = published_run(con, upto=as_of)
    return found[0] if found else None


def features_at(con: duckdb.DuckDBPyConnection, day: date) -> pl.DataFrame:
    """customer_features of `day`: the stored night when there is one, else computed point in time."""
    if query_one(con, "select 1 from customer_features where as_of = ? limit 1", [day]):
        return query_frame(con, "select * from customer_features where as_of = ? order by customer_id", [day])
    return compute_features(con, day)


def compute_features(con: duckdb.DuckDBPyConnection, day: date) -> pl.DataFrame:
    """The feature models run for `day` without keeping anything: churn's earlier nights are not stored."""
    *upstream, final = FEATURE_MODELS
    con.execute("begin transaction")
    try:
        for model in upstream:
            run_model(con, model, day)
        con.execute("set variable as_of = ?", [day])
        features = query_frame(con, f"select * from ({final.sql()}) order by customer_id")
    finally:
        # Rolling back drops the temporary model tables too; the warehouse is left exactly as it was.
        con.execute("rollback")
    return features


def clv_transactions(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Non-cancelled orders of known customers up to the end of `as_of`: customer_id, ordered_at, revenue."""
    return query_frame(
        con,
        """
        select customer_id, ordered_at, cast(revenue as double) as revenue
        from orders
        where customer_id is not null and not is_cancellation and revenue > 0
            and ordered_at < cast(? as date) + interval 1 day
        """,
        [as_of],
    )


def _fit_clv(
    con: duckdb.DuckDBPyConnection, settings: PredictSettings, as_of: date, outcome: PredictionOutcome
) -> pl.DataFrame | None:
    transactions = clv_transactions(con, as_of)
    if transactions.height == 0:
        outcome.messages.append("lifetime value skipped: no orders up to the as-of date")
        return None
    started = time.perf_counter()
    summary = clv.rfm_summary(
        transactions,
        customer_col="customer_id",
        date_col="ordered_at",
        value_col="revenue",
        calibration_end=as_of,
    )
    try:
        bgnbd, gg, scores = clv.fit_clv(
            summary,
            horizon_days=CLV_HORIZON_DAYS,
            months=settings.clv_months,
            monthly_discount_rate=settings.clv_monthly_discount_rate,
        )
    except ValueError as exc:
        outcome.messages.append(f"lifetime value skipped: {exc}")
        return None
    outcome.bgnbd, outcome.gamma_gamma = bgnbd, gg
    outcome.seconds["clv"] = time.perf_counter() - started
    return scores.select(
        "customer_id",
        pl.col("frequency").alias("frequency_repeat"),
        pl.col("recency").alias("recency_weeks"),
        pl.col("T").alias("age_weeks"),
        pl.col(f"expected_purchases_{CLV_HORIZON_DAYS}d").alias("expected_purchases_90d"),
        "p_alive",
        pl.col(f"clv_{settings.clv_months}m").alias("clv_12m"),
    )


def _fit_churn(
    con: duckdb.DuckDBPyConnection,
    settings: PredictSettings,
    as_of: date,
    current: pl.DataFrame,
    outcome: PredictionOutcome,
) -> pl.DataFrame | None:
    horizon = settings.churn_horizon_days

    def features(day: date) -> pl.DataFrame:
        return current if day == as_of else features_at(con, day)

    def active(day: date, days: int) -> pl.DataFrame:
        return churn_labels(con, day, days)

    first = query_one(con, "select min(ordered_at) from orders where customer_id is not null")
    train_as_of = as_of - timedelta(days=2 * horizon)
    if first is None or first[0] is None or first[0].date() > train_as_of - timedelta(days=horizon):
        # Training features need some history before T0, or every buyer looks brand new.
        outcome.messages.append(
            f"churn skipped: it needs orders from {train_as_of - timedelta(days=horizon)} on "
            f"(three churn horizons of {horizon} days before {as_of})"
        )
        return None
    try:
        result = fit_churn(
            features, active, as_of, horizon_days=horizon, model=settings.churn_model, seed=settings.seed
        )
    except InsufficientHistoryError as exc:
        outcome.messages.append(f"churn skipped: {exc}")
        return None
    outcome.churn = result.report
    outcome.seconds["churn"] = result.report.fit_seconds
    return result.scores


def _store_models(
    con: duckdb.DuckDBPyConnection,
    settings: PredictSettings,
    run_id: str,
    as_of: date,
    outcome: PredictionOutcome,
) -> None:
    if outcome.bgnbd is not None and outcome.gamma_gamma is not None:
        bgnbd, gg = outcome.bgnbd, outcome.gamma_gamma
        extra = {"time_unit": "weeks", "months": settings.clv_months}
        for model, params, ll, n in (
            (
                "bgnbd",
                {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b},
                bgnbd.log_likelihood,
                bgnbd.n_customers,
            ),
            ("gamma_gamma", {"p": gg.p, "q": gg.q, "gamma": gg.gamma}, gg.log_likelihood, gg.n_customers),
        ):
            con.execute(
                "insert into clv_models values (?, ?, ?, ?, ?, ?, ?)",
                [run_id, as_of, model, json.dumps(params | extra), ll, n, outcome.seconds.get("clv")],
            )
    if outcome.churn is not None:
        row = outcome.churn.as_row() | {"run_id": run_id, "as_of": as_of}
        row["features"] = json.dumps(list(outcome.churn.features))
        con.register("churn_model_row", pl.DataFrame([row]))
        try:
            con.execute("insert into churn_models by name select * from churn_model_row")
        finally:
            con.unregister("churn_model_row")


def _segments(con: duckdb.DuckDBPyConnection, segment_run_id: str | None) -> pl.DataFrame:
    return query_frame(
        con,
        "select customer_id, segment_id, segment_name from segment_assignments where run_id = ?",
        [segment_run_id],
    )


def run_predictions(
    con: duckdb.DuckDBPyConnection,
    settings: PredictSettings,
    run_id: str,
    as_of: date,
    *,
    features: Callable[[duckdb.DuckDBPyConnection, date], pl.DataFrame] = features_at,
) -> PredictionOutcome:
    """Fit and store every model for `as_of` under `run_id` (a re-run replaces the run's rows)."""
    outcome = PredictionOutcome(run_id=run_id, as_of=as_of)
    current = features(con, as_of)
    outcome.segment_run_id = published_segment_run(con, as_of)
    outcome.n_customers = current.height

    predictions = current.select("customer_id").join(
        _segments(con, outcome.segment_run_id), on="customer_id", how="left"
    )
    clv_scores = _fit_clv(con, settings, as_of, outcome)
    if clv_scores is not None:
        predictions = predictions.join(clv_scores, on="customer_id", how="left")
    churn_scores = _fit_churn(con, settings, as_of, current, outcome)
    if churn_scores is not None:
        predictions = predictions.join(churn_scores, on="customer_id", how="left")

    started = time.perf_counter()
    flagged = detect_anomalies(current, contamination=settings.anomaly_contamination, seed=settings.seed)
    outcome.seconds["anomalies"] = time.perf_counter() - started
    predictions = predictions.join(flagged, on="customer_id", how="left").with_columns(
        pl.col("is_anomaly").fill_null(False)
    )
    outcome.n_anomalies = int(predictions["is_anomaly"].sum())

    with transaction(con):
        for table in ("customer_predictions", "anomalies", "prediction_runs", "clv_models", "churn_models"):
            con.execute(f"delete from {table} where run_id = ?", [run_id])
        _store_models(con, settings, run_id, as_of, outcome)
        con.register("prediction_rows", predictions)
        con.execute(
            "insert into customer_predictions by name "
            "select ? as run_id, cast(? as date) as as_of, * from prediction_rows",
            [run_id, as_of],
        )
        con.execute(
            "insert into anomalies select ?, cast(? as date), customer_id, anomaly_score, anomaly_reason "
            "from prediction_rows where is_anomaly",
            [run_id, as_of],
        )
        con.unregister("prediction_rows")
        started = time.perf_counter()
        thresholds = BasketThresholds(
            min_support=settings.basket_min_support,
            min_confidence=settings.basket_min_confidence,
            min_lift=settings.basket_min_lift,
            min_pair_count=settings.basket_min_pair_count,
            lookback_days=settings.basket_lookback_days,
        )
        outcome.n_rules = store_basket_rules(con, run_id, as_of, outcome.segment_run_id, thresholds)
        outcome.n_recommendations = store_recommendations(
            con, run_id, as_of, outcome.segment_run_id, settings.recommendations, settings.basket_recency_days
        )
        outcome.seconds["basket"] = time.perf_counter() - started
        con.execute(
            "insert into prediction_runs values (?, ?, ?, current_localtimestamp(), ?, ?, ?, ?)",
            [
                run_id,
                as_of,
                outcome.segment_run_id,
                outcome.n_customers,
                outcome.n_anomalies,
                outcome.n_rules,
                "; ".join(outcome.messages) or None,
            ],
        )
    return outcome


def latest_prediction_run(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """The most recent prediction run for an as-of date not after `as_of`."""
    row = query_one(
        con,
        "select run_id from prediction_runs where as_of <= ? order by as_of desc, created_at desc limit 1",
        [as_of],
    )
    return str(row[0]) if row else None
