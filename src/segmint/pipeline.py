"""The nightly job's stages as plain functions: the Prefect flow calls each one as a task."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from segmint.config import Settings
from segmint.ingest import FileResult, ingest
from segmint.runs import finish_run, start_run
from segmint.warehouse import connect


@dataclass
class WarehouseTotals:
    """Headline counts of the warehouse for a run summary."""

    customers: int
    orders: int
    order_lines: int
    events: int
    revenue: float


@dataclass
class NightlyOutcome:
    """What a nightly run did, for the CLI summary and the flow's return value."""

    run_id: str
    as_of: date
    status: str = "running"
    files: list[FileResult] = field(default_factory=list)
    totals: WarehouseTotals | None = None
    messages: list[str] = field(default_factory=list)


def open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Connect to the configured warehouse (created and migrated on first use)."""
    return connect(
        settings.warehouse.path,
        memory_limit=settings.warehouse.memory_limit,
        threads=settings.warehouse.threads,
    )


def begin_run(settings: Settings, flow: str, as_of: date | None) -> str:
    """Record the start of a run in `runs` and return its id."""
    with open_warehouse(settings) as con:
        return start_run(con, flow, as_of)


def end_run(settings: Settings, run_id: str, status: str, message: str = "") -> None:
    """Record the end of a run in `runs`."""
    with open_warehouse(settings) as con:
        finish_run(con, run_id, status, message)


def ingest_sources(settings: Settings, run_id: str) -> list[FileResult]:
    """Load every configured source; rejected files are reported, the others still load."""
    with open_warehouse(settings) as con:
        return ingest(con, settings, run_id)


def warehouse_totals(settings: Settings) -> WarehouseTotals:
    """Customers, orders, lines, events and net revenue now in the warehouse."""
    with open_warehouse(settings) as con:
        row = con.execute(
            """
            select (select count(*) from customers), (select count(*) from orders),
                (select count(*) from order_lines), (select count(*) from events),
                (select coalesce(sum(revenue), 0) from orders)
            """
        ).fetchone()
    assert row is not None
    return WarehouseTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]))
