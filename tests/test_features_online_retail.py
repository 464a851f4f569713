"""UCI Online Retail, as_of 2011-12-09: recency, frequency and monetary of all 4,372 customers equal an
independent plain-Polars computation over the raw file, with the quarantined rows accounted for."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.config import SourceSettings
from segmint.features import build_features
from segmint.ingest import load_file

RAW = Path(__file__).parent / "data" / "real" / "online_retail" / "online_retail.csv.gz"
AS_OF = date(2011, 12, 9)


def independent_rfm(raw: pl.DataFrame) -> pl.DataFrame:
    """The issue's definitions written directly over the raw rows (no segmint code)."""
    rows = raw.filter(pl.col("CustomerID").is_not_null()).with_columns(
        pl.col("CustomerID").cast(pl.Int64).cast(pl.String).alias("customer_id"),
        pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S").alias("at"),
        pl.col("InvoiceNo").cast(pl.String).str.starts_with("C").alias("cancelled"),
        (pl.col("Quantity") * pl.col("UnitPrice")).alias("value"),
    )
    rows = rows.filter(pl.col("at") < pl.datetime(2011, 12, 10))
    return (
        rows.group_by("customer_id")
        .agg(
            pl.col("InvoiceNo").filter(~pl.col("cancelled")).n_unique().alias("frequency"),
            pl.col("value").sum().alias("monetary"),
            pl.col("at").filter(~pl.col("cancelled")).max().alias("last_order_at"),
        )
        .with_columns(
            (pl.lit(AS_OF) - pl.col("last_order_at").dt.date()).dt.total_days().alias("recency_days")
        )
    )


@pytest.mark.slow
def test_rfm_equals_an_independent_computation(duck: duckdb.DuckDBPyConnection) -> None:
    source = SourceSettings(name="retail", kind="orders", path=str(RAW), preset="online_retail")
    result = load_file(duck, source, RAW, "test")
    assert result.status == "loaded"

    raw = pl.read_csv(RAW, schema_overrides={"InvoiceNo": pl.String, "StockCode": pl.String})
    # The pipeline quarantines exactly the two "Adjust bad debt" rows with a negative price; they carry
    # no customer id, so they change nobody's features, and the independent computation drops them too.
    quarantined = duck.execute("select reason, raw_record from quarantine").fetchall()
    assert [reason for reason, _ in quarantined] == ["negative unit_price", "negative unit_price"]
    assert all('"CustomerID":null' in record.replace(" ", "") for _, record in quarantined)
    assert result.rows_read == raw.height and result.rows_loaded == raw.height - 2
    expected = independent_rfm(raw.filter(pl.col("UnitPrice") >= 0))

    build = build_features(duck, AS_OF)
    got = duck.sql(
        "select customer_id, recency_days, frequency, monetary::double as monetary, is_prospect "
        "from customer_features where as_of = ?",
        params=[AS_OF],
    ).pl()
    assert build.customers == got.height == expected.height == 4372
    joined = got.join(expected, on="customer_id", how="full", suffix="_expected", coalesce=True)
    assert joined.height == 4372
    assert (joined["frequency"] == joined["frequency_expected"]).all()
    assert (joined["recency_days"].cast(pl.Int64).eq_missing(joined["recency_days_expected"])).all()
    assert ((joined["monetary"] - joined["monetary_expected"]).abs() < 1e-6).all()
    # customers who only ever cancelled are prospects: no non-cancelled order, no recency
    only_cancelled = joined.filter(pl.col("frequency") == 0)
    assert only_cancelled["is_prospect"].all() and only_cancelled["recency_days"].is_null().all()
    assert only_cancelled.height > 0
