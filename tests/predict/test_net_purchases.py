"""Lifetime value from net purchases, and shop shapes with features that carry no information.

Every shop here is built by hand: customers ordering at their own pace over 400 days.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pytest

from segmint.config import PredictSettings
from segmint.features import build_features
from segmint.predict.purchases import net_purchases
from segmint.predict.runner import run_predictions

END = date(2024, 12, 31)


def _order(
    con: duckdb.DuckDBPyConnection,
    order_id: str,
    customer: str,
    at: datetime,
    lines: list[tuple[str, int, float]],
    *,
    cancellation: bool = False,
    voided: bool = False,
    refunded: float | None = None,
) -> None:
    revenue = 0.0 if voided else sum(q * p for _, q, p in lines)
    con.execute(
        "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, currency, source_file, "
        "refunded_amount, is_voided) values (?, ?, ?, ?, ?, 'EUR', 'hand.csv', ?, ?)",
        [order_id, customer, at, cancellation or voided, revenue, refunded, voided],
    )
    for n, (product, quantity, price) in enumerate(lines, start=1):
        con.execute(
            "insert into order_lines values (?, ?, ?, ?, 'cat', ?, ?, ?)",
            [order_id, n, product, product, quantity, price, quantity * price],
        )


def test_refunds_voids_and_cancellations_net_the_purchase_they_belong_to(
    seg_duck: duckdb.DuckDBPyConnection,
) -> None:
    con = seg_duck
    day = datetime(2024, 3, 1, 10)
    _order(con, "a1", "ann", day, [("P1", 2, 10.0)])  # 20
    _order(con, "a2", "ann", day + timedelta(days=5), [("P2", 1, 30.0)], refunded=12.0)  # refund -> 18
    _order(con, "a3", "ann", day + timedelta(days=9), [("P3", 1, 50.0)], voided=True)  # gone
    _order(con, "a4", "ann", day + timedelta(days=12), [("P4", 1, 0.0)])  # free: stays, value 0
    # Cancels P1 (bought in a1, not the latest order): the same product is reduced first.
    _order(con, "c1", "ann", day + timedelta(days=15), [("P1", -1, 10.0)], cancellation=True)
    _order(con, "b1", "bob", day, [("P1", 1, 40.0)])
    _order(con, "b2", "bob", day + timedelta(days=3), [("P2", 1, 25.0)])
    # More than b2 is worth, no shared product: b2 (the latest) goes, the rest comes off b1.
    _order(con, "c2", "bob", day + timedelta(days=4), [("P9", -1, 35.0)], cancellation=True)
    # A cancellation of something bought before the data began reduces nothing.
    _order(con, "c3", "cy", day, [("P1", -1, 99.0)], cancellation=True)
    _order(con, "y1", "cy", day + timedelta(days=1), [("P1", 1, 15.0)])

    net = {r[0]: r[3] for r in net_purchases(con, date(2024, 6, 1)).iter_rows()}
    assert net == pytest.approx({"a1": 10.0, "a2": 18.0, "a4": 0.0, "b1": 30.0, "y1": 15.0})
    # Point in time: on the day before c1, a1 is whole.
    assert {r[0]: r[3] for r in net_purchases(con, date(2024, 3, 15)).iter_rows()}["a1"] == 20.0


def _regular_shop(
    con: duckdb.DuckDBPyConnection, customers: int, *, products: int = 5, seed: int = 3
) -> None:
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, 9)
    n = 0
    for c in range(customers):
        # Each customer has a rate and a lifetime: some stop buying, as real customers do.
        rate = rng.gamma(0.8, 1 / 20)  # purchases a day
        alive_until = rng.uniform(30, 500)
        at = rng.uniform(0, 300)
        while at < min(alive_until, 365):
            product = f"P{rng.integers(products) + 1}"
            price = round(float(rng.gamma(4, 8)), 2)
            _order(con, f"o{n}", f"c{c}", start + timedelta(days=float(at)), [(product, 1, price)])
            n += 1
            at += rng.exponential(1 / max(rate, 1e-3))


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_one_large_cancelled_order_leaves_lifetime_value_defined(seg_duck: duckdb.DuckDBPyConnection) -> None:
    con = seg_duck
    _regular_shop(con, 400)
    # A wholesale mistake: bought and cancelled within the minute.
    _order(con, "big", "c1", datetime(2024, 12, 20, 9, 15), [("P1", 80995, 2.08)])
    _order(con, "Cbig", "c1", datetime(2024, 12, 20, 9, 27), [("P1", -80995, 2.08)], cancellation=True)
    build_features(con, END)
    outcome = run_predictions(con, PredictSettings(), "night", END)
    assert outcome.gamma_gamma is not None, outcome.messages
    assert not [m for m in outcome.messages if "not reliable" in m or m.startswith("lifetime value skipped")]
    values = con.execute(
        "select customer_id, clv_12m from customer_predictions where run_id = 'night' and clv_12m is not null"
    ).fetchall()
    assert len(values) >= 300 and all(math.isfinite(v) for _, v in values)
    assert "big" not in set(net_purchases(con, END)["order_id"].to_list())


def _messages(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    return str(con.execute("select message from prediction_runs where run_id = ?", [run_id]).fetchall()[0][0])


def test_single_product_shop_drops_constant_features(seg_duck: duckdb.DuckDBPyConnection) -> None:
    con = seg_duck
    _regular_shop(con, 300, products=1)
    build_features(con, END)
    outcome = run_predictions(con, PredictSettings(), "one", END)
    assert outcome.churn is not None
    assert "distinct_products" not in outcome.churn.features and "recency_days" in outcome.churn.features
    message = _messages(con, "one")
    assert "churn and anomalies left out features with no information in this shop: " in message
    assert "distinct_products" in message and "(no clickstream)" in message


def test_tiny_shop_says_why_each_model_cannot_run(seg_duck: duckdb.DuckDBPyConnection) -> None:
    con = seg_duck
    _regular_shop(con, 12, seed=5)
    build_features(con, END)
    outcome = run_predictions(con, PredictSettings(), "tiny", END)
    message = _messages(con, "tiny")
    assert "churn skipped: churn needs at least 50 buyers on 2024-07-04 to learn from; you have" in message
    assert f"anomalies skipped: they need at least 20 customers; you have {outcome.n_customers}" in message
    assert outcome.churn is None


def test_everyone_bought_once(seg_duck: duckdb.DuckDBPyConnection, order: Any) -> None:
    con = seg_duck
    for i in range(80):
        order(con, f"o{i}", f"c{i}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", [("P1", 1, 10.0 + i % 3)])
    build_features(con, END)
    outcome = run_predictions(con, PredictSettings(), "once", END)
    message = _messages(con, "once")
    assert "lifetime value skipped: no customer has a repeat purchase" in message
    assert "churn skipped: churn needs" in message
    assert outcome.n_customers == 80
