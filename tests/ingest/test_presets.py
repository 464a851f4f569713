"""Presets on real public exports and on a Shopify export written from its documented columns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.config import SourceSettings
from segmint.features import build_features
from segmint.ingest.load import load_file

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
SHOPIFY = Path(__file__).resolve().parents[1] / "data" / "shopify" / "orders_export.csv"


def source(preset: str, kind: str = "orders") -> SourceSettings:
    return SourceSettings(name=preset, kind=kind, path="*", preset=preset)  # type: ignore[arg-type]


@pytest.mark.slow
def test_online_retail_loads_every_line_or_quarantines_it(duck: duckdb.DuckDBPyConnection) -> None:
    path = REAL / "online_retail" / "online_retail.csv.gz"
    result = load_file(duck, source("online_retail"), path, "r1")
    assert result.rows_read == 541_909
    assert result.rows_loaded + result.rows_quarantined == 541_909
    reasons = duck.execute("select reason, count(*) from quarantine group by 1").fetchall()
    assert sum(n for _, n in reasons) == result.rows_quarantined
    assert all(reason for reason, _ in reasons)
    assert duck.execute("select count(distinct customer_id) from orders").fetchone() == (4_372,)
    # Every C invoice, and only those, is a cancellation; its 9,288 lines all loaded.
    raw = pl.read_csv(path, infer_schema=False)
    c_invoices = raw.filter(pl.col("InvoiceNo").str.starts_with("C"))
    assert duck.execute(
        "select count(*) from order_lines join orders using (order_id) where is_cancellation"
    ).fetchone() == (c_invoices.height,)
    assert duck.execute(
        "select count(*) from orders where is_cancellation <> starts_with(order_id, 'C')"
    ).fetchone() == (0,)
    # Lines without a customer id are guest orders: loaded, not quarantined.
    guests = raw.filter(pl.col("CustomerID").is_null()).height
    assert (
        duck.execute(
            "select count(*) from order_lines join orders using (order_id) where customer_id is null"
        ).fetchone()[0]
        + duck.execute(  # type: ignore[index]
            "select count(*) from quarantine where raw_record::json->>'CustomerID' is null"
        ).fetchone()[0]
        == guests
    )  # type: ignore[index]


def test_online_retail_ii_header_variant(duck: duckdb.DuckDBPyConnection) -> None:
    path = REAL / "online_retail_ii" / "online_retail_ii_head5000.csv.gz"
    result = load_file(duck, source("online_retail"), path, "r1")
    assert (result.rows_read, result.rows_loaded + result.rows_quarantined) == (5_000, 5_000)
    assert duck.execute("select count(*) from orders where customer_id like '%.%'").fetchone() == (0,)
    assert duck.execute("select min(ordered_at)::date::varchar from orders").fetchone() == ("2009-12-01",)


@pytest.mark.slow
def test_cdnow_master_one_row_one_order(duck: duckdb.DuckDBPyConnection) -> None:
    result = load_file(duck, source("cdnow"), REAL / "cdnow" / "CDNOW_master.txt", "r1")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (69_659, 69_659, 0)
    assert duck.execute("select count(*), count(distinct customer_id) from orders").fetchone() == (
        69_659,
        23_570,
    )
    # Revenue is the file's dollar value (summed independently with awk-like splitting: 2,500,315.63).
    assert duck.execute("select round(sum(revenue), 2)::double from orders").fetchone() == (2_500_315.63,)


def test_rees46_events(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = REAL / "rees46_sample" / "2019-Oct-head1000.csv"
    result = load_file(duck, source("rees46", "events"), path, "r1")
    assert (result.rows_read, result.rows_loaded + result.rows_quarantined) == (1_000, 1_000)
    types = dict(duck.execute("select event_type, count(*) from events group by 1").fetchall())
    assert set(types) <= {"product_view", "add_to_cart", "remove_from_cart", "purchase"}
    assert types["product_view"] > 900
    assert duck.execute("select count(distinct event_id) = count(*) from events").fetchone() == (True,)
    # The same events under another name (with one line changed, so a new sha256) are repeats.
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",35.79,", ",35.80,")
    (tmp_path / "again.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    again = load_file(duck, source("rees46", "events"), tmp_path / "again.csv", "r2")
    assert (again.rows_loaded, again.rows_duplicate) == (1, 999)


def test_shopify_export(duck: duckdb.DuckDBPyConnection) -> None:
    result = load_file(duck, source("shopify_orders"), SHOPIFY, "r1")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 6, 0)
    orders = duck.execute(
        "select order_id, customer_id, ordered_at::varchar, revenue::double, is_cancellation, "
        "refunded_amount::double, currency, country from orders order by order_id"
    ).fetchall()
    assert orders == [
        ("#1001", "ada@example.com", "2024-03-01 09:14:55", 62.0, False, 0.0, "EUR", "DE"),
        ("#1002", "grace@example.com", "2024-03-03 17:39:50", 45.0, False, 15.0, "EUR", "DE"),
        ("#1003", None, "2024-03-05 06:01:30", 24.0, False, 0.0, "EUR", "DE"),
        ("#1004", "ada@example.com", "2024-03-06 11:00:00", 0.0, True, 0.0, "EUR", "DE"),  # voided
    ]
    assert duck.execute(
        "select order_id, line_no, product_id, quantity from order_lines order by 1, 2"
    ).fetchall() == [
        ("#1001", 1, "APR-SAGE", 2),
        ("#1001", 2, "PAN-26", 1),
        ("#1002", 1, "WRAP-3", 3),
        ("#1003", 1, "PAN-26", 1),
        ("#1004", 1, "APR-SAGE", 1),
        ("#1004", 2, "TOWEL", 2),
    ]
    assert duck.execute("select customer_id, marketing_consent from customers order by 1").fetchall() == [
        ("ada@example.com", True),
        ("grace@example.com", False),
    ]
    # #1004 was cancelled in Shopify: voided, so Ada's value is her one real order.
    assert duck.execute("select order_id from orders where is_voided").fetchall() == [("#1004",)]
    build_features(duck, date(2024, 3, 31))
    ada = duck.execute(
        "select frequency, monetary::double, cancelled_orders from customer_features where customer_id = 'ada@example.com'"
    ).fetchone()
    assert ada == (1, 62.0, 1)


def test_shopify_payment_voided_without_a_cancelled_at_column_is_voided(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # An export with fewer columns than Shopify's full one: no "Cancelled at", the status says "voided".
    path = tmp_path / "orders_export.csv"
    path.write_text(
        "Name,Email,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Currency,Total,"
        "Financial Status,Refunded Amount\n"
        "#1003,c@example.com,2026-12-02 11:00:00 +0100,1,Teapot,49.00,POT,EUR,49.00,voided,0.00\n"
        "#1002,b@example.com,2026-12-02 10:00:00 +0100,1,Mug,12.50,MUG,EUR,17.40,refunded,17.40\n"
        "#1001,a@example.com,2026-12-01 10:00:00 +0100,2,Tea,7.90,TEA,EUR,20.70,paid,0.00\n"
    )
    result = load_file(duck, source("shopify_orders"), path, "r1")
    assert (result.rows_read, result.rows_loaded) == (3, 3)
    assert duck.execute("select order_id, is_voided from orders order by 1").fetchall() == [
        ("#1001", False),
        ("#1002", False),
        ("#1003", True),
    ]
    build_features(duck, date(2026, 12, 3))
    features = duck.execute(
        "select customer_id, frequency, monetary::double, returned_value::double from customer_features "
        "order by 1"
    ).fetchall()
    # #1002's refund of 17.40 includes 4.90 of shipping the line (12.50) never held: the order nets 0,
    # not -4.90; the voided teapot is worth nothing.
    assert features == [
        ("a@example.com", 1, 15.8, 0.0),
        ("b@example.com", 1, 0.0, 12.5),
        ("c@example.com", 0, 0.0, 0.0),
    ]
