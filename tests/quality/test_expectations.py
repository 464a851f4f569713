"""Every expectation of every suite passes on good rows and fails on a crafted bad row (real GX)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segmint.quality.engine import Engine
from segmint.quality.frames import INDEX_COLUMNS
from segmint.quality.suites import Scope, load_suites

N = 20
T0 = datetime(2026, 11, 20, 8, 0)
# Strict parameters: one bad row fails (tolerances are tested with real batches in test_wap.py).
PARAMS: dict[str, Any] = {
    "mostly": 1.0,
    "quarantine_mostly": 1.0,
    "duplicate_mostly": 1.0,
    "guest_mostly": 0.5,
    "window_start": T0 - timedelta(days=7),
    "window_end": T0 + timedelta(days=1),
    "price_median_min": 2.0,
    "price_median_max": 200.0,
}
ids = [f"{i:03d}" for i in range(1, N + 1)]


def minutes(n: int = N) -> pd.Series:
    return pd.Series([T0 + timedelta(minutes=i) for i in range(n)], dtype="datetime64[ns]")


def good(table: str, scope: Scope) -> pd.DataFrame:
    """Rows that pass every expectation of the table's suite in this scope."""
    price = [10.0 + i for i in range(N)]
    if table == "orders":
        frame = pd.DataFrame(
            {
                "order_id": [f"O{i}" for i in ids],
                "customer_id": [f"C{i}" for i in ids],
                "ordered_at": minutes(),
                "new_ordered_at": minutes(),
                "is_cancellation": [False] * N,
                "revenue": price,
                "currency": ["EUR"] * N,
                "country": ["DE"] * N,
                "line_count": [1] * N,
            }
        )
        if scope == "batch":
            frame["header_variants"] = 1
            frame["loaded_before"] = pd.Series([None] * N, dtype="object")
    elif table == "order_lines":
        frame = pd.DataFrame(
            {
                "order_id": [f"O{i}" for i in ids],
                "line_no": [1] * N,
                "product_id": [f"P{i}" for i in ids],
                "quantity": [1 + i % 3 for i in range(N)],
                "unit_price": price,
                "line_revenue": price,
            }
        )
        column = "quarantine_reason" if scope == "batch" else "order_missing"
        frame[column] = pd.Series([None] * N, dtype="object")
    elif table == "customers":
        frame = pd.DataFrame(
            {
                "customer_id": [f"C{i}" for i in ids],
                "email": [f"c{i}@example.com" for i in ids],
                "country": ["FR"] * N,
                "first_seen_at": minutes(),
                "marketing_consent": [True] * N,
            }
        )
        if scope == "batch":
            frame["quarantine_reason"] = pd.Series([None] * N, dtype="object")
    elif table == "events":
        frame = pd.DataFrame(
            {
                "event_id": [f"E{i}" for i in ids],
                "occurred_at": minutes(),
                "new_occurred_at": minutes(),
                "customer_id": [f"C{i}" for i in ids],
                "session_id": [f"S{i}" for i in ids],
                "event_type": ["page_view", "product_view", "add_to_cart", "checkout"] * (N // 4),
                "product_id": [f"P{i}" for i in ids],
                "price": price,
                "unknown_customer": pd.Series([None] * N, dtype="object"),
            }
        )
        if scope == "batch":
            frame["quarantine_reason"] = pd.Series([None] * N, dtype="object")
            frame["loaded_before"] = pd.Series([None] * N, dtype="object")
    elif table == "feedback":
        frame = pd.DataFrame(
            {
                "feedback_id": [f"F{i}" for i in ids],
                "submitted_at": minutes(),
                "rating": [i % 5 + 1 for i in range(N)],
                "scale": ["stars"] * N,
                "customer_id": [f"C{i}" for i in ids],
                "email": [f"c{i}@example.com" for i in ids],
                "rating_off_scale": pd.Series([None] * N, dtype="object"),
            }
        )
        if scope == "batch":
            frame["quarantine_reason"] = pd.Series([None] * N, dtype="object")
    else:
        frame = features()
    if "customer_id" in frame and scope == "batch":
        frame.insert(0, "__row", range(1, N + 1))
    return frame


def features() -> pd.DataFrame:
    """Twenty customers' features as segmentation reads them."""
    rng = np.random.default_rng(1)
    recency = rng.integers(0, 300, N)
    return pd.DataFrame(
        {
            "as_of": [T0.date()] * N,
            "customer_id": [f"C{i}" for i in ids],
            "is_prospect": [False] * N,
            "recency_days": recency,
            "frequency": rng.integers(1, 9, N),
            "monetary": rng.uniform(10, 900, N),
            "avg_order_value": rng.uniform(10, 90, N),
            "tenure_days": recency + rng.integers(0, 400, N),
            "return_rate": rng.uniform(0, 1, N),
            "distinct_products": rng.integers(1, 9, N),
            "distinct_categories": rng.integers(1, 4, N),
            "mean_days_between_orders": rng.uniform(5, 90, N),
            "first_order_at": minutes(),
            "last_order_at": minutes(),
            "sessions_30d": rng.integers(0, 5, N),
            "product_views_30d": rng.integers(0, 20, N),
            "add_to_carts_30d": rng.integers(0, 5, N),
            "cart_abandonment_rate_30d": rng.uniform(0, 1, N),
            "view_to_purchase_rate_30d": rng.uniform(0, 1, N),
            "sessions_90d": rng.integers(5, 15, N),
            "product_views_90d": rng.integers(20, 60, N),
            "add_to_carts_90d": rng.integers(5, 15, N),
            "cart_abandonment_rate_90d": rng.uniform(0, 1, N),
            "view_to_purchase_rate_90d": rng.uniform(0, 1, N),
            "days_since_last_visit": rng.integers(0, 60, N),
            "rating_mean": rng.uniform(1, 5, N),
            "days_since_feedback": rng.integers(0, 90, N),
            "r_score": rng.integers(1, 6, N),
            "f_score": rng.integers(1, 6, N),
            "m_score": rng.integers(1, 6, N),
            "rfm_segment": ["champions"] * N,
        }
    )


Mutation = Callable[[pd.DataFrame], pd.DataFrame]


def set_at(column: str, value: Any, row: int = 3) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        if value is None:
            frame[column] = frame[column].astype("object")
        frame.loc[row, column] = value
        return frame

    return mutate


def drop(column: str) -> Mutation:
    return lambda frame: frame.drop(columns=[column])


def copy_row(column: str, source: int = 2, target: int = 3) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[target, column] = frame.loc[source, column]
        return frame

    return mutate


def scale(column: str, factor: float) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column] * factor
        return frame

    return mutate


def guests(frame: pd.DataFrame) -> pd.DataFrame:
    frame["customer_id"] = frame["customer_id"].astype("object")
    frame.loc[: N // 2 + 1, "customer_id"] = None  # 12 of 20 orders without a customer
    return frame


FUTURE = pd.Timestamp(T0 + timedelta(days=30))
# (table, expectation key) -> the crafted bad row(s) that must make it fail.
CASES: dict[tuple[str, str], Mutation] = {
    ("orders", "required_columns"): drop("currency"),
    ("orders", "order_id_not_null"): set_at("order_id", None),
    ("orders", "order_id_unique"): copy_row("order_id"),
    ("orders", "one_order_per_id"): set_at("header_variants", 2),
    ("orders", "order_ids_new"): set_at("loaded_before", "/shop/orders/orders_2026-11-19.csv"),
    ("orders", "ordered_at_not_null"): set_at("ordered_at", pd.NaT),
    ("orders", "ordered_at_in_window"): set_at("new_ordered_at", FUTURE),
    ("orders", "guest_share"): guests,
    ("orders", "cancellation_flag_known"): set_at("is_cancellation", None),
    ("orders", "revenue_plausible"): set_at("revenue", 250_000.0),
    ("orders", "currency_code"): set_at("currency", "euro"),
    ("orders", "order_has_lines"): set_at("line_count", 0),
    ("order_lines", "required_columns"): drop("product_id"),
    ("order_lines", "order_id_not_null"): set_at("order_id", None),
    ("order_lines", "line_unique"): copy_row("order_id"),
    ("order_lines", "quantity_not_null"): set_at("quantity", np.nan),
    ("order_lines", "quantity_not_zero"): set_at("quantity", 0),
    ("order_lines", "quantity_plausible"): set_at("quantity", 50_000),
    ("order_lines", "unit_price_not_null"): set_at("unit_price", np.nan),
    ("order_lines", "unit_price_not_negative"): set_at("unit_price", -5.0),
    ("order_lines", "unit_price_plausible"): set_at("unit_price", 250_000.0),
    ("order_lines", "unit_price_scale"): scale("unit_price", 100),
    ("order_lines", "quarantine_share"): set_at("quarantine_reason", "negative unit_price"),
    ("order_lines", "line_has_order"): set_at("order_missing", "O999"),
    ("customers", "required_columns"): drop("country"),
    ("customers", "customer_id_not_null"): set_at("customer_id", None),
    ("customers", "customer_id_unique"): copy_row("customer_id"),
    ("customers", "first_seen_not_future"): set_at("first_seen_at", FUTURE),
    ("customers", "email_format"): set_at("email", "not an address"),
    ("customers", "quarantine_share"): set_at("quarantine_reason", "missing customer_id"),
    ("events", "required_columns"): drop("product_id"),
    ("events", "event_id_not_null"): set_at("event_id", None),
    ("events", "event_id_unique"): copy_row("event_id"),
    ("events", "events_new"): set_at("loaded_before", "/shop/events/events_2026-11-19.csv"),
    ("events", "occurred_at_not_null"): set_at("occurred_at", pd.NaT),
    ("events", "occurred_at_in_window"): set_at("new_occurred_at", pd.Timestamp(T0 - timedelta(days=400))),
    ("events", "event_type_known"): set_at("event_type", "clickk"),
    ("events", "event_type_not_null"): set_at("event_type", None),
    ("events", "price_not_negative"): set_at("price", -1.0),
    ("events", "price_scale"): scale("price", 100),
    ("events", "customer_known"): set_at("unknown_customer", "C999"),
    ("events", "session_id_present"): set_at("session_id", None),
    ("events", "quarantine_share"): set_at("quarantine_reason", "unknown event_type"),
    ("feedback", "required_columns"): drop("scale"),
    ("feedback", "feedback_id_not_null"): set_at("feedback_id", None),
    ("feedback", "feedback_id_unique"): copy_row("feedback_id"),
    ("feedback", "submitted_at_not_null"): set_at("submitted_at", pd.NaT),
    ("feedback", "submitted_at_not_future"): set_at("submitted_at", FUTURE),
    ("feedback", "rating_in_scale"): set_at("rating_off_scale", 6),
    ("feedback", "scale_known"): set_at("scale", "percent"),
    ("feedback", "customer_found"): guests,
    ("feedback", "quarantine_share"): set_at("quarantine_reason", "rating 6 is outside the stars scale 1-5"),
    ("customer_features", "rating_mean_on_a_scale"): set_at("rating_mean", 11.0),
    ("customer_features", "last_feedback_not_future"): set_at("days_since_feedback", -1),
    ("customer_features", "required_columns"): drop("rfm_segment"),
    ("customer_features", "features_computed"): lambda frame: frame.iloc[0:0],
    ("customer_features", "customer_id_not_null"): set_at("customer_id", None),
    ("customer_features", "customer_id_unique"): copy_row("customer_id"),
    ("customer_features", "is_prospect_known"): set_at("is_prospect", None),
    ("customer_features", "recency_not_negative"): set_at("recency_days", -1),
    ("customer_features", "frequency_not_negative"): set_at("frequency", -1),
    ("customer_features", "tenure_covers_recency"): set_at("tenure_days", -5),
    ("customer_features", "return_rate_share"): set_at("return_rate", 1.5),
    ("customer_features", "cart_abandonment_rate_30d_share"): set_at("cart_abandonment_rate_30d", 1.2),
    ("customer_features", "view_to_purchase_rate_30d_share"): set_at("view_to_purchase_rate_30d", -0.1),
    ("customer_features", "cart_abandonment_rate_90d_share"): set_at("cart_abandonment_rate_90d", 1.2),
    ("customer_features", "view_to_purchase_rate_90d_share"): set_at("view_to_purchase_rate_90d", 7.0),
    ("customer_features", "sessions_windows_nested"): set_at("sessions_90d", 0),
    ("customer_features", "sessions_not_negative"): set_at("sessions_30d", -1),
    ("customer_features", "last_visit_not_future"): set_at("days_since_last_visit", -2),
    ("customer_features", "r_score_range"): set_at("r_score", 6),
    ("customer_features", "f_score_range"): set_at("f_score", 0),
    ("customer_features", "m_score_range"): set_at("m_score", 9),
    ("customer_features", "monetary_plausible"): set_at("monetary", 5_000_000.0),
}
SCOPES = load_suites()


def validate(gx: Engine, table: str, scope: Scope, frame: pd.DataFrame) -> dict[str, Any]:
    results = gx.validate(
        table, scope, frame, PARAMS, batch="test", run_id="test", index_columns=INDEX_COLUMNS[table]
    )
    return {r.key: r for r in results}


def scopes_of(table: str, key: str) -> list[Scope]:
    return list(SCOPES[table].expectation(key).scopes)


@pytest.mark.parametrize("table", list(SCOPES))
@pytest.mark.parametrize("scope", ["batch", "table"])
def test_good_rows_pass_every_expectation(gx: Engine, table: str, scope: Scope) -> None:
    if not SCOPES[table].for_scope(scope):
        pytest.skip(f"{table} has no {scope} expectations")
    results = validate(gx, table, scope, good(table, scope))
    assert {k for k, r in results.items() if not r.success} == set()
    assert set(results) == {e.key for e in SCOPES[table].for_scope(scope)}


@pytest.mark.parametrize(("table", "key"), sorted(CASES))
def test_each_expectation_fails_on_its_crafted_bad_row(gx: Engine, table: str, key: str) -> None:
    for scope in scopes_of(table, key):
        results = validate(gx, table, scope, CASES[(table, key)](good(table, scope)))
        failed = {k for k, r in results.items() if not r.success}
        if key == "required_columns":
            # The dropped column's own expectations fail too: GX cannot read what is not there.
            assert key in failed, (scope, failed)
            continue
        assert failed == {key}, (scope, failed)
        result = results[key]
        if result.unexpected_count is not None and key not in {
            "guest_share",
            "unit_price_scale",
            "price_scale",
        }:
            assert result.unexpected_count >= 1
            assert result.sample, "a failing row-level expectation names its rows"


def test_every_expectation_has_a_crafted_case() -> None:
    keys = {(table, e.key) for table, suite in SCOPES.items() for e in suite.expectations}
    assert keys == set(CASES)
