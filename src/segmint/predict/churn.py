"""Churn propensity: will a buyer place no order in the next N days?

Trained on the features of an earlier as-of date (T0 = as_of - 2N) with labels from (T0, T0 + N], validated on a
later period (T1 = as_of - N, labels from (T1, as_of]), then refitted on that latest labelled period to score
today's customers. A recency-only baseline is evaluated on exactly the same periods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Literal, Protocol

import duckdb
import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from segmint.features import BEHAVIOUR_FEATURES
from segmint.predict.informative import informative
from segmint.predict.parallel import n_jobs, threads_for
from segmint.predict.sampling import training_rows
from segmint.warehouse import insert_row, query_frame, query_one

ChurnModel = Literal["gradient_boosting", "random_forest"]
FloatArray = npt.NDArray[np.float64]

#: Customer features the classifier sees (missing values stay NaN, which both tree ensembles handle natively).
CHURN_FEATURES: tuple[str, ...] = BEHAVIOUR_FEATURES
BASELINE_FEATURE = "recency_days"
# What fitting reads of a night's features: the other ~30 columns (names, dates, scores) would only take
# memory, about 1 GB for the two labelled nights at a million customers.
TRAINING_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(("customer_id", "is_prospect", *CHURN_FEATURES, BASELINE_FEATURE))
)
MIN_ROWS = 50


class InsufficientHistoryError(ValueError):
    """The warehouse does not hold enough history to train and validate a churn model."""


class _Classifier(Protocol):
    def fit(self, x: FloatArray, y: npt.NDArray[np.int_]) -> object: ...

    def predict_proba(self, x: FloatArray) -> FloatArray: ...


@dataclass(frozen=True)
class Scores:
    """Precision, recall, F1 (at a threshold) and ROC AUC of one scorer on one labelled period."""

    precision: float
    recall: float
    f1: float
    roc_auc: float


@dataclass(frozen=True)
class ChurnReport:
    """How the churn model and the recency baseline did on the later (validation) period."""

    model: str
    horizon_days: int
    train_as_of: date
    valid_as_of: date
    n_train: int
    n_valid: int
    churn_rate_valid: float
    threshold: float
    model_scores: Scores
    baseline_threshold: float
    baseline_scores: Scores
    features: tuple[str, ...]
    fit_seconds: float

    def as_row(self) -> dict[str, object]:
        """The churn_models row (without run_id and as_of)."""
        row = {k: v for k, v in asdict(self).items() if k not in {"model_scores", "baseline_scores"}}
        row.pop("baseline_threshold")
        row.update(asdict(self.model_scores))
        row.update({f"baseline_{k}": v for k, v in asdict(self.baseline_scores).items()})
        return row


@dataclass(frozen=True)
class ChurnResult:
    """The validated report and a churn score for every buyer at the as-of date."""

    report: ChurnReport
    scores: pl.DataFrame  # customer_id, churn_score
    dropped: tuple[str, ...] = ()  # features left out: no information in this shop


def churn_labels(con: duckdb.DuckDBPyConnection, as_of: date, horizon_days: int) -> pl.DataFrame:
    """customer_id of every customer with a non-cancelled order in the horizon after `as_of`."""
    return query_frame(
        con,
        """
        select distinct customer_id from orders
        where customer_id is not null and not is_cancellation
            and ordered_at >= cast(? as date) + interval 1 day
            and ordered_at < cast(? as date) + interval 1 day + to_days(cast(? as integer))
        """,
        [as_of, as_of, horizon_days],
    )


def buyers_at(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.Series:
    """customer_id of every buyer at the end of `as_of` (a non-cancelled order by then), in id order: the
    customers whose features are not a prospect's."""
    return query_frame(
        con,
        """
        select distinct customer_id from orders
        where customer_id is not null and not is_cancellation and ordered_at < cast(? as date) + interval 1 day
        order by customer_id
        """,
        [as_of],
    )["customer_id"]


def label(features: pl.DataFrame, active: pl.DataFrame) -> pl.DataFrame:
    """Buyers of `features` with `churned` = 1 when they are not among the `active` customer ids."""
    buyers = features.filter(~pl.col("is_prospect")) if "is_prospect" in features.columns else features
    ids = active.get_column("customer_id").implode()
    return buyers.with_columns(churned=(~pl.col("customer_id").is_in(ids)).cast(pl.Int8))


def matrix(frame: pl.DataFrame, columns: tuple[str, ...]) -> FloatArray:
    """The numeric feature matrix (nulls as NaN) for scikit-learn."""
    present = [c for c in columns if c in frame.columns]
    return np.asarray(
        frame.select(pl.col(c).cast(pl.Float64).fill_null(float("nan")) for c in present).to_numpy(),
        dtype=np.float64,
    )


def _classifier(model: ChurnModel, seed: int, n_rows: int) -> _Classifier:
    if model == "random_forest":
        # Leaves of 20 customers keep probabilities smooth; trees are independent, so use both cores.
        forest: _Classifier = RandomForestClassifier(
            n_estimators=200, min_samples_leaf=20, n_jobs=n_jobs(n_rows), random_state=seed
        )
        return forest
    boosting: _Classifier = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, random_state=seed)
    return boosting


def _baseline(seed: int) -> _Classifier:
    logistic: _Classifier = LogisticRegression(random_state=seed)
    return logistic


def best_threshold(y: npt.NDArray[np.int_], p: FloatArray) -> float:
    """The probability cut-off that maximises F1 on (y, p)."""
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    k = np.arange(1, y.size + 1)
    f1 = 2 * tp / (k + y.sum())
    # Only cut between distinct scores: ties fall on the same side of any threshold.
    last_of_tie = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    best = int(np.argmax(np.where(last_of_tie, f1, -1.0)))
    return float(p_sorted[best])


def evaluate(y: npt.NDArray[np.int_], p: FloatArray, threshold: float) -> Scores:
    """Precision, recall and F1 at `threshold` and the threshold-free ROC AUC."""
    predicted = (p >= threshold).astype(np.int8)
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else float("nan")
    return Scores(
        precision=float(precision_score(y, predicted, zero_division=0)),
        recall=float(recall_score(y, predicted, zero_division=0)),
        f1=float(f1_score(y, predicted, zero_division=0)),
        roc_auc=auc,
    )


def _check(frame: pl.DataFrame, day: date, horizon_days: int) -> None:
    if frame.height < MIN_ROWS:
        raise InsufficientHistoryError(
            f"churn needs at least {MIN_ROWS} buyers on {day} to learn from; you have {frame.height}"
        )
    churned = int(frame["churned"].sum())
    if churned == frame.height:
        raise InsufficientHistoryError(
            f"churn needs some buyers of {day} to buy again in the {horizon_days} days after; "
            f"none of {frame.height} did"
        )
    if churned == 0:
        raise InsufficientHistoryError(
            f"churn needs some buyers of {day} not to buy again in the {horizon_days} days after; "
            f"all {frame.height} did"
        )


def _fit_with_threshold(
    clf: _Classifier, x: FloatArray, y: npt.NDArray[np.int_], seed: int
) -> tuple[_Classifier, float]:
    # The cut-off is chosen on a slice of the training period the classifier did not see: in-sample
    # probabilities of boosted trees are overconfident and would pick a useless threshold.
    rng = np.random.default_rng(seed)
    tune = rng.random(y.size) < 0.2
    if len(np.unique(y[~tune])) < 2 or len(np.unique(y[tune])) < 2:
        clf.fit(x, y)
        return clf, 0.5
    clf.fit(x[~tune], y[~tune])
    return clf, best_threshold(y[tune], clf.predict_proba(x[tune])[:, 1])


def sample_labelled(frame: pl.DataFrame, max_rows: int | None, seed: int) -> pl.DataFrame:
    """At most `max_rows` labelled buyers, churned and active in their shares (all of them when fewer)."""
    rows = training_rows(frame["churned"].to_numpy(), max_rows, seed)
    return frame if rows is None else frame[rows]


def train_and_validate(
    train: pl.DataFrame,
    valid: pl.DataFrame,
    *,
    horizon_days: int,
    train_as_of: date,
    valid_as_of: date,
    model: ChurnModel = "gradient_boosting",
    seed: int = 42,
    max_training_rows: int | None = None,
) -> ChurnReport:
    """Fit on `train`, report model and recency baseline on the later `valid` period (both labelled).

    Past `max_training_rows` buyers both learn from a stratified sample of `train`; `valid` is scored whole
    (fit_churn may pass a stratified sample of it).
    """
    _check(train, train_as_of, horizon_days)
    _check(valid, valid_as_of, horizon_days)
    # Only features with information in both periods: the model is fitted on each of them in turn.
    features, _ = informative((train, valid), CHURN_FEATURES)
    if not features:
        raise InsufficientHistoryError(
            f"churn needs features that differ between buyers; all {len(CHURN_FEATURES)} are empty or constant"
        )
    n_train = train.height
    train = sample_labelled(train, max_training_rows, seed)
    with threads_for(max(train.height, valid.height)):
        started = time.perf_counter()
        y_train = train["churned"].to_numpy().astype(np.int_)
        y_valid = valid["churned"].to_numpy().astype(np.int_)
        clf, threshold = _fit_with_threshold(
            _classifier(model, seed, train.height), matrix(train, features), y_train, seed
        )
        fit_seconds = time.perf_counter() - started
        model_scores = evaluate(y_valid, clf.predict_proba(matrix(valid, features))[:, 1], threshold)

        base_x = np.nan_to_num(matrix(train, (BASELINE_FEATURE,)), nan=0.0)
        base, base_threshold = _fit_with_threshold(_baseline(seed), base_x, y_train, seed)
        base_p = base.predict_proba(np.nan_to_num(matrix(valid, (BASELINE_FEATURE,)), nan=0.0))[:, 1]
    return ChurnReport(
        model=model,
        horizon_days=horizon_days,
        train_as_of=train_as_of,
        valid_as_of=valid_as_of,
        n_train=n_train,
        n_valid=valid.height,
        churn_rate_valid=float(y_valid.mean()),
        threshold=threshold,
        model_scores=model_scores,
        baseline_threshold=base_threshold,
        baseline_scores=evaluate(y_valid, base_p, base_threshold),
        features=features,
        fit_seconds=fit_seconds,
    )


def score(
    labelled: pl.DataFrame,
    current: pl.DataFrame,
    *,
    model: ChurnModel = "gradient_boosting",
    seed: int = 42,
    features: tuple[str, ...] = CHURN_FEATURES,
    max_training_rows: int | None = None,
) -> pl.DataFrame:
    """Fit on the latest labelled period (a stratified sample past `max_training_rows`) and score the
    buyers of `current`: customer_id, churn_score."""
    buyers = current.filter(~pl.col("is_prospect")) if "is_prospect" in current.columns else current
    if buyers.height == 0:
        return pl.DataFrame(schema={"customer_id": pl.String, "churn_score": pl.Float64})
    labelled = sample_labelled(labelled, max_training_rows, seed)
    with threads_for(max(labelled.height, buyers.height)):
        clf = _classifier(model, seed, labelled.height)
        clf.fit(matrix(labelled, features), labelled["churned"].to_numpy().astype(np.int_))
        p = clf.predict_proba(matrix(buyers, features))[:, 1]
    return buyers.select("customer_id").with_columns(churn_score=pl.Series(p, dtype=pl.Float64))


def _training_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(c for c in TRAINING_COLUMNS if c in frame.columns)


FeaturesAt = Callable[[date, pl.Series | None], pl.DataFrame]


def _labelled(
    features_at: FeaturesAt,
    active_after: Callable[[date, int], pl.DataFrame],
    buyers_at: Callable[[date], pl.Series] | None,
    day: date,
    horizon_days: int,
    max_rows: int | None,
    seed: int,
) -> tuple[pl.DataFrame, int]:
    """The labelled buyers of `day` and how many there are. Past `max_rows`, when `buyers_at` names the
    buyers, only the stratified sample the fits would draw from all of them, and only its features are
    computed (a point-in-time night of a million customers takes 5 s, of 200,000 of them 2.5 s)."""
    active = active_after(day, horizon_days)
    customers = None
    if buyers_at is not None:
        buyers = buyers_at(day)
        churned = (~buyers.is_in(active["customer_id"].implode())).cast(pl.Int8)
        rows = training_rows(churned.to_numpy(), max_rows, seed)
        customers = None if rows is None else buyers.gather(rows)
    labelled = label(_training_columns(features_at(day, customers)), active)
    return labelled, labelled.height if customers is None else buyers.len()


def fit_churn(
    features_at: FeaturesAt,
    active_after: Callable[[date, int], pl.DataFrame],
    as_of: date,
    *,
    horizon_days: int = 90,
    model: ChurnModel = "gradient_boosting",
    seed: int = 42,
    max_training_rows: int | None = None,
    buyers_at: Callable[[date], pl.Series] | None = None,
) -> ChurnResult:
    """Train at as_of - 2N, validate at as_of - N, refit on the latter and score the buyers at `as_of`.

    Each fit learns from at most `max_training_rows` buyers (stratified by the label); all are scored.
    With `buyers_at`, the two earlier nights are that sample from the start, so the validation scores a
    stratified sample of as many buyers (the models are the same as without it).
    """
    valid_as_of = as_of - timedelta(days=horizon_days)
    train_as_of = valid_as_of - timedelta(days=horizon_days)
    args = (features_at, active_after, buyers_at)
    train, n_train = _labelled(*args, train_as_of, horizon_days, max_training_rows, seed)
    valid, _ = _labelled(*args, valid_as_of, horizon_days, max_training_rows, seed)
    report = train_and_validate(
        train,
        valid,
        horizon_days=horizon_days,
        train_as_of=train_as_of,
        valid_as_of=valid_as_of,
        model=model,
        seed=seed,
        max_training_rows=max_training_rows,
    )
    started = time.perf_counter()
    scores = score(
        valid,
        _training_columns(features_at(as_of, None)),
        model=model,
        seed=seed,
        features=report.features,
        max_training_rows=max_training_rows,
    )
    report = replace(report, n_train=n_train, fit_seconds=report.fit_seconds + time.perf_counter() - started)
    dropped = tuple(c for c in CHURN_FEATURES if c in train.columns and c not in report.features)
    return ChurnResult(report=report, scores=scores, dropped=dropped)


@dataclass(frozen=True)
class ChurnOutcome:
    """What churn predictions made `horizon_days` ago said, against what then happened."""

    prediction_run_id: str
    predicted_as_of: date
    outcome_as_of: date
    n_customers: int
    predicted_churn_rate: float  # mean churn score
    actual_churn_rate: float
    threshold: float
    scores: Scores  # of the old scores against the observed labels
    by_segment: pl.DataFrame  # segment_name, customers, predicted_churn_rate, actual_churn_rate


def churn_outcomes(
    con: duckdb.DuckDBPyConnection, as_of: date, horizon_days: int = 90
) -> ChurnOutcome | None:
    """Compare the churn scores of the latest prediction run at least `horizon_days` before `as_of` with what happened."""
    row = query_one(
        con,
        """
        select p.run_id, p.as_of, coalesce(m.threshold, 0.5)
        from prediction_runs p
        left join churn_models m on m.run_id = p.run_id
        where p.as_of <= cast(? as date) - to_days(cast(? as integer))
            and exists (select 1 from customer_predictions c where c.run_id = p.run_id and c.churn_score is not null)
        order by p.as_of desc, p.created_at desc
        limit 1
        """,
        [as_of, horizon_days],
    )
    if row is None:
        return None
    run_id, predicted_as_of, threshold = str(row[0]), row[1], float(row[2])
    predictions = query_frame(
        con,
        "select customer_id, coalesce(segment_name, 'unassigned') as segment_name, churn_score "
        "from customer_predictions where run_id = ? and churn_score is not null",
        [run_id],
    )
    observed = label(predictions, churn_labels(con, predicted_as_of, horizon_days))
    y = observed["churned"].to_numpy().astype(np.int_)
    p = observed["churn_score"].to_numpy().astype(np.float64)
    by_segment = (
        observed.group_by("segment_name")
        .agg(
            customers=pl.len(),
            predicted_churn_rate=pl.col("churn_score").mean(),
            actual_churn_rate=pl.col("churned").cast(pl.Float64).mean(),
        )
        .sort("segment_name")
    )
    return ChurnOutcome(
        prediction_run_id=run_id,
        predicted_as_of=predicted_as_of,
        outcome_as_of=predicted_as_of + timedelta(days=horizon_days),
        n_customers=observed.height,
        predicted_churn_rate=float(p.mean()) if p.size else math.nan,
        actual_churn_rate=float(y.mean()) if y.size else math.nan,
        threshold=threshold,
        scores=evaluate(y, p, threshold),
        by_segment=by_segment,
    )


def store_churn_backtest(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, horizon_days: int
) -> ChurnOutcome | None:
    """Judge the scores of one horizon before `as_of` (churn_outcomes) and store it under `run_id`."""
    outcome = churn_outcomes(con, as_of, horizon_days)
    if outcome is None:
        return None
    scores = outcome.scores
    insert_row(
        con,
        "churn_backtests",
        {
            "run_id": run_id,
            "as_of": as_of,
            "horizon_days": horizon_days,
            "predicted_run_id": outcome.prediction_run_id,
            "predicted_as_of": outcome.predicted_as_of,
            "outcome_as_of": outcome.outcome_as_of,
            "n_customers": outcome.n_customers,
            "predicted_churn_rate": outcome.predicted_churn_rate,
            "actual_churn_rate": outcome.actual_churn_rate,
            "threshold": outcome.threshold,
            "precision": scores.precision,
            "recall": scores.recall,
            "f1": scores.f1,
            "roc_auc": scores.roc_auc,
        },
    )
    return outcome
