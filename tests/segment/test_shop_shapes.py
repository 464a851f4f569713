"""Segmentation on shop shapes built by hand: orders only (no clickstream), everyone bought once, a single
product, a tiny shop, nothing that varies. It never crashes; it leaves out what carries no information and
says so, picks a small k of real segments, or declines in one sentence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest
from rich.console import Console

from segmint.config import SegmentationSettings
from segmint.features import build_features
from segmint.report import build_report
from segmint.report.model import Projection
from segmint.segment import TooFewCustomersError, segment_customers
from segmint.segment.cluster import size_floor
from segmint.segment.evaluate import eta_squared, revenue_eta_squared, rfm_eta_squared
from segmint.segment.run import segmentation_blocker
from segmint.segment.show import print_segments

NIGHT = date(2025, 6, 30)


def add_orders(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, datetime, float, str]]) -> None:
    """Insert (order_id, customer_id, ordered_at, value, product_id) as one-line orders."""
    orders = pl.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "ordered_at": [r[2] for r in rows],
            "revenue": [r[3] for r in rows],
        },
        schema={
            "order_id": pl.String,
            "customer_id": pl.String,
            "ordered_at": pl.Datetime,
            "revenue": pl.Float64,
        },
    )
    lines = pl.DataFrame(
        {"order_id": [r[0] for r in rows], "product_id": [r[4] for r in rows], "value": [r[3] for r in rows]},
        schema={"order_id": pl.String, "product_id": pl.String, "value": pl.Float64},
    )
    con.register("new_orders", orders)
    con.register("new_lines", lines)
    con.execute(
        """
        insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, currency, source_file, country)
        select order_id, customer_id, ordered_at, false, revenue, 'GBP', 'hand.csv', 'United Kingdom' from new_orders
        """
    )
    con.execute(
        """
        insert into order_lines (order_id, line_no, product_id, product_name, category, quantity, unit_price, line_revenue)
        select order_id, 1, product_id, 'Product ' || product_id, 'gifts', 1, value, value from new_lines
        """
    )
    con.unregister("new_orders")
    con.unregister("new_lines")


def shop(
    con: duckdb.DuckDBPyConnection,
    customers: int,
    *,
    seed: int = 1,
    once: bool = False,
    products: int = 40,
    same: bool = False,
    after_night: bool = False,
) -> None:
    """A shop of orders over the year before NIGHT (and, optionally, the 90 days after it)."""
    rng = np.random.default_rng(seed)
    start = datetime(2024, 7, 1)
    span = (NIGHT - start.date()).days + (90 if after_night else 0)
    rows = []
    for c in range(customers):
        # a mix of one-off buyers and regulars, with order values spread over two orders of magnitude
        n = 1 if once or same else int(min(30, rng.geometric(0.35 if c % 3 else 0.08)))
        value = 100.0 if same else float(np.exp(rng.normal(3.5 + (c % 4) * 0.3, 0.6)))
        first = 10 if same else int(rng.integers(0, span))
        for i in range(n):
            day = first if i == 0 else int(rng.integers(first, span))
            product = "P1" if products == 1 else f"P{int(rng.integers(1, products + 1))}"
            amount = value if same else value * float(np.exp(rng.normal(0, 0.2)))
            rows.append(
                (f"O{c}-{i}", f"C{c:04d}", start + timedelta(days=day, hours=9), round(amount, 2), product)
            )
    add_orders(con, rows)
    build_features(con, NIGHT)


def test_orders_only_leaves_out_the_clickstream_and_says_so(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 400)
    result = segment_customers(duck, NIGHT)
    assert "sessions_90d" not in result.features and len(result.features) >= 2
    assert [d.feature for d in result.dropped_features] == ["sessions_90d"]
    assert result.messages == [
        "segments left out sessions_90d: it is the same for every customer (no clickstream)"
    ]
    stored = duck.execute(
        "select features, dropped_features from segment_runs where run_id = ?", [result.run_id]
    ).fetchall()[0]
    assert "sessions_90d" not in stored[0]
    assert '"feature": "sessions_90d"' in stored[1] and "no clickstream" in stored[1]
    assert duck.execute(
        "select count(*) from segment_features where run_id = ? and feature = 'sessions_90d'", [result.run_id]
    ).fetchall() == [(0,)]
    console = Console(record=True, width=200)
    print_segments(console, duck, result.run_id)
    assert "segments left out sessions_90d: it is the same for every customer (no clickstream)" in (
        console.export_text()
    )


def test_every_segment_is_big_enough(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 400, seed=2)
    result = segment_customers(duck, NIGHT)
    floor = size_floor(400, SegmentationSettings())
    assert int(result.profiles["size"].min()) >= floor  # type: ignore[arg-type]
    chosen = [s for s in result.k_scores if s.chosen]
    assert len(chosen) == 1 and (chosen[0].min_segment_size or 0) >= floor
    stored = duck.execute(
        "select k, min_segment_size from segment_k_scores where run_id = ? order by k", [result.run_id]
    ).fetchall()
    assert stored and all(size is not None for _, size in stored)


def test_everyone_bought_once_drops_frequency_and_picks_a_small_k(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 300, once=True)
    result = segment_customers(duck, NIGHT)
    dropped = {d.feature: d.reason for d in result.dropped_features}
    assert dropped["frequency"] == "it is the same for every customer"
    assert result.k <= 5
    assert int(result.profiles["size"].min()) >= 10  # type: ignore[arg-type]
    # nobody has two orders: no segment may be called regulars, nor claim anything about a rhythm
    assert not any("egular" in n for n in result.profiles["segment_name"].to_list())


def test_a_single_product_shop_segments(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 300, products=1, seed=4)
    result = segment_customers(duck, NIGHT)
    assert result.k <= 6 and int(result.profiles["size"].min()) >= 10  # type: ignore[arg-type]


def test_a_tiny_shop_declines_or_keeps_k_small(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 60, seed=5)
    with pytest.raises(TooFewCustomersError, match=r"^Only 60 customers .* segmentation.min_customers"):
        segment_customers(duck, NIGHT)
    result = segment_customers(duck, NIGHT, SegmentationSettings(min_customers=30))
    # 60 customers: every segment has at least 10, so at most a handful of segments
    assert 3 <= result.k <= 6 and int(result.profiles["size"].min()) >= 10  # type: ignore[arg-type]


def test_nothing_that_varies_declines_in_one_sentence(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 150, same=True)
    with pytest.raises(TooFewCustomersError) as caught:
        segment_customers(duck, NIGHT)
    sentence = str(caught.value)
    assert sentence.startswith("Segments need at least two features that vary between customers")
    assert "sessions_90d: it is the same for every customer (no clickstream)" in sentence
    assert "\n" not in sentence and sentence.endswith("segmentation.features.")
    assert segmentation_blocker(duck, NIGHT) == sentence
    assert duck.execute("select count(*) from segment_runs").fetchall() == [(0,)]


def test_the_customer_map_draws_a_shop_without_clickstream(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 300, seed=6)
    segment_customers(duck, NIGHT)
    projection = build_report(duck, NIGHT).projection
    assert isinstance(projection, Projection)
    assert len(projection.x) == projection.n_sampled and all(np.isfinite(projection.x + projection.y))
    assert 0 < projection.explained[0] <= 1


def test_the_report_names_the_defining_features_segments_names(duck: duckdb.DuckDBPyConnection) -> None:
    from segmint.segment.show import segments_summary

    shop(duck, 300, seed=6)
    segment_customers(duck, NIGHT)
    listed = {s["segment_id"]: s["defined_by"] for s in segments_summary(duck)["segments"]}
    data = build_report(duck, NIGHT)
    shown = {s.segment_id: [d.feature for d in s.defining] for s in data.segment_list}
    assert shown == listed and all(listed.values()), (shown, listed)
    # with the means segmentation stored in the features' own units, beside the clustering's z-score
    stored = {
        (seg, f): (m, b)
        for seg, f, m, b in duck.execute(
            "select segment_id, feature, raw_segment_mean, raw_base_mean from segment_features"
        ).fetchall()
    }
    for s in data.segment_list:
        for d in s.defining:
            assert (d.segment_mean, d.base_mean) == pytest.approx(stored[(s.segment_id, d.feature)])


def test_eta_squared() -> None:
    assert eta_squared([0, 0, 1, 1], ["a", "a", "b", "b"]) == 1.0
    assert eta_squared([0, 1, 0, 1], ["a", "a", "b", "b"]) == 0.0
    assert eta_squared([2, 2, 2], [1, 2, 3]) == 0.0
    # between SS: 2 * (1 - 2)^2 + 2 * (3 - 2)^2 = 4; total SS: 4 + 0 + 0 + 4 = 8 (values 0, 2, 2, 4)
    assert eta_squared([0, 2, 2, 4], [1, 1, 2, 2]) == pytest.approx(0.5)


def test_revenue_eta_squared_against_an_independent_computation(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 300, seed=7, after_night=True)
    result = segment_customers(duck, NIGHT)
    got = revenue_eta_squared(duck, result.run_id, NIGHT, days=90)
    assignments = duck.sql(
        "select customer_id, segment_id from segment_assignments where run_id = ?", params=[result.run_id]
    ).pl()
    later = duck.sql(
        """
        select customer_id, sum(revenue)::double as revenue from orders
        where ordered_at >= timestamp '2025-07-01' and ordered_at < timestamp '2025-09-29'
        group by 1
        """
    ).pl()
    joined = assignments.join(later, on="customer_id", how="left").with_columns(
        pl.col("revenue").fill_null(0).clip(lower_bound=0).log1p().alias("y")
    )
    y, g = joined["y"].to_numpy(), joined["segment_id"].to_numpy()
    between = sum(len(y[g == s]) * (y[g == s].mean() - y.mean()) ** 2 for s in np.unique(g))
    # every customer of the night's features counts, those without a later order as 0
    assert got.customers == assignments.height == result.n_customers and got.groups == result.k
    assert 0 < (joined["y"] == 0).sum() < joined.height
    assert got.eta_squared == pytest.approx(between / ((y - y.mean()) ** 2).sum())
    rfm = rfm_eta_squared(duck, NIGHT)
    assert rfm.customers == result.n_customers and 0 <= rfm.eta_squared <= 1
