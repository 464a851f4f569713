"""The query helpers every package module reads the warehouse with."""

from __future__ import annotations

import duckdb

from segmint.warehouse import query_frame, query_one


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


def test_web_gap_says_why_the_web_features_are_empty(duck: duckdb.DuckDBPyConnection) -> None:
    from datetime import date

    from segmint.features import web_gap

    night = date(2011, 12, 9)
    assert web_gap(duck, night) == "no clickstream"

    def events_on(day: str) -> None:
        duck.execute("delete from events")
        duck.execute(
            "insert into events (event_id, occurred_at, event_type, source_file) "
            "values ('E1', ?::timestamp, 'page_view', 'web.csv')",
            [day],
        )

    # Orders of 2011 beside a clickstream of 2019: the events exist, but not for this night.
    events_on("2019-10-01 10:00")
    assert web_gap(duck, night) == (
        "the web events start on 2019-10-01, after this night: export events for the orders' period"
    )
    events_on("2011-01-05 10:00")
    assert web_gap(duck, night) == "the newest web event is from 2011-01-05, 338 days before this night"
    events_on("2011-12-01 10:00")
    assert web_gap(duck, night) == ""
