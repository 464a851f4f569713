"""Segment names, types and actions are true of their members: customers who cancelled every order are
not "sign-ups who never bought", nobody is a browser in a shop without a clickstream, and the report's
action type follows the rule-checked name (a realistic export built here, and the real Online Retail)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

import shops
from segmint.config import SourceSettings
from segmint.features import build_features
from segmint.ingest import load_file
from segmint.report import build_report
from segmint.segment import SegmentationResult, segment_customers
from segmint.segment.profile import name_type
from segmint.warehouse import connect

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
BROWSE_WORDS = ("viewed", "browse", "cart", "retarget")


def _load(con: duckdb.DuckDBPyConnection, name: str, kind: str, path: Path, preset: str) -> None:
    result = load_file(con, SourceSettings(name=name, kind=kind, path=str(path), preset=preset), path, "t")
    assert result.status == "loaded", result.message


def _cancelled_everything(con: duckdb.DuckDBPyConnection, run: SegmentationResult) -> pl.DataFrame:
    """Per segment name: size and the share of members who ordered and cancelled all of it."""
    return con.sql(
        """
        select a.segment_name, count(*) as size,
            avg((f.orders_total > 0 and (f.is_prospect or (f.cancelled_orders > 0 and f.monetary <= 0)))::int)
                as cancelled_share,
            avg((f.orders_total = 0)::int) as no_order_share
        from segment_assignments as a
        join customer_features as f on f.customer_id = a.customer_id and f.as_of = ?
        where a.run_id = ? group by all
        """,
        params=[run.as_of, run.run_id],
    ).pl()


def _assert_honest(con: duckdb.DuckDBPyConnection, run: SegmentationResult, day: date) -> None:
    for row in _cancelled_everything(con, run).iter_rows(named=True):
        name = str(row["segment_name"])
        if "never bought" in name or "sign-ups" in name.lower():
            assert row["no_order_share"] >= 0.5, name  # "never bought" only of those without any order
        if "cancelled every order" in name:
            assert row["cancelled_share"] >= 0.5, name
        if row["cancelled_share"] >= 0.5:
            assert "cancelled every order" in name or "without a kept order" in name, name
    data = build_report(con, day)
    assert isinstance(data.segments, list)
    for seg in data.segments:
        assert seg.action is not None
        assert seg.action.segment_type != "browsers", seg.name  # no clickstream in these shops
        assert not any(w in (seg.action.offer + seg.action.why).lower() for w in BROWSE_WORDS), seg.name
        # The type follows the name; a lapsed segment's variant follows its spend against the base.
        expected = name_type(seg.name) or seg.action.segment_type
        lapsed = {"lapsed", "lapsed_high_value"}
        assert seg.action.segment_type == expected or {seg.action.segment_type, expected} <= lapsed
        assert "visits" not in seg.description  # no words about visits without a clickstream


def test_cancellation_only_customers_in_a_shop_without_a_clickstream(tmp_path: Path) -> None:
    # 150 buyers and 30 customers whose one order was cancelled in full the next day; orders and customers only.
    shape = shops.ShopShape(customers=150, days=180, events=False, cancelled_only=30)
    shops.write_shop(tmp_path, shape)
    con = connect(tmp_path / "warehouse.duckdb")
    _load(con, "shop", "orders", tmp_path / "orders" / "orders.csv", "canonical")
    _load(con, "crm", "customers", tmp_path / "customers" / "customers.csv", "canonical")
    build_features(con, shape.end)
    run = segment_customers(con, shape.end)
    _assert_honest(con, run, shape.end)
    names = _cancelled_everything(con, run)
    cancelled = names.filter(pl.col("segment_name").str.contains("cancelled every order"))
    assert cancelled.height == 1 and float(cancelled["cancelled_share"][0]) >= 0.5
    data = build_report(con, shape.end)
    assert isinstance(data.segments, list)
    seg = next(s for s in data.segments if "cancelled every order" in s.name)
    assert seg.action is not None and seg.action.segment_type == "cancelled"
    assert "ordered and then cancelled every order" in seg.description
    con.close()


@pytest.mark.slow
def test_online_retail_cancellation_only_customers_are_named_for_it(tmp_path: Path) -> None:
    # Online Retail: customers whose only invoices in the data are "C" cancellations; no clickstream.
    con = connect(tmp_path / "warehouse.duckdb")
    _load(con, "online_retail", "orders", REAL / "online_retail" / "online_retail.csv.gz", "online_retail")
    day = date(2011, 12, 9)
    build_features(con, day)
    run = segment_customers(con, day)
    _assert_honest(con, run, day)
    con.close()
