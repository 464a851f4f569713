"""One prediction run: lifetime value, churn, anomalies and basket rules for an as-of date, stored together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import polars as pl

from segmint.config import PredictSettings
from segmint.features import BEHAVIOUR_FEATURES, features_at, web_gap
from segmint.predict import clv
from segmint.predict.anomalies import anomaly_features, detect_anomalies
from segmint.predict.basket import BasketThresholds, store_basket_rules, store_recommendations
from segmint.predict.churn import (
    TRAINING_COLUMNS,
    ChurnReport,
    InsufficientHistoryError,
    buyers_at,
    churn_labels,
    fit_churn,
    store_churn_backtest,
)
from segmint.predict.informative import describe_dropped
from segmint.predict.next_order import check_next_order, next_order_columns
from segmint.predict.purchases import net_purchases
from segmint.predict.recommend import (
    EVAL_DAYS,
    Evaluation,
    PurchaseHistory,
    chosen_method,
    evaluate,
    evaluated_methods,
    lookback,
    recommend,
    store_evaluation,
    store_method_recommendations,
)
from segmint.runs import prediction_run, published_run
from segmint.warehouse import insert_row, query_frame, query_one, transaction

CLV_HORIZON_DAYS = 90
#: The holdout of the nightly CLV check (a third of the history when that is shorter), and its minimum.
CLV_HOLDOUT_DAYS = 90
MIN_HOLDOUT_DAYS = 14


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
    recommender: str | None = None  # the method that filled basket_recommendations
    recommendation_evaluation: Evaluation | None = None
    bgnbd: clv.PurchaseParams | None = None  # the purchase model used (BG/NBD or a fallback)
    gamma_gamma: clv.GammaGammaParams | None = None
    churn: ChurnReport | None = None
    clv_fits: tuple[clv.FittedModel, ...] = ()
    clv_validation: dict[str, object] | None = None
    churn_dropped: tuple[str, ...] = ()
    anomaly_dropped: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def published_segment_run(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """The published segment run in force on `as_of` (the latest one not after it), if any."""
    found = published_run(con, upto=as_of)
    return found[0] if found else None


def clv_transactions(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Net purchases of known customers up to the end of `as_of` (see purchases.net_purchases)."""
    return net_purchases(con, as_of).select("customer_id", "ordered_at", "revenue")


def _summary(transactions: pl.DataFrame, end: date) -> pl.DataFrame:
    return clv.rfm_summary(
        transactions,
        customer_col="customer_id",
        date_col="ordered_at",
        value_col="revenue",
        calibration_end=end,
    )


def _max(values: pl.Series) -> float:
    return float(np.max(values.cast(pl.Float64).to_numpy(), initial=0.0))


def shop_history(transactions: pl.DataFrame) -> clv.History:
    """The busiest 13 weeks of purchases (customer-days) and net revenue, per week."""
    daily = (
        transactions.group_by(pl.col("ordered_at").cast(pl.Date).alias("day"))
        .agg(purchases=pl.col("customer_id").n_unique(), revenue=pl.col("revenue").sum())
        .sort("day")
    )
    window = daily.rolling("day", period="91d").agg(pl.col("purchases").sum(), pl.col("revenue").sum())
    return clv.History(
        purchases_per_week=_max(window["purchases"]) / 13.0,
        revenue_per_week=_max(window["revenue"]) / 13.0,
    )


def _fit_clv(
    transactions: pl.DataFrame, settings: PredictSettings, as_of: date, outcome: PredictionOutcome
) -> pl.DataFrame | None:
    if transactions.height == 0:
        outcome.messages.append("lifetime value skipped: no purchases up to the as-of date")
        return None
    started = time.perf_counter()
    try:
        checked = clv.fit_clv_checked(
            _summary(transactions, as_of),
            horizon_days=CLV_HORIZON_DAYS,
            months=settings.clv_months,
            monthly_discount_rate=settings.clv_monthly_discount_rate,
            history=shop_history(transactions),
            max_training_rows=settings.max_training_rows,
            seed=settings.seed,
        )
    except ValueError as exc:
        outcome.messages.append(f"lifetime value skipped: {exc}")
        return None
    outcome.clv_fits = checked.fits
    outcome.bgnbd, outcome.gamma_gamma = checked.purchase, checked.spend
    outcome.seconds["clv"] = time.perf_counter() - started
    for fit in checked.fits:
        # A diagnosis the summary below already quotes is said once.
        if fit.diagnosis is not None and fit.diagnosis not in (checked.unreliable or ""):
            spend = fit.name.startswith("gamma")
            used = next(
                (f.name for f in checked.fits if f.used and f.name.startswith("gamma") == spend), None
            )
            then = f"; used {_MODEL_NAMES[used]} instead" if used else ""
            outcome.messages.append(f"{_MODEL_NAMES[fit.name]} degenerate: {fit.diagnosis}{then}")
    if checked.unreliable is not None:
        outcome.messages.append(f"{CLV_NOT_RELIABLE}{checked.unreliable}")
    if checked.scores is None or checked.purchase is None:
        outcome.messages.append("next order skipped: no purchase model could be fitted")
        return None
    return checked.scores.select(
        "customer_id",
        pl.col("frequency").alias("frequency_repeat"),
        pl.col("recency").alias("recency_weeks"),
        pl.col("T").alias("age_weeks"),
        pl.col(f"expected_purchases_{CLV_HORIZON_DAYS}d").alias("expected_purchases_90d"),
        "p_alive",
        # customer_predictions.clv_12m holds the value over the configured clv_months (12 by default).
        pl.col(f"clv_{settings.clv_months}m").alias("clv_12m"),
    ).join(next_order_columns(checked.purchase, checked.scores, as_of), on="customer_id", how="left")


_MODEL_NAMES = clv.MODEL_NAMES


def holdout_days(first_purchase: date, as_of: date) -> int:
    """The CLV holdout: 90 days, or a third of the history when that is shorter."""
    return min(CLV_HOLDOUT_DAYS, ((as_of - first_purchase).days + 1) // 3)


def validate_clv(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    max_training_rows: int | None = None,
    seed: int = 42,
    transactions: pl.DataFrame | None = None,
) -> tuple[dict[str, object] | None, str | None]:
    """Fit on net purchases up to as_of - H, predict purchases in (as_of - H, as_of]: (clv_validation row, message).

    The fit samples customers as the night's own fit does (`max_training_rows`), so the check judges it.
    `transactions` are clv_transactions(con, as_of) when the caller has them already.
    """
    everything = clv_transactions(con, as_of) if transactions is None else transactions
    if everything.height == 0:
        return None, None
    first = everything["ordered_at"].min()
    assert isinstance(first, datetime)
    holdout = holdout_days(first.date(), as_of)
    if holdout < MIN_HOLDOUT_DAYS:
        days = (as_of - first.date()).days + 1
        return None, (
            f"lifetime value not validated: it needs {3 * MIN_HOLDOUT_DAYS} days of purchases; you have {days}"
        )
    calibration_end = as_of - timedelta(days=holdout)
    calibration = clv_transactions(con, calibration_end)
    summary = _summary(calibration, calibration_end)
    try:
        checked = clv.fit_clv_checked(
            summary,
            horizon_days=holdout,
            history=shop_history(calibration),
            max_training_rows=max_training_rows,
            seed=seed,
        )
    except ValueError as exc:
        return None, f"lifetime value not validated: {exc}"
    later = (
        everything.filter(
            (pl.col("ordered_at").cast(pl.Date) > calibration_end)
            & (pl.col("ordered_at").cast(pl.Date) <= as_of)
        )
        .group_by("customer_id", pl.col("ordered_at").cast(pl.Date).alias("day"))
        .agg(pl.col("revenue").sum())
        .group_by("customer_id")
        .agg(actual=pl.len().cast(pl.Float64), actual_revenue=pl.col("revenue").sum())
    )
    frame = summary.join(later, on="customer_id", how="left").with_columns(
        pl.col("actual").fill_null(0.0),
        pl.col("actual_revenue").fill_null(0.0),
        # Each customer's own past repeat rate (repeat purchase days per week since the first purchase).
        baseline=pl.when(pl.col("T") > 0)
        .then(pl.col("frequency") / pl.col("T") * (holdout / 7.0))
        .otherwise(0.0),
    )
    if checked.scores is not None:
        scores = checked.scores.select(
            "customer_id", pl.col(f"expected_purchases_{holdout}d").alias("predicted")
        )
        frame = frame.join(scores, on="customer_id", how="left")
        if checked.spend is not None:
            value = clv.expected_average_value(
                checked.spend, frame["frequency"].to_numpy(), frame["monetary_value"].to_numpy()
            )
            frame = frame.with_columns(predicted_revenue=pl.col("predicted") * pl.Series(value))
    actual = float(frame["actual"].sum())
    actual_revenue = float(frame["actual_revenue"].sum())

    def ratio(predicted: float | None, observed: float) -> float | None:
        return None if predicted is None or observed == 0 else predicted / observed

    def mae(column: str, observed: str = "actual") -> float | None:
        if column not in frame.columns:
            return None
        return float(np.mean(np.abs(frame[column].to_numpy() - frame[observed].to_numpy())))

    predicted = float(frame["predicted"].sum()) if "predicted" in frame.columns else None
    predicted_revenue = (
        float(frame["predicted_revenue"].sum()) if "predicted_revenue" in frame.columns else None
    )
    baseline = float(frame["baseline"].sum())
    row: dict[str, object] = {
        "as_of": as_of,
        "calibration_end": calibration_end,
        "holdout_days": holdout,
        "model": checked.purchase.model if checked.purchase else None,
        "n_customers": frame.height,
        "actual_purchases": actual,
        "predicted_purchases": predicted,
        "purchases_ratio": ratio(predicted, actual),
        "purchases_mae": mae("predicted"),
        "baseline_predicted_purchases": baseline,
        "baseline_ratio": ratio(baseline, actual),
        "baseline_mae": mae("baseline"),
        "actual_revenue": actual_revenue,
        "predicted_revenue": predicted_revenue,
        "revenue_ratio": ratio(predicted_revenue, actual_revenue),
        "revenue_mae": mae("predicted_revenue", "actual_revenue"),
        "message": checked.unreliable,
    }
    if checked.purchase is not None:
        check = check_next_order(checked.purchase, summary, everything, calibration_end, as_of)
        if check is not None:
            row |= {f"next_order_{k}": v for k, v in asdict(check).items()}
    return row, None


def _fit_churn(
    con: duckdb.DuckDBPyConnection,
    settings: PredictSettings,
    as_of: date,
    current: pl.DataFrame,
    outcome: PredictionOutcome,
) -> pl.DataFrame | None:
    horizon = settings.churn_horizon_days

    def features(day: date, customers: pl.Series | None) -> pl.DataFrame:
        return current if day == as_of else features_at(con, day, TRAINING_COLUMNS, customers)

    def active(day: date, days: int) -> pl.DataFrame:
        return churn_labels(con, day, days)

    first = query_one(con, "select min(ordered_at) from orders where customer_id is not null")
    train_as_of = as_of - timedelta(days=2 * horizon)
    if first is None or first[0] is None or first[0].date() > train_as_of - timedelta(days=horizon):
        # Training features need some history before T0, or every buyer looks brand new.
        days = 0 if first is None or first[0] is None else max((as_of - first[0].date()).days + 1, 0)
        outcome.messages.append(
            f"churn skipped: churn needs {3 * horizon} days of orders (three churn horizons of {horizon} days); "
            f"you have {days}"
        )
        return None
    try:
        result = fit_churn(
            features,
            active,
            as_of,
            horizon_days=horizon,
            model=settings.churn_model,
            seed=settings.seed,
            max_training_rows=settings.max_training_rows,
            buyers_at=lambda day: buyers_at(con, day),
        )
    except InsufficientHistoryError as exc:
        outcome.messages.append(f"churn skipped: {exc}")
        return None
    outcome.churn_dropped = result.dropped
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
    extra = {"time_unit": "weeks", "months": settings.clv_months}
    for fit in outcome.clv_fits:
        params = fit.params
        values: dict[str, object]
        if isinstance(params, clv.BGNBDParams):
            values = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}
        elif isinstance(params, clv.ParetoNBDParams):
            values = {"r": params.r, "alpha": params.alpha, "s": params.s, "beta": params.beta}
        else:
            values = {"p": params.p, "q": params.q, "gamma": params.gamma}
        insert_row(
            con,
            "clv_models",
            {
                "run_id": run_id,
                "as_of": as_of,
                "model": fit.name,
                "params": json.dumps(values | extra),
                "log_likelihood": params.log_likelihood,
                "n_customers": params.n_customers,
                "fit_seconds": outcome.seconds.get("clv"),
                "used": fit.used,
                "diagnosis": fit.diagnosis,
            },
        )
    if outcome.clv_validation is not None:
        insert_row(con, "clv_validation", {"run_id": run_id} | outcome.clv_validation)
    if outcome.churn is not None:
        row = outcome.churn.as_row() | {"run_id": run_id, "as_of": as_of}
        row["features"] = json.dumps(list(outcome.churn.features))
        insert_row(con, "churn_models", row)


def _dropped_messages(con: duckdb.DuckDBPyConnection, as_of: date, outcome: PredictionOutcome) -> list[str]:
    """Which features the models left out because they carry no information in this shop, in plain words."""
    models: list[str] = []
    dropped: set[str] = set()
    if outcome.churn is not None and outcome.churn_dropped:
        models.append("churn")
        dropped.update(outcome.churn_dropped)
    if outcome.anomaly_dropped and outcome.n_customers >= 20:
        models.append("anomalies")
        dropped.update(outcome.anomaly_dropped)
    if not models:
        return []
    names = [c for c in BEHAVIOUR_FEATURES if c in dropped]
    return [
        f"{' and '.join(models)} left out features with no information in this shop: "
        f"{describe_dropped(names, web_gap=web_gap(con, as_of))}"
    ]


def _segments(con: duckdb.DuckDBPyConnection, segment_run_id: str | None) -> pl.DataFrame:
    return query_frame(
        con,
        "select customer_id, segment_id, segment_name from segment_assignments where run_id = ?",
        [segment_run_id],
    )


def _recommend(
    con: duckdb.DuckDBPyConnection,
    settings: PredictSettings,
    as_of: date,
    thresholds: BasketThresholds,
    outcome: PredictionOutcome,
) -> pl.DataFrame | None:
    """Evaluate the recommender and popularity on the last 90 days, pick one, return its rows (None: rules' SQL)."""
    started = time.perf_counter()
    lookback_days = settings.basket_lookback_days
    night, split = lookback(as_of, lookback_days), lookback(as_of - timedelta(days=EVAL_DAYS), lookback_days)
    # One aggregate of the order lines serves the evaluation's matrix, its new purchases and the night's.
    with PurchaseHistory(con, [night, split]) as history:
        if settings.recommendation_evaluation:
            evaluation = evaluate(
                con,
                as_of,
                lookback_days=lookback_days,
                recency_days=settings.basket_recency_days,
                segment_run_id=published_segment_run(con, split.upto),
                thresholds=thresholds,
                methods=evaluated_methods(settings.recommender),
                n_neighbours=settings.recommendation_neighbours,
                max_products=settings.recommendation_max_products,
                history=history,
            )
            if evaluation.message:
                outcome.messages.append(evaluation.message)
            else:
                outcome.recommendation_evaluation = evaluation
            outcome.seconds["recommendation_evaluation"] = time.perf_counter() - started
        outcome.recommender = chosen_method(settings.recommender, outcome.recommendation_evaluation)
        if outcome.recommender == "rules":
            return None
        return recommend(
            con,
            outcome.recommender,
            as_of,
            k=settings.recommendations,
            lookback_days=lookback_days,
            recency_days=settings.basket_recency_days,
            n_neighbours=settings.recommendation_neighbours,
            max_products=settings.recommendation_max_products,
            history=history,
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
    # The night's net purchases serve the fit and its holdout check (netting them is a few seconds at
    # a million customers); the check runs here so that they are not held through the other models.
    transactions = clv_transactions(con, as_of)
    clv_scores = _fit_clv(transactions, settings, as_of, outcome)
    started_validation = time.perf_counter()
    outcome.clv_validation, validation_message = validate_clv(
        con,
        as_of,
        max_training_rows=settings.max_training_rows,
        seed=settings.seed,
        transactions=transactions,
    )
    outcome.seconds["clv_validation"] = time.perf_counter() - started_validation
    del transactions
    if clv_scores is None and outcome.clv_validation is not None:
        # The holdout's fit can succeed where tonight's did not: its next-order check would then judge
        # dates that no customer was given tonight.
        outcome.clv_validation = {
            k: v for k, v in outcome.clv_validation.items() if not k.startswith("next_order_")
        }
    if clv_scores is not None:
        predictions = predictions.join(clv_scores, on="customer_id", how="left")
        # A buyer whose every purchase was cancelled or refunded away has no net purchase to project from:
        # worth nothing so far and expected to buy nothing, not "unknown" (when the fit gave values at all).
        if clv_scores.get_column("clv_12m").is_not_null().any():
            buyers = current.filter(~pl.col("is_prospect")).get_column("customer_id").implode()
            no_net_purchase = pl.col("customer_id").is_in(buyers) & pl.col("clv_12m").is_null()
            predictions = predictions.with_columns(
                pl.when(no_net_purchase).then(0.0).otherwise(pl.col(c)).alias(c)
                for c in ("clv_12m", "expected_purchases_90d")
            )
    churn_scores = _fit_churn(con, settings, as_of, current, outcome)
    if churn_scores is not None:
        predictions = predictions.join(churn_scores, on="customer_id", how="left")

    started = time.perf_counter()
    _, outcome.anomaly_dropped = anomaly_features(current)
    flagged = detect_anomalies(current, contamination=settings.anomaly_contamination, seed=settings.seed)
    if current.height < 20:
        outcome.messages.append(
            f"anomalies skipped: they need at least 20 customers; you have {current.height}"
        )
    outcome.messages.extend(_dropped_messages(con, as_of, outcome))
    if validation_message:
        outcome.messages.append(validation_message)
    outcome.seconds["anomalies"] = time.perf_counter() - started
    predictions = predictions.join(flagged, on="customer_id", how="left").with_columns(
        pl.col("is_anomaly").fill_null(False)
    )
    outcome.n_anomalies = int(predictions["is_anomaly"].sum())

    thresholds = BasketThresholds(
        min_support=settings.basket_min_support,
        min_confidence=settings.basket_min_confidence,
        min_lift=settings.basket_min_lift,
        min_pair_count=settings.basket_min_pair_count,
        lookback_days=settings.basket_lookback_days,
    )
    recommended = _recommend(con, settings, as_of, thresholds, outcome)

    with transaction(con):
        for table in (
            "customer_predictions",
            "anomalies",
            "prediction_runs",
            "clv_models",
            "churn_models",
            "clv_validation",
            "churn_backtests",
        ):
            con.execute(f"delete from {table} where run_id = ?", [run_id])
        _store_models(con, settings, run_id, as_of, outcome)
        store_churn_backtest(con, run_id, as_of, settings.churn_horizon_days)
        con.register("prediction_rows", predictions)
        con.execute(
            "insert into customer_predictions by name "
            "select ? as run_id, cast(? as date) as as_of, * from prediction_rows",
            [run_id, as_of],
        )
        con.execute(
            "insert into anomalies (run_id, as_of, customer_id, score, reason) "
            "select ?, cast(? as date), customer_id, anomaly_score, anomaly_reason "
            "from prediction_rows where is_anomaly",
            [run_id, as_of],
        )
        con.unregister("prediction_rows")
        started = time.perf_counter()
        outcome.n_rules = store_basket_rules(con, run_id, as_of, outcome.segment_run_id, thresholds)
        if recommended is None:
            outcome.n_recommendations = store_recommendations(
                con,
                run_id,
                as_of,
                outcome.segment_run_id,
                settings.recommendations,
                settings.basket_recency_days,
            )
        else:
            outcome.n_recommendations = store_method_recommendations(con, run_id, recommended)
        con.execute("delete from recommendation_evaluations where run_id = ?", [run_id])
        if outcome.recommendation_evaluation is not None and outcome.recommender is not None:
            store_evaluation(con, run_id, outcome.recommendation_evaluation, outcome.recommender)
        outcome.seconds["basket"] = time.perf_counter() - started
        insert_row(
            con,
            "prediction_runs",
            {
                "run_id": run_id,
                "as_of": as_of,
                "segment_run_id": outcome.segment_run_id,
                "created_at": datetime.now(),
                "n_customers": outcome.n_customers,
                "n_anomalies": outcome.n_anomalies,
                "n_rules": outcome.n_rules,
                "message": "; ".join(outcome.messages) or None,
            },
        )
    return outcome


def latest_prediction_run(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """The most recent prediction run for an as-of date not after `as_of` (see runs.prediction_run)."""
    found = prediction_run(con, as_of)
    return found[0] if found else None


# How a night says its lifetime values are not to be used (prediction_runs.message and runs.message), in the
# same words as the report's banner; runs stored before carry the older prefix.
CLV_NOT_RELIABLE = "Lifetime values are not reliable for this shop: "
CLV_NOT_RELIABLE_BEFORE = ("CLV not reliable for this shop: ",)

# Lifetime value is shown and used only when the night's holdout check passed: its purchase forecast for
# the held-out days is within a factor of two of what happened and no worse than each customer's past rate.
CLV_RATIO_RANGE = (0.5, 2.0)


def clv_unreliable(con: duckdb.DuckDBPyConnection, run_id: str | None) -> str | None:
    """Why the lifetime values of prediction run `run_id` are not to be trusted (plain words), or None."""
    if run_id is None:
        return "no lifetime values have been predicted yet"

    def table(name: str) -> bool:
        found = query_one(con, "select count(*) from information_schema.tables where table_name = ?", [name])
        return bool(found and found[0])

    run = (
        query_one(con, "select message from prediction_runs where run_id = ?", [run_id])
        if table("prediction_runs")
        else None
    )
    message = str(run[0]) if run and run[0] else ""
    said = next(
        (
            part.removeprefix(prefix)
            for part in message.split("; ")
            for prefix in (CLV_NOT_RELIABLE, *CLV_NOT_RELIABLE_BEFORE)
            if part.startswith(prefix)
        ),
        None,
    )
    if said:
        return f"lifetime values are not reliable for this shop ({said})"
    row = (
        query_one(
            con,
            "select holdout_days, purchases_ratio, purchases_mae, baseline_mae, message "
            "from clv_validation where run_id = ? limit 1",
            [run_id],
        )
        if table("clv_validation")
        else None
    )
    if row is None:
        return "the lifetime-value model has not been checked against held-out purchases yet (too little history)"
    days, ratio, mae, baseline_mae, why = row
    if why:
        return f"the lifetime-value model failed its holdout check ({why})"
    if ratio is None or mae is None:
        return "the lifetime-value model made no forecast to check against held-out purchases"
    low, high = CLV_RATIO_RANGE
    if not low <= float(ratio) <= high:
        return (
            f"the lifetime-value model failed its holdout check: it expected {float(ratio):.1f} times "
            f"the purchases that happened in the last {int(days)} days"
        )
    if float(mae) > float(baseline_mae):
        return (
            f"the lifetime-value model failed its holdout check: it forecast the last {int(days)} days' "
            "purchases less well than each customer's past buying rate"
        )
    return None
