"""Segments of real shops (UCI Online Retail, CDNOW master): every name's claim holds for its members,
measured here straight from the members' features; features without information are left out and said;
and the segments explain at least as much of the next quarter's revenue as the 11 RFM groups."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.config import SourceSettings
from segmint.features import build_features
from segmint.ingest import load_file
from segmint.segment import SegmentationResult, segment_customers
from segmint.segment.evaluate import revenue_eta_squared, rfm_eta_squared
from segmint.warehouse import connect

pytestmark = pytest.mark.slow

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
SHOPS = {
    "online_retail": ("online_retail", REAL / "online_retail" / "online_retail.csv.gz", date(2011, 12, 9)),
    "cdnow": ("cdnow", REAL / "cdnow" / "CDNOW_master.txt", date(1998, 6, 30)),
}
# The night the revenue measure splits at, and the 90 days after it that it scores.
SPLIT = {"online_retail": date(2011, 9, 9), "cdnow": date(1997, 12, 31)}


@pytest.fixture(scope="module", params=sorted(SHOPS))
def real_shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, duckdb.DuckDBPyConnection, SegmentationResult]]:
    """A real export loaded, its features built and segmented at the end of its data."""
    name = str(request.param)
    preset, path, as_of = SHOPS[name]
    con = connect(tmp_path_factory.mktemp(name) / "warehouse.duckdb")
    result = load_file(
        con, SourceSettings(name=name, kind="orders", path=str(path), preset=preset), path, "t"
    )
    assert result.status == "loaded", result.message
    build_features(con, as_of)
    yield name, con, segment_customers(con, as_of)
    con.close()


def members(con: duckdb.DuckDBPyConnection, run: SegmentationResult) -> pl.DataFrame:
    """Each customer's features with their segment name (read back from the warehouse)."""
    return con.sql(
        """
        select a.segment_name, f.is_prospect, f.recency_days::double as recency_days,
            f.frequency::double as frequency, f.monetary::double as monetary,
            f.avg_order_value::double as avg_order_value
        from segment_assignments as a join customer_features as f
            on f.customer_id = a.customer_id and f.as_of = ?
        where a.run_id = ?
        """,
        params=[run.as_of, run.run_id],
    ).pl()


def test_every_name_is_true_of_its_members(
    real_shop: tuple[str, duckdb.DuckDBPyConnection, SegmentationResult],
) -> None:
    _, con, run = real_shop
    rows = members(con, run)
    buyers = rows.filter(~pl.col("is_prospect"))
    base = buyers.select(
        pl.col("recency_days").median().alias("recency"),
        pl.col("frequency").median().alias("frequency"),
        pl.col("monetary").median().alias("monetary"),
        pl.col("avg_order_value").median().alias("aov"),
    ).row(0, named=True)
    total_revenue = float(rows["monetary"].fill_null(0).clip(lower_bound=0).sum())
    stats = (
        rows.group_by("segment_name")
        .agg(
            pl.len().alias("size"),
            pl.col("is_prospect").mean().alias("prospects"),
            (pl.col("frequency").filter(~pl.col("is_prospect")) == 1).mean().alias("one_time"),
            pl.col("recency_days").filter(~pl.col("is_prospect")).median().alias("recency"),
            pl.col("frequency").filter(~pl.col("is_prospect")).median().alias("frequency"),
            pl.col("monetary").filter(~pl.col("is_prospect")).median().alias("monetary"),
            pl.col("avg_order_value").filter(~pl.col("is_prospect")).median().alias("aov"),
            (pl.col("monetary").fill_null(0).clip(lower_bound=0).sum() / total_revenue).alias(
                "revenue_share"
            ),
        )
        .with_columns((pl.col("size") / rows.height).alias("share"))
    )
    top_revenue = stats.sort("revenue_share", descending=True)["segment_name"][0]
    assert stats.height == run.k >= 3
    for s in stats.iter_rows(named=True):
        name = str(s["segment_name"])
        claim = f"{name}: {s}"
        if "never bought" in name:
            assert s["prospects"] >= 0.9, claim
        if "Mostly sign-ups" in name:
            assert s["prospects"] >= 0.5, claim
        if "One-time" in name or "one-time" in name or "New customers" in name:
            assert s["prospects"] < 0.5 and s["one_time"] >= 0.8, claim
        if "Lapsed" in name:
            assert s["recency"] >= max(60, base["recency"]), claim
        if "New customers" in name:
            assert s["recency"] < base["recency"], claim
        if "High-value" in name or "big spenders" in name:
            assert s["monetary"] >= 2 * base["monetary"] and s["revenue_share"] >= 1.5 * s["share"], claim
        if "egulars" in name:
            assert s["frequency"] >= 2 and s["frequency"] > base["frequency"], claim
        if "Occasional" in name:
            assert name != top_revenue and s["revenue_share"] <= s["share"], claim
            assert s["frequency"] <= base["frequency"], claim
        if "Bargain" in name:
            assert s["aov"] <= 0.67 * base["aov"], claim
        # every segment is big enough to act on (1% of the base and at least 10 customers)
        assert s["size"] >= max(10, 0.01 * rows.height), claim


def test_orders_only_shops_leave_out_the_clickstream(
    real_shop: tuple[str, duckdb.DuckDBPyConnection, SegmentationResult],
) -> None:
    _, con, run = real_shop
    assert "sessions_90d" not in run.features
    assert (
        "segments left out sessions_90d: it is the same for every customer (no clickstream)" in run.messages
    )
    stored = con.execute(
        "select dropped_features from segment_runs where run_id = ?", [run.run_id]
    ).fetchall()
    assert "no clickstream" in str(stored[0][0])


def test_segments_explain_next_quarter_revenue_as_well_as_rfm_with_fewer_groups(
    real_shop: tuple[str, duckdb.DuckDBPyConnection, SegmentationResult],
) -> None:
    name, con, _ = real_shop
    night = SPLIT[name]
    build_features(con, night)
    run = segment_customers(con, night)
    segments = revenue_eta_squared(con, run.run_id, night, days=90)
    rfm = rfm_eta_squared(con, night, days=90)
    print(
        f"{name} {night}: k={run.k} silhouette={run.silhouette:.3f} eta2 segments={segments.eta_squared:.3f} "
        f"RFM={rfm.eta_squared:.3f} ({rfm.groups} groups)"
    )
    assert segments.customers == rfm.customers == run.n_customers
    assert segments.groups < rfm.groups
    assert segments.eta_squared >= rfm.eta_squared
