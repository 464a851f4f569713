"""Rows failing a row-level critical check are quarantined even when the batch stays within tolerance:
they never reach the warehouse tables (a 1900-01-01 order used to pass the window check and be merged)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import duckdb

from segmint.config import Settings
from segmint.ingest import load_file
from segmint.quality.audit import BatchAudit
from segmint.quality.failing import row_checks
from segmint.quality.results import stored
from segmint.runs import start_run

Accounting = Callable[[duckdb.DuckDBPyConnection], None]
HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"
NOW = datetime(2026, 11, 22, 6, 0, 0)
WINDOW = "failed critical check orders.ordered_at_in_window: Order times fall inside the batch's window"


def orders_csv(path: Path, day: str, n: int, first: int = 1, extra: tuple[str, ...] = ()) -> Path:
    lines = [HEADER] + [
        f"O{i},1,C{i % 9},{day} {10 + i % 12:02d}:{i % 60:02d}:00,P{i % 5},1,{4.5 + i % 7},EUR"
        for i in range(first, first + n)
    ]
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    return path


def load(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, force: bool = False):  # type: ignore[no-untyped-def]
    run_id = start_run(con, "nightly", None)
    source = next(s for s in settings.sources if s.kind == "orders")
    audit = BatchAudit(settings, now=NOW, force=force)
    return run_id, load_file(con, source, path, run_id, now=NOW, audit=audit)


def test_an_order_outside_the_window_is_quarantined_while_the_batch_publishes(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    folder = settings.base_dir / "orders"
    _, first = load(con, settings, orders_csv(folder / "a.csv", "2026-11-20", 40))
    assert first.status == "loaded"
    ancient = "X1,1,C1,1900-01-01 10:00:00,P1,1,4.50,EUR"
    run_id, result = load(
        con, settings, orders_csv(folder / "b.csv", "2026-11-21", 100, first=100, extra=(ancient,))
    )
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        101,
        100,
        1,
    )
    window = next(r for r in stored(con, run_id) if r.key == "ordered_at_in_window")
    assert window.success and window.unexpected_count == 1  # within tolerance: the batch is not held
    row, reason = con.execute("select row_number, reason from quarantine").fetchone()  # type: ignore[misc]
    assert row == 101 and reason.startswith(WINDOW)
    for table in ("orders", "order_lines"):
        assert con.execute(f"select count(*) from {table} where order_id = 'X1'").fetchone() == (0,), table
    assert con.execute("select min(ordered_at)::date from orders").fetchone() == (date(2026, 11, 20),)
    accounting(con)


def test_an_order_id_naming_two_orders_loses_all_its_lines_to_quarantine(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    folder = settings.base_dir / "orders"
    split = ("X1,1,C1,2026-11-21 10:00:00,P1,1,4.50,EUR", "X1,2,C2,2026-11-21 18:00:00,P2,1,4.50,EUR")
    _, result = load(con, settings, orders_csv(folder / "a.csv", "2026-11-21", 200, extra=split))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 200, 2)
    reasons = {r for (r,) in con.execute("select reason from quarantine").fetchall()}
    assert reasons == {
        "failed critical check orders.one_order_per_id: Each order id names one order (one customer, all its "
        "lines within an hour)"
    }
    assert con.execute("select count(*) from order_lines where order_id = 'X1'").fetchone() == (0,)
    accounting(con)


def test_a_forced_replay_publishes_the_batch_as_it_is(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    folder = settings.base_dir / "orders"
    load(con, settings, orders_csv(folder / "a.csv", "2026-11-20", 40))
    # A backfill a month back: every order outside the window, so the batch is held ...
    _, held = load(con, settings, orders_csv(folder / "b.csv", "2026-10-01", 40, first=100))
    assert held.status == "held"
    # ... and an owner who forces it wants the backfill loaded, not quarantined.
    backfill = orders_csv(folder / "c.csv", "2026-10-02", 40, first=300)
    _, forced = load(con, settings, backfill, force=True)
    assert (forced.status, forced.rows_loaded, forced.rows_quarantined) == ("loaded", 40, 0)
    accounting(con)


def test_only_row_level_critical_checks_quarantine_rows() -> None:
    parameters = {"window_start": datetime(2026, 11, 1), "window_end": NOW, "mostly": 0.99}
    keys = {reason.split(":")[0] for reason, _ in row_checks("orders", parameters)}
    assert keys == {
        "failed critical check orders.one_order_per_id",
        "failed critical check orders.ordered_at_in_window",
        "failed critical check orders.cancellation_flag_known",
    }  # not guest orders, nor changed repeats: shares of rows that are each fine
    lines = {reason.split(":")[0].rsplit(".", 1)[1] for reason, _ in row_checks("order_lines", parameters)}
    assert "quarantine_share" not in lines and "line_unique" not in lines
    assert {"quantity_not_zero", "unit_price_not_negative"} <= lines
