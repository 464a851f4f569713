"""Fixtures for prediction tests: a warehouse with hand-made orders, features and segments."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from segmint.warehouse import connect


@pytest.fixture
def seg_duck() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory migrated warehouse (orders, features, segments, predictions)."""
    con = connect(":memory:")
    yield con
    con.close()


def add_order(
    con: duckdb.DuckDBPyConnection,
    order_id: str,
    customer_id: str | None,
    day: str,
    lines: list[tuple[str, int, float]],
    *,
    cancelled: bool = False,
) -> None:
    """Insert one order with its lines (product_id, quantity, unit_price)."""
    revenue = sum(q * p for _, q, p in lines)
    con.execute(
        "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, currency, source_file) "
        "values (?, ?, cast(? as timestamp), ?, ?, 'EUR', 'test.csv')",
        [order_id, customer_id, day, cancelled, revenue],
    )
    for line_no, (product, quantity, price) in enumerate(lines, start=1):
        con.execute(
            "insert into order_lines values (?, ?, ?, ?, 'cat', ?, ?, ?)",
            [order_id, line_no, product, f"name {product}", quantity, price, quantity * price],
        )


@pytest.fixture
def order() -> object:
    """The `add_order` helper, for tests that build baskets by hand."""
    return add_order
