"""The feedback models, given rows -> expected rows: staging finds a review's customer by e-mail, the
intermediate model aggregates per customer with the flags of the latest rating."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from segmint.features import FEATURE_MODELS, run_model
from segmint.warehouse import connect

AS_OF = date(2024, 5, 31)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return connect(":memory:")


def add_feedback(
    con: duckdb.DuckDBPyConnection,
    fid: str,
    at: str,
    customer: str | None,
    email: str | None,
    rating: int,
    scale: str,
) -> None:
    con.execute(
        "insert into feedback values (?, ?::timestamp, ?, ?, ?, ?, null, null, null, 'f.csv')",
        [fid, at, customer, email, rating, scale],
    )


def run(con: duckdb.DuckDBPyConnection, name: str) -> None:
    run_model(con, next(m for m in FEATURE_MODELS if m.name == name), AS_OF)


def test_staging_finds_the_customer_by_id_or_email(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "insert into customers (customer_id, email, country, first_seen_at, marketing_consent, source_file) values ('Z1', 'Zoe@example.com ', 'DE', timestamp '2024-01-01', null, 'c.csv')"
    )
    con.execute(
        "insert into customers (customer_id, email, country, first_seen_at, marketing_consent, source_file) values ('Z2', 'zoe@example.com', 'DE', timestamp '2024-02-01', null, 'c.csv')"
    )
    add_feedback(
        con, "f1", "2024-05-30 10:00:00", None, "zoe@example.com", 2, "stars"
    )  # shared: the first id
    add_feedback(con, "f2", "2024-05-30 11:00:00", "Q7", "zoe@example.com", 5, "stars")  # the id wins
    add_feedback(con, "f3", "2024-05-30 12:00:00", None, "nobody@example.com", 4, "stars")  # nobody: left out
    add_feedback(con, "f4", "2024-06-01 00:00:00", "Z1", None, 1, "stars")  # after the as-of day
    run(con, "stg_warehouse__feedback")
    assert con.execute(
        "select feedback_id, customer_id, rating from stg_warehouse__feedback order by 1"
    ).fetchall() == [("f1", "Z1", 2), ("f2", "Q7", 5)]


def test_aggregated_flags_follow_the_latest_rating(con: duckdb.DuckDBPyConnection) -> None:
    for fid, at, customer, rating, scale in [
        ("a1", "2024-05-01 10:00:00", "A", 0, "nps"),
        ("a2", "2024-05-20 10:00:00", "A", 6, "nps"),  # still a detractor (0-6)
        ("b1", "2024-05-30 10:00:00", "B", 9, "nps"),  # a promoter (9-10)
        ("c1", "2024-05-31 23:59:00", "C", 8, "nps"),  # a passive, today
        ("d1", "2024-04-01 10:00:00", "D", 2, "stars"),  # stars: 1-2 detractor
        ("e1", "2024-05-01 10:00:00", "E", 5, "stars"),  # 5 promoter
        ("f1", "2024-05-01 10:00:00", "F", 3, "stars"),  # 3-4 neither
    ]:
        add_feedback(con, fid, at, customer, None, rating, scale)
    run(con, "stg_warehouse__feedback")
    run(con, "int_customer_feedback_aggregated")
    assert con.execute(
        "select customer_id, feedback_count, rating_mean, rating_last, is_detractor, is_promoter, "
        "days_since_feedback from int_customer_feedback_aggregated order by 1"
    ).fetchall() == [
        ("A", 2, 3.0, 6, True, False, 11),
        ("B", 1, 9.0, 9, False, True, 1),
        ("C", 1, 8.0, 8, False, False, 0),
        ("D", 1, 2.0, 2, True, False, 60),
        ("E", 1, 5.0, 5, False, True, 30),
        ("F", 1, 3.0, 3, False, False, 30),
    ]
