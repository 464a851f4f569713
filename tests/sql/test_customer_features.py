"""customer_features from hand-written rows: exact expected values for each definition."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from tests.sql.conftest import add_customer, add_events, add_order

from segmint.features import build_features

AS_OF = date(2024, 1, 31)


def features(con: duckdb.DuckDBPyConnection, as_of: date = AS_OF) -> dict[str, dict[str, Any]]:
    """customer_id -> row of customer_features for as_of."""
    cursor = con.execute("select * from customer_features where as_of = ? order by customer_id", [as_of])
    names = [d[0] for d in cursor.description or ()]
    return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def order_part(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "is_prospect",
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "tenure_days",
        "return_rate",
        "distinct_products",
        "distinct_categories",
        "mean_days_between_orders",
        "first_order_at",
        "last_order_at",
    )
    return {k: row[k] for k in keys}


@pytest.fixture
def shop(duck: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Customer A: two orders ten days apart, three lines, two products in two categories."""
    add_order(duck, "o1", "A", "2024-01-01 10:00:00", [(2, 10.0, "P1", "tea"), (1, 5.0, "P2", "cups")])
    add_order(duck, "o2", "A", "2024-01-11 10:00:00", [(1, 30.0, "P1", "tea")])
    return duck


def test_order_features_of_a_regular_customer(shop: duckdb.DuckDBPyConnection) -> None:
    build_features(shop, AS_OF)
    assert order_part(features(shop)["A"]) == {
        "is_prospect": False,
        "recency_days": 20,
        "frequency": 2,
        "monetary": Decimal("55.0000"),
        "avg_order_value": Decimal("27.5000"),
        "tenure_days": 30,
        "return_rate": 0.0,
        "distinct_products": 2,
        "distinct_categories": 2,
        "mean_days_between_orders": 10.0,
        "first_order_at": datetime(2024, 1, 1, 10),
        "last_order_at": datetime(2024, 1, 11, 10),
    }


def test_an_order_after_the_as_of_date_changes_nothing(shop: duckdb.DuckDBPyConnection) -> None:
    build_features(shop, AS_OF)
    before = features(shop)
    add_order(shop, "o3", "A", "2024-02-01 00:00:00", [(5, 100.0, "P9", "lamps")])
    add_order(shop, "o4", "Z", "2024-02-03 08:00:00", [(1, 1.0, "P1", "tea")])
    add_events(shop, "Y", "s-late", "2024-02-01 00:00:00", ["page_view"])
    add_customer(shop, "X", "2024-02-02 00:00:00")
    build_features(shop, AS_OF)
    after = features(shop)
    for row in (*before.values(), *after.values()):
        row.pop("computed_at")
    assert after == before
    assert set(after) == {"A"}


def test_the_last_second_of_the_as_of_day_counts(shop: duckdb.DuckDBPyConnection) -> None:
    add_order(shop, "o3", "A", "2024-01-31 23:59:59", [(1, 1.0, "P1", "tea")])
    build_features(shop, AS_OF)
    row = features(shop)["A"]
    assert (row["frequency"], row["recency_days"], row["monetary"]) == (3, 0, Decimal("56.0000"))


def test_a_cancellation_lowers_monetary_and_not_frequency(shop: duckdb.DuckDBPyConnection) -> None:
    add_order(shop, "c1", "A", "2024-01-12 09:00:00", [(-1, 30.0, "P1", "tea")], cancellation=True)
    build_features(shop, AS_OF)
    row = features(shop)["A"]
    assert row["frequency"] == 2
    assert row["monetary"] == Decimal("25.0000")
    assert row["avg_order_value"] == Decimal("12.5000")
    # the cancellation is not the last order: recency still counts from o2
    assert row["recency_days"] == 20
    assert row["return_rate"] == pytest.approx(1 / 3)
    assert (row["orders_total"], row["cancelled_orders"]) == (3, 1)
    assert row["gross_revenue"] == Decimal("55.0000")
    assert row["returned_value"] == Decimal("30.0000")


def test_a_cancellation_recorded_with_positive_quantities_still_subtracts(
    shop: duckdb.DuckDBPyConnection,
) -> None:
    add_order(shop, "c1", "A", "2024-01-12 09:00:00", [(1, 30.0, "P1", "tea")], cancellation=True)
    build_features(shop, AS_OF)
    row = features(shop)["A"]
    assert (row["frequency"], row["monetary"]) == (2, Decimal("25.0000"))


def test_a_voided_order_is_worth_nothing_and_is_not_a_purchase(shop: duckdb.DuckDBPyConnection) -> None:
    # Cancelled as a whole (Shopify's "Cancelled at"): not a record that offsets o1 or o2.
    add_order(shop, "v1", "A", "2024-01-20 09:00:00", [(1, 30.0, "P1", "tea")], voided=True)
    build_features(shop, AS_OF)
    row = features(shop)["A"]
    assert (row["frequency"], row["monetary"], row["recency_days"]) == (2, Decimal("55.0000"), 20)
    assert (row["orders_total"], row["cancelled_orders"], row["return_rate"]) == (3, 1, 0.0)
    assert (row["gross_revenue"], row["returned_value"]) == (Decimal("55.0000"), Decimal("0.0000"))


def test_a_returned_line_and_a_refund_count_as_negatives(duck: duckdb.DuckDBPyConnection) -> None:
    add_order(duck, "o1", "B", "2024-01-05 10:00:00", [(3, 10.0, "P1", "tea"), (-1, 10.0, "P1", "tea")])
    add_order(duck, "o2", "B", "2024-01-06 10:00:00", [(1, 50.0, "P2", "cups")], refunded=15.0)
    add_order(duck, "o3", "B", "2024-01-07 10:00:00", [(1, 5.0, "P3", "cups")])
    build_features(duck, AS_OF)
    row = features(duck)["B"]
    assert row["frequency"] == 3
    assert row["monetary"] == Decimal("60.0000")  # 30 - 10 + 50 - 15 + 5
    assert row["return_rate"] == pytest.approx(2 / 3)
    assert row["distinct_products"] == 3  # the returned line is not a product bought


def test_a_guest_order_counts_for_nobody(shop: duckdb.DuckDBPyConnection) -> None:
    add_order(shop, "g1", None, "2024-01-20 12:00:00", [(10, 99.0, "P1", "tea")])
    build_features(shop, AS_OF)
    rows = features(shop)
    assert set(rows) == {"A"}
    assert rows["A"]["monetary"] == Decimal("55.0000")
    assert shop.execute("select count(*) from customer_features where customer_id is null").fetchone() == (0,)


def test_a_browse_only_customer_appears_with_zero_orders(shop: duckdb.DuckDBPyConnection) -> None:
    add_events(shop, "P", "s1", "2024-01-29 18:00:00", ["page_view", "product_view", "add_to_cart"])
    build_features(shop, AS_OF)
    row = features(shop)["P"]
    assert order_part(row) == {
        "is_prospect": True,
        "recency_days": None,
        "frequency": 0,
        "monetary": Decimal("0.0000"),
        "avg_order_value": None,
        "tenure_days": None,
        "return_rate": None,
        "distinct_products": 0,
        "distinct_categories": 0,
        "mean_days_between_orders": None,
        "first_order_at": None,
        "last_order_at": None,
    }
    assert (row["sessions_30d"], row["product_views_30d"], row["add_to_carts_30d"]) == (1, 1, 1)
    assert row["cart_abandonment_rate_30d"] == 1.0
    assert row["view_to_purchase_rate_30d"] == 0.0
    assert row["days_since_last_visit"] == 2
    assert (row["r_score"], row["f_score"], row["m_score"], row["rfm_segment"]) == (None, None, None, None)


def test_a_registered_customer_without_activity_is_a_prospect_from_sign_up(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    add_customer(duck, "R", "2024-01-15 08:00:00")
    add_customer(duck, "S", "2024-02-15 08:00:00")
    build_features(duck, AS_OF)
    rows = features(duck)
    assert set(rows) == {"R"}
    row = rows["R"]
    assert (row["is_prospect"], row["frequency"], row["sessions_90d"], row["days_since_last_visit"]) == (
        True,
        0,
        0,
        None,
    )
    assert row["first_seen_at"] == datetime(2024, 1, 15, 8)
    assert row["cart_abandonment_rate_90d"] is None


def test_web_activity_over_30_and_90_days(duck: duckdb.DuckDBPyConnection) -> None:
    # the 30-day window is 2024-01-02 .. 2024-01-31, the 90-day window 2023-11-03 .. 2024-01-31
    add_events(duck, "W", "s1", "2024-01-21 10:00:00", ["page_view", "product_view", "product_view"])
    add_events(
        duck, "W", "s2", "2024-01-02 00:00:00", ["product_view", "add_to_cart", "checkout", "purchase"]
    )
    add_events(duck, "W", "s3", "2024-01-01 23:59:00", ["product_view", "add_to_cart", "remove_from_cart"])
    add_events(duck, "W", "s4", "2023-11-03 00:00:00", ["add_to_cart"])
    add_events(duck, "W", "s5", "2023-11-02 23:59:00", ["product_view", "add_to_cart"])  # before both windows
    add_events(duck, None, "s6", "2024-01-30 10:00:00", ["product_view", "add_to_cart"])  # anonymous
    build_features(duck, AS_OF)
    row = features(duck)["W"]
    got = {k: row[k] for k in row if k.endswith(("_30d", "_90d"))}
    assert {k: v for k, v in got.items() if not k.startswith(("orders_", "monetary_"))} == {
        "sessions_30d": 2,
        "product_views_30d": 3,
        "add_to_carts_30d": 1,
        "cart_abandonment_rate_30d": 0.0,
        "view_to_purchase_rate_30d": 0.5,
        "sessions_90d": 4,
        "product_views_90d": 4,
        "add_to_carts_90d": 3,
        "cart_abandonment_rate_90d": pytest.approx(2 / 3),
        "view_to_purchase_rate_90d": pytest.approx(1 / 3),
    }
    assert row["days_since_last_visit"] == 10
    assert set(features(duck)) == {"W"}


def test_events_without_a_session_id_form_one_session_per_customer_and_day(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    add_events(duck, "V", None, "2024-01-30 10:00:00", ["product_view"])
    add_events(duck, "V", None, "2024-01-30 18:00:00", ["product_view", "add_to_cart"])
    add_events(duck, "V", None, "2024-01-31 09:00:00", ["page_view"])
    build_features(duck, AS_OF)
    row = features(duck)["V"]
    assert (row["sessions_30d"], row["product_views_30d"], row["cart_abandonment_rate_30d"]) == (2, 2, 1.0)


def test_rebuilding_a_night_replaces_it_and_keeps_other_nights(shop: duckdb.DuckDBPyConnection) -> None:
    build_features(shop, date(2024, 1, 15))
    first = build_features(shop, AS_OF)
    again = build_features(shop, AS_OF)
    assert (first.customers, again.customers) == (1, 1)
    counts = shop.execute(
        "select as_of, count(*), count(distinct customer_id) from customer_features group by 1 order by 1"
    ).fetchall()
    assert counts == [(date(2024, 1, 15), 1, 1), (AS_OF, 1, 1)]
    assert features(shop, date(2024, 1, 15))["A"]["recency_days"] == 4


def test_keep_days_prunes_old_nights(shop: duckdb.DuckDBPyConnection) -> None:
    from segmint.config import FeatureSettings

    build_features(shop, date(2024, 1, 15))
    build_features(shop, AS_OF, FeatureSettings(keep_days=10))
    assert shop.execute("select distinct as_of from customer_features").fetchall() == [(AS_OF,)]


def test_no_temporary_model_tables_are_left_behind(shop: duckdb.DuckDBPyConnection) -> None:
    build_features(shop, AS_OF)
    left = shop.execute(
        "select table_name from information_schema.tables where table_schema = 'main' and table_catalog = 'temp'"
    ).fetchall()
    assert left == []


def test_a_visit_older_than_90_days_still_sets_days_since_last_visit(duck: duckdb.DuckDBPyConnection) -> None:
    add_events(duck, "O", "s1", "2023-06-01 10:00:00", ["product_view", "add_to_cart"])
    build_features(duck, AS_OF)
    row = features(duck)["O"]
    assert (row["is_prospect"], row["sessions_90d"], row["add_to_carts_90d"]) == (True, 0, 0)
    assert row["cart_abandonment_rate_90d"] is None
    assert row["days_since_last_visit"] == 244


def test_a_session_crossing_the_90_day_start_counts_with_its_part_inside(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    add_events(duck, "X", "s1", "2023-11-02 23:59:59", ["add_to_cart", "product_view"])
    build_features(duck, AS_OF)
    row = features(duck)["X"]
    assert (row["sessions_90d"], row["product_views_90d"], row["add_to_carts_90d"]) == (1, 1, 0)
