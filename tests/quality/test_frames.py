"""The frames GX validates and their parameters: given rows in, exact rows out (real DuckDB)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from segmint.config import QualitySettings, SourceKind, SourceSettings
from segmint.ingest.load import Batch, load_file
from segmint.quality.frames import batch_frame, batch_parameters, table_frame, tolerance

NOW = datetime(2026, 11, 21, 2, 0)
ORDERS = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"
EVENTS = "event_id,occurred_at,customer_id,session_id,event_type,product_id,price"


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def columns(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    """The named columns of each row, as tuples."""
    return [tuple(row[n] for n in names) for row in rows]


class Capture:
    """An audit that keeps the frames of each batch and publishes it."""

    def __init__(self, *tables: str) -> None:
        self.tables = tables
        self.frames: dict[str, pd.DataFrame] = {}

    def __call__(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        for table in self.tables:
            self.frames[table] = batch_frame(con, table)


def load(con: duckdb.DuckDBPyConnection, kind: SourceKind, path: Path, audit: Any = None) -> None:
    source = SourceSettings(name=kind, kind=kind, path="*.csv")
    load_file(con, source, path, "run-1", now=NOW, audit=audit)


def test_orders_batch_frame_one_row_per_order_with_conflicts_and_repeats(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    earlier = write(
        tmp_path / "day1.csv",
        ORDERS,
        "O3,1,C3,2026-11-19 09:00:00,P1,1,5.00,EUR",
        "O5,1,C5,2026-11-19 09:30:00,P1,1,5.00,EUR",
    )
    load(duck, "orders", earlier)
    capture = Capture("orders", "order_lines")
    load(
        duck,
        "orders",
        write(
            tmp_path / "day2.csv",
            ORDERS,
            "O1,1,C1,2026-11-20 10:00:00,P1,2,5.00,EUR",
            "O1,2,C1,2026-11-20 10:00:00,P2,1,3.00,EUR",
            "O2,1,C2,2026-11-20 11:00:00,P1,1,5.00,EUR",
            "O2,2,C9,2026-11-20 12:00:00,P2,1,3.00,EUR",  # the same id, another customer and time
            "O3,1,C3,2026-11-19 09:00:00,P1,2,5.00,EUR",  # loaded from day1.csv with quantity 1: a conflict
            "O4,1,,2026-11-20 13:00:00,P1,1,-5.00,EUR",  # negative price: quarantined, not an order
            "O5,1,C5,2026-11-19 09:30:00,P1,1,5.00,EUR",  # an identical repeat: no conflict
        ),
        capture,
    )
    orders = records(capture.frames["orders"])
    assert columns(
        orders,
        "__row",
        "order_id",
        "customer_id",
        "revenue",
        "header_variants",
        "loaded_before",
        "line_count",
    ) == [
        (1, "O1", "C1", 13.0, 1, None, 2),
        (3, "O2", "C2", 8.0, 2, None, 2),
        (5, "O3", "C3", 10.0, 1, earlier.name, 1),
        (7, "O5", "C5", 5.0, 1, None, 1),
    ]
    # Only orders never loaded are dated for the late-arrival window.
    assert [o["order_id"] for o in orders if not pd.isna(o["new_ordered_at"])] == ["O1", "O2"]
    assert orders[0]["ordered_at"] == pd.Timestamp("2026-11-20 10:00:00")
    lines = records(capture.frames["order_lines"])
    assert columns(lines, "__row", "order_id", "line_no", "unit_price", "quarantine_reason") == [
        (1, "O1", 1, 5.0, None),
        (2, "O1", 2, 3.0, None),
        (3, "O2", 1, 5.0, None),
        (4, "O2", 2, 3.0, None),
        (5, "O3", 1, 5.0, None),
        (6, "O4", 1, -5.0, "negative unit_price"),
        (7, "O5", 1, 5.0, None),
    ]
    assert str(capture.frames["orders"]["ordered_at"].dtype) == "datetime64[ns]"


def test_events_batch_frame_shows_unknown_types_customers_and_repeats(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    duck.execute(
        "insert into customers (customer_id, email, country, first_seen_at, marketing_consent, source_file) values ('C1', null, null, null, null, null)"
    )
    earlier = write(tmp_path / "e1.csv", EVENTS, "E1,2026-11-19 09:00:00,C1,S1,page_view,,")
    load(duck, "events", earlier)
    capture = Capture("events")
    load(
        duck,
        "events",
        write(
            tmp_path / "e2.csv",
            EVENTS,
            "E1,2026-11-19 09:00:00,C1,S9,page_view,,",  # loaded from e1.csv in session S1: a conflict
            "E2,2026-11-20 09:00:00,C7,S2,view,P1,4.50",
            "E3,2026-11-20 09:01:00,,S3,Clickk,P1,4.50",
        ),
        capture,
    )
    rows = records(capture.frames["events"])
    assert columns(
        rows, "__row", "event_id", "event_type", "loaded_before", "unknown_customer", "quarantine_reason"
    ) == [
        (1, "E1", "page_view", earlier.name, None, None),
        (2, "E2", "product_view", None, "C7", None),
        (3, "E3", "clickk", None, None, 'unknown event_type "clickk"'),
    ]


def test_warehouse_frames_flag_orphan_lines_and_orders_without_lines(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute(
        """
        insert into orders values
            ('O1', 'C1', '2026-11-20 10:00', false, 5, 'EUR', 'f.csv', null, null, false),
            ('O2', null, '2026-11-20 11:00', false, 3, 'EUR', 'f.csv', null, null, false);
        insert into order_lines values ('O1', 1, 'P1', null, null, 1, 5, 5), ('O9', 1, 'P1', null, null, 1, 5, 5);
        """
    )
    orders = records(table_frame(duck, "orders"))
    assert sorted((o["order_id"], o["line_count"]) for o in orders) == [("O1", 1), ("O2", 0)]
    lines = records(table_frame(duck, "order_lines"))
    assert sorted((r["order_id"], r["order_missing"]) for r in lines) == [("O1", None), ("O9", "O9")]


def test_tolerance_fails_above_the_share_and_never_on_a_few_rows() -> None:
    settings = QualitySettings(min_failing_rows=5)
    assert tolerance(0.01, 1000, settings) == pytest.approx(0.99)  # 10 bad rows allowed, 11 fail
    assert tolerance(0.01, 100, settings) == pytest.approx(0.96)  # 4 allowed: fewer than 5 never hold
    assert tolerance(0.01, 3, settings) == 0.0
    assert tolerance(0.5, 0, settings) == 1.0


def test_batch_parameters_window_and_price_scale_follow_the_warehouse(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = QualitySettings(late_arrival_days=7, price_scale_min_rows=3, price_scale_factor=10)
    empty = batch_parameters(duck, "order_lines", settings, NOW, 100)
    assert (empty["window_start"], empty["price_median_min"], empty["price_median_max"]) == (
        None,
        float("-inf"),
        None,
    )
    assert empty["window_end"] == NOW + timedelta(hours=24)
    load(
        duck,
        "orders",
        write(
            tmp_path / "history.csv",
            ORDERS,
            "O1,1,C1,2026-11-18 10:00:00,P1,1,4.00,EUR",
            "O2,1,C1,2026-11-19 10:00:00,P1,1,5.00,EUR",
            "O3,1,C1,2026-11-20 10:00:00,P1,1,6.00,EUR",
        ),
    )
    captured: dict[str, Any] = {}

    def audit(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        captured.update(batch_parameters(con, "order_lines", settings, NOW, 3))

    load(
        duck,
        "orders",
        write(
            tmp_path / "new.csv", ORDERS, *(f"N{i},1,C1,2026-11-20 12:00:00,P1,1,5.00,EUR" for i in range(3))
        ),
        audit,
    )
    assert captured["window_start"] == datetime(2026, 11, 13, 10, 0)
    assert (captured["price_median_min"], captured["price_median_max"]) == pytest.approx((0.5, 50.0))
    assert captured["mostly"] == 0.0  # three rows: too few to hold a file on a row-level check


def test_to_frame_gives_the_dtypes_gx_compares_vectorised() -> None:
    """Arrow-fetched frames match .df() values; ints widen to int64, gaps stay nullable, money is float."""
    from segmint.quality.frames import to_frame
    from segmint.quality.results import plain

    con = duckdb.connect()
    sql = """
        select * from (values
            (1::int, 2::int, 1.5::decimal(18, 4), date '2024-01-02', true, 'a', timestamp '2024-01-01 00:00:01'),
            (3::int, null, null, null, null, null, null)
        ) t(whole, gappy, money, day, flag, text, stamp)
    """
    frame = to_frame(con, sql)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "whole": "int64",
        "gappy": "Int32",
        "money": "float64",
        "day": "datetime64[ns]",
        "flag": "boolean",
        "text": "str",
        "stamp": "datetime64[ns]",
    }
    assert [plain(v) for v in frame.iloc[1]] == [3, None, None, None, None, None, None]
    assert [plain(v) for v in frame.iloc[0]] == [
        1,
        2,
        1.5,
        "2024-01-02 00:00:00",
        True,
        "a",
        "2024-01-01 00:00:01",
    ]
