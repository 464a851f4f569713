"""Query results as Polars frames (DuckDB and Polars share memory, so this copies nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import polars as pl


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | Mapping[str, object] | None = None
) -> pl.DataFrame:
    """Run `sql` with `params` (positional `?` or named `$name`) and return the result as a frame."""
    # DuckDB 2 refuses a new query while an execute() result is unread (e.g. after fetchone()).
    con.complete()
    result = con.sql(sql, params=params).pl()
    assert isinstance(result, pl.DataFrame)
    return result


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None) -> object:
    """The first value of the first row of `sql` (None without rows); leaves no unread result."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None
