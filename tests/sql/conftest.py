"""Functions that write hand-made warehouse rows for the SQL model tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

Line = tuple[int, float, str, str]  # quantity, unit_price, product_id, category


def add_order(
    con: duckdb.DuckDBPyConnection,
    order_id: str,
    customer_id: str | None,
    ordered_at: str,
    lines: Sequence[Line],
    *,
    cancellation: bool = False,
    refunded: float | None = None,
    voided: bool = False,
) -> None:
    """Insert one order and its lines the way ingest stores them."""
    revenue = sum(q * p for q, p, _, _ in lines)
    con.execute(
        "insert into orders values (?, ?, ?, ?, ?, 'EUR', 'test.csv', 'DE', ?, ?)",
        [
            order_id,
            customer_id,
            datetime.fromisoformat(ordered_at),
            cancellation or voided,
            revenue,
            refunded,
            voided,
        ],
    )
    for no, (quantity, price, product, category) in enumerate(lines, start=1):
        con.execute(
            "insert into order_lines values (?, ?, ?, ?, ?, ?, ?, ?)",
            [order_id, no, product, product, category, quantity, price, quantity * price],
        )


def add_events(
    con: duckdb.DuckDBPyConnection,
    customer_id: str | None,
    session_id: str | None,
    occurred_at: str,
    event_types: Sequence[str],
) -> None:
    """Insert a burst of events of one session, a second apart."""
    start = datetime.fromisoformat(occurred_at)
    for i, event_type in enumerate(event_types):
        con.execute(
            """
            insert into events values (
                ? || '-' || ? || '-' || ?, ? + to_seconds(?), ?, ?, ?, 'P1', 1.0, 'test.csv', 'x')
            """,
            [session_id or "anon", occurred_at, i, start, i, customer_id, session_id, event_type],
        )


def add_customer(con: duckdb.DuckDBPyConnection, customer_id: str, first_seen_at: str | None) -> None:
    """Insert a registered customer."""
    seen = datetime.fromisoformat(first_seen_at) if first_seen_at else None
    con.execute(
        "insert into customers (customer_id, email, country, first_seen_at, marketing_consent, source_file) values (?, ?, 'DE', ?, true, 'customers.csv')",
        [customer_id, f"{customer_id}@example.com", seen],
    )
