"""Query results as Polars frames (DuckDB and Polars share memory, so this copies nothing)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

# One implementation, with the DuckDB 2.0 guard against a half-read earlier result.
from segmint.features import query_frame as frame
from segmint.features import query_one

__all__ = ["frame", "scalar"]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None) -> object:
    """The first value of the first row of `sql` (None without rows); leaves no unread result."""
    row = query_one(con, sql, params)
    return row[0] if row else None
