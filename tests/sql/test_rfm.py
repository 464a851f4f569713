"""RFM: quintile scores from hand-written rows and the rule table in sql/marts/rfm_segments.sql."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
from tests.sql.conftest import add_events, add_order

from segmint.features import build_features

AS_OF = date(2024, 3, 31)
STANDARD = {
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
}


def test_the_rule_table_covers_every_cell_exactly_once(duck: duckdb.DuckDBPyConnection) -> None:
    build_features(duck, AS_OF)
    cells = duck.execute(
        """
        select r.r, f.fm, count(rules.rfm_segment), any_value(rules.rfm_segment)
        from range(1, 6) r(r) cross join range(1, 6) f(fm)
        left join rfm_segments rules on r.r between rules.r_min and rules.r_max
            and f.fm between rules.fm_min and rules.fm_max
        group by 1, 2
        """
    ).fetchall()
    assert len(cells) == 25
    assert all(count == 1 for _, _, count, _ in cells)
    assert {name for *_, name in cells} == STANDARD
    grid = {(r, fm): name for r, fm, _, name in cells}
    assert grid[(5, 5)] == "Champions"
    assert grid[(1, 1)] == "Lost"
    assert grid[(1, 5)] == "Cannot Lose Them"
    assert grid[(5, 1)] == "New Customers"


def _ten_buyers(con: duckdb.DuckDBPyConnection) -> None:
    # Buyer i: i + 1 orders of 10 x (i + 1) each, the last 3 x (10 - i) days before as_of.
    for i in range(10):
        last = AS_OF - timedelta(days=3 * (10 - i))
        for n in range(i + 1):
            day = last - timedelta(days=n)
            add_order(con, f"o{i}-{n}", f"c{i}", f"{day} 12:00:00", [(1, 10.0 * (i + 1), "P", "x")])


def test_scores_are_quintiles_of_the_buyers(duck: duckdb.DuckDBPyConnection) -> None:
    _ten_buyers(duck)
    add_events(duck, "prospect", "s1", "2024-03-30 10:00:00", ["product_view"])
    build_features(duck, AS_OF)
    rows = duck.execute(
        """
        select customer_id, r_score, f_score, m_score, fm_score, rfm_segment from customer_features
        where as_of = ? order by customer_id
        """,
        [AS_OF],
    ).fetchall()
    expected_scores = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    buyers = {row[0]: row[1:] for row in rows if row[0] != "prospect"}
    for i, score in enumerate(expected_scores):
        assert buyers[f"c{i}"][:4] == (score, score, score, score)
    assert [buyers[f"c{i}"][4] for i in range(10)] == [
        "Lost",
        "Lost",
        "Hibernating",
        "Hibernating",
        "Need Attention",
        "Need Attention",
        "Loyal Customers",
        "Loyal Customers",
        "Champions",
        "Champions",
    ]
    # prospects are not scored: they would otherwise share the bottom quintile with real buyers
    assert dict((row[0], row[1:]) for row in rows)["prospect"] == (None, None, None, None, None)


def test_ties_share_a_score(duck: duckdb.DuckDBPyConnection) -> None:
    for i in range(4):
        add_order(duck, f"a{i}", f"c{i}", "2024-03-01 10:00:00", [(1, 10.0, "P", "x")])
    for n in range(4):
        add_order(duck, f"b{n}", "c4", f"2024-03-0{n + 2} 10:00:00", [(1, 10.0, "P", "x")])
    build_features(duck, AS_OF)
    f_scores = dict(
        duck.execute("select customer_id, f_score from customer_features where as_of = ?", [AS_OF]).fetchall()
    )
    assert f_scores == {"c0": 1, "c1": 1, "c2": 1, "c3": 1, "c4": 5}
