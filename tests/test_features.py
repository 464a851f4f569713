"""The query helpers every package module reads the warehouse with."""

from __future__ import annotations

import duckdb

from segmint.features import query_frame, query_one


def test_a_frame_can_follow_a_half_read_result(duck: duckdb.DuckDBPyConnection) -> None:
    # DuckDB 2.0 refuses .sql() while an execute() result is unread; fetchone() leaves it so.
    duck.execute("create table t as select range as x from range(5)")
    assert duck.execute("select x from t order by x").fetchone() == (0,)
    assert query_frame(duck, "select count(*) as n from t where x >= ?", [2])["n"].to_list() == [3]
    assert duck.execute("select x from t order by x").fetchone() == (0,)
    below = query_frame(duck, "select count(*) as n from t where x < $below", {"below": 2})
    assert below["n"].to_list() == [2]
    assert query_one(duck, "select max(x) from t") == (4,)
    assert query_frame(duck, "select 1 as one")["one"].to_list() == [1]
    assert query_one(duck, "select x from t where x > 9") is None
