"""The rows of a batch that fail its row-level critical checks, as SQL: they are quarantined even when the
batch stays within its tolerance, so that no failing row reaches the warehouse tables.

A row-level critical check is a critical batch expectation whose `mostly` is the `mostly` parameter
(`max_bad_row_share`: the share of bad rows a batch may have). Checks whose `mostly` bounds the share of
rows that are fine one by one (guest orders, changed repeats, quarantined rows) are not row checks, and
uniqueness is kept by the loader itself (the first row of a key loads, later ones are quarantined).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from segmint.ingest.load import TYPED
from segmint.quality.frames import batch_sql
from segmint.quality.suites import Expect, load_suite

if TYPE_CHECKING:
    import pyarrow as pa

ROW_TOLERANCE = {"$PARAMETER": "mostly"}


def _literal(value: Any) -> str | None:
    """A parameter as a SQL literal; None for no bound (None, an infinite number)."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, int | float):
        return None if isinstance(value, float) and not math.isfinite(value) else repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters.get(value["$PARAMETER"])
    return value


def _fails(expect: Expect, parameters: dict[str, Any]) -> str | None:
    """The SQL condition under which a row fails the expectation, as Great Expectations judges it."""
    kwargs = {k: _resolve(v, parameters) for k, v in expect.kwargs.items()}
    column = kwargs.get("column")
    if not isinstance(column, str):
        return None
    c = '"' + column.replace('"', '""') + '"'
    kind = expect.type
    if kind == "expect_column_values_to_not_be_null":
        return f"{c} is null"
    if kind == "expect_column_values_to_be_null":
        return f"{c} is not null"
    if kind == "expect_column_values_to_be_between":
        low, high = _literal(kwargs.get("min_value")), _literal(kwargs.get("max_value"))
        parts = []
        if low is not None:
            parts.append(f"{c} {'<=' if kwargs.get('strict_min') else '<'} {low}")
        if high is not None:
            parts.append(f"{c} {'>=' if kwargs.get('strict_max') else '>'} {high}")
        return f"{c} is not null and ({' or '.join(parts)})" if parts else None
    if kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        values = [_literal(v) for v in kwargs.get("value_set") or []]
        listed = ", ".join(v for v in values if v is not None)
        if not listed:
            return None
        negate = "not " if kind == "expect_column_values_to_be_in_set" else ""
        return f"{c} is not null and {c} {negate}in ({listed})"
    return None  # uniqueness and the rest: not a property of one row


def row_conditions(table: str, parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """Each row-level critical check of `table`'s batch suite: (reason, SQL condition a failing row meets)."""
    found = []
    for expect in load_suite(table).for_scope("batch"):
        if expect.severity != "critical" or expect.kwargs.get("mostly") != ROW_TOLERANCE:
            continue
        condition = _fails(expect, parameters)
        if condition is not None:
            found.append((f"failed critical check {table}.{expect.key}: {expect.title}", condition))
    return found


def _rows(table: str, failing: str) -> str:
    # An order that fails takes all its lines with it; a line or an event is its own row.
    if table == "orders":
        return f"select __row from {TYPED} where order_id in (select order_id from ({failing}))"
    return f"select __row from ({failing})"


def row_checks(table: str, parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """Each row-level critical check of `table`'s batch suite: (reason, SQL of the typed rows failing it)."""
    return [
        (reason, _rows(table, f"select * from ({batch_sql(table)}) where {condition}"))
        for reason, condition in row_conditions(table, parameters)
    ]


def failing_rows(
    con: duckdb.DuckDBPyConnection, table: str, frame: pa.Table, parameters: dict[str, Any]
) -> list[tuple[str, str]]:
    """row_checks judged on the batch frame the checks validate (taken already): only the checks some
    row fails, each with the SQL of its typed rows, kept in a temp table.

    The batch's query is not run again per check. A row failing several checks is named by the first
    of them, as marking them one after the other would (a later check finds its rows quarantined).
    """
    checks = row_conditions(table, parameters)
    if not checks or frame.num_rows == 0:
        return []
    key = "order_id" if table == "orders" else "__row"
    cases = " ".join(f"when {condition} then {i}" for i, (_, condition) in enumerate(checks))
    view, kept = f"batch_frame_{table}", f"batch_failing_{table}"
    con.complete()  # DuckDB 2 refuses register() while an earlier execute() result is unread
    con.register(view, frame)
    try:
        con.execute(
            f"create or replace temp table {kept} as select * from "
            f"(select {key}, case {cases} end as check_index from {view}) where check_index is not null"
        )
    finally:
        con.unregister(view)
    fired = sorted(int(i) for (i,) in con.execute(f"select distinct check_index from {kept}").fetchall())
    return [(checks[i][0], _rows(table, f"select {key} from {kept} where check_index = {i}")) for i in fired]
