"""Recommenders (item-item neighbours, popularity, rules) on hand-written baskets, their metrics on a tiny
hand-computed example, and the time-split evaluation's skips and stored rows."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

from segmint.predict.recommend import (
    Matrix,
    PurchaseHistory,
    chosen_method,
    evaluate,
    item_similarity,
    lookback,
    purchase_matrix,
    recommend,
    score_recommendations,
    store_evaluation,
)

AS_OF = date(2024, 3, 31)


def _shop(con: duckdb.DuckDBPyConnection, order: Any) -> None:
    # Four customers buy A with B, three C with D, and everyone E (the best seller, like to like nothing).
    for i in range(4):
        order(con, f"ab{i}", f"ab{i}", "2024-03-01", [("A", 1, 1.0), ("B", 1, 1.0), ("E", 1, 1.0)])
    for i in range(3):
        order(con, f"cd{i}", f"cd{i}", "2024-03-02", [("C", 1, 1.0), ("D", 1, 1.0), ("E", 1, 1.0)])
    order(con, "x1", "x", "2024-03-10", [("A", 1, 1.0)])
    order(con, "y1", "y", "2024-03-10", [("C", 1, 1.0), ("E", 1, 1.0)])


def test_item_similarity_is_cosine_over_customers_and_keeps_n_neighbours() -> None:
    # Customers x products: A and B bought by the same two people (cosine 1), C by one of them.
    bought = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=float)
    import scipy.sparse as sp

    similarity = item_similarity(sp.csr_matrix(bought), n_neighbours=2).toarray()
    assert similarity[0, 1] == pytest.approx(1.0)
    assert similarity[0, 2] == pytest.approx(1 / (math.sqrt(2) * math.sqrt(2)))  # one shared of 2 and 2
    assert np.all(np.diag(similarity) == 0)  # a product is not its own neighbour
    one = item_similarity(sp.csr_matrix(bought), n_neighbours=1).toarray()
    assert one[0, 1] == pytest.approx(1.0) and one[0, 2] == 0  # only the nearest kept


def test_neighbours_recommend_what_is_bought_with_what_they_have(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    top = recommend(seg_duck, "neighbours", AS_OF, k=2, lookback_days=365, recency_days=None)
    x = top.filter(pl.col("customer_id") == "x").sort("rank")
    # A's neighbours: B (cosine 4/sqrt(5*4) = 0.894) ahead of E (5/sqrt(5*9) = 0.745); never A itself.
    assert x["product_id"].to_list() == ["B", "E"]
    assert x["score"][0] == pytest.approx(4 / math.sqrt(5 * 4))
    y = top.filter(pl.col("customer_id") == "y")
    # y owns C and E: D is C's twin and close to E; A and B are reached only through E.
    assert y["product_id"][0] == "D" and not set(y["product_id"]) & {"C", "E"}
    assert top.group_by("customer_id").len()["len"].max() == 2


def test_popularity_is_the_best_sellers_not_owned(seg_duck: duckdb.DuckDBPyConnection, order: Any) -> None:
    _shop(seg_duck, order)
    top = recommend(seg_duck, "popularity", AS_OF, k=2, lookback_days=365, recency_days=None)
    # E is in 8 orders, A in 5, B and C in 4 (and bought by 4 customers each: the id decides), D in 3.
    assert top.filter(pl.col("customer_id") == "x")["product_id"].to_list() == ["E", "B"]
    assert top.filter(pl.col("customer_id") == "y")["product_id"].to_list() == ["A", "B"]


def test_rules_recommendations_leave_the_warehouse_untouched(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    top = recommend(seg_duck, "rules", AS_OF, k=2, lookback_days=365, recency_days=None)
    assert top.filter(pl.col("customer_id") == "x")["product_id"][0] == "B"
    assert seg_duck.execute("select count(*) from basket_rules").fetchall() == [(0,)]
    assert seg_duck.execute("select count(*) from basket_recommendations").fetchall() == [(0,)]


def test_capped_catalogue_only_scores_the_most_bought(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    top = recommend(seg_duck, "neighbours", AS_OF, k=5, lookback_days=365, recency_days=None, max_products=3)
    # The 3 most-bought products (by customers): E (8), A (5), B (4, ahead of C by id). C and D are left out.
    assert set(top["product_id"]) <= {"E", "A", "B"} and not top.is_empty()


def test_metrics_on_a_hand_computed_example() -> None:
    recommended = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "z"],
            "rank": [1, 2, 1, 2, 1, 1],
            "product_id": ["P1", "P2", "P3", "P1", "P4", "P9"],
        }
    )
    # a bought P1 and P2 (2 hits), b bought P5 (none), c bought P4 (1 hit); z is not judged.
    new_items = pl.DataFrame({"customer_id": ["a", "a", "b", "c"], "product_id": ["P1", "P2", "P5", "P4"]})
    s = score_recommendations(recommended, new_items, catalogue_items=10, k=2, method="m")
    assert s.customers_evaluated == 3 and s.customers_recommended == 3
    assert s.hit_rate == pytest.approx(2 / 3)
    assert s.precision == pytest.approx((2 / 2 + 0 / 2 + 1 / 2) / 3)
    assert s.coverage == pytest.approx(4 / 10)  # P1, P2, P3, P4 recommended to judged customers


def test_evaluation_trains_before_the_split_and_judges_after(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    con = seg_duck
    _shop(con, order)
    # After the split (2024-03-31): x buys B (neighbours' first pick), y buys A (popularity's first pick).
    order(con, "x2", "x", "2024-04-20", [("B", 1, 1.0)])
    order(con, "y2", "y", "2024-04-21", [("A", 1, 1.0)])
    evaluation = evaluate(con, date(2024, 6, 29), k=1, min_customers=2)
    assert evaluation.message is None and evaluation.train_end == AS_OF
    assert evaluation.catalogue_items == 5
    neighbours, popularity = evaluation.of("neighbours"), evaluation.of("popularity")
    assert neighbours is not None and popularity is not None
    assert (neighbours.customers_evaluated, neighbours.hit_rate) == (2, 0.5)  # x hit, y got D
    assert popularity.hit_rate == 0.5  # x got E, y got A
    store_evaluation(con, "r1", evaluation, "neighbours")
    rows = con.execute(
        "select method, customers_evaluated, hit_rate_at_5, is_default from recommendation_evaluations "
        "where run_id = 'r1' order by method"
    ).fetchall()
    assert [r[0] for r in rows] == ["neighbours", "popularity", "rules"]
    assert [r[3] for r in rows] == [True, False, False]


def test_too_little_history_or_too_few_customers_stores_nothing_and_says_why(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    short = evaluate(seg_duck, date(2024, 4, 20))
    assert short.scores == () and short.message is not None
    assert "needs more than 90 days of orders; you have 51" in short.message
    few = evaluate(seg_duck, date(2024, 6, 29))
    assert few.scores == () and few.message == (
        "recommendations not evaluated: 0 customers bought before 2024-03-31 and then a product new to them "
        "in the 90 days after, fewer than the 20 a hit rate needs (it judges what returning customers buy next)"
    )
    assert evaluate(duckdb_empty(seg_duck), date(2024, 6, 29)).message is not None


def duckdb_empty(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The same warehouse with no orders at all."""
    con.execute("delete from order_lines")
    con.execute("delete from orders")
    return con


def test_auto_takes_the_nights_best_and_falls_back_to_the_default(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    order(seg_duck, "y2", "y", "2024-04-21", [("A", 1, 1.0)])
    evaluation = evaluate(seg_duck, date(2024, 6, 29), k=1, min_customers=1)
    assert chosen_method("auto", evaluation) == "popularity"  # y bought popularity's pick
    assert chosen_method("auto", None) == "neighbours"
    assert chosen_method("rules", evaluation) == "rules"


def test_purchases_and_matrix_exclude_what_was_ever_bought(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    order(seg_duck, "old", "x", "2022-01-01", [("D", 1, 1.0)])
    matrix = purchase_matrix(seg_duck, AS_OF, date(2023, 4, 1), None)
    row = matrix.customers.index_of("x")
    d = matrix.products.index_of("D")
    assert matrix.bought[row, d] == 1 and matrix.recent[row, d] == 0  # owned, but no evidence of similarity
    top = recommend(seg_duck, "neighbours", AS_OF, k=5, lookback_days=365, recency_days=None)
    assert "D" not in top.filter(pl.col("customer_id") == "x")["product_id"].to_list()


def _dense(matrix: Matrix) -> tuple[list[str], list[str], list[np.ndarray]]:
    parts = [matrix.bought, matrix.recent, matrix.weight]
    return matrix.customers.to_list(), matrix.products.to_list(), [m.toarray() for m in parts]


def test_a_shared_history_gives_each_cut_the_matrix_of_its_own_day(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    # The night's recommendations and the evaluation's split read one aggregate: each cut must see only
    # what was bought by its day, as a matrix built for that day alone does.
    _shop(seg_duck, order)
    order(seg_duck, "x2", "x", "2024-05-02", [("A", 1, 1.0), ("B", 2, 1.0)])  # B new to x after the split
    order(seg_duck, "y2", "y", "2024-05-03", [("C", 1, 1.0)])  # nothing new to y
    order(seg_duck, "z1", "z", "2024-05-04", [("A", 1, 1.0)])  # z unknown at the split: not judged
    order(seg_duck, "c1", "cd0", "2024-05-05", [("A", 1, 1.0)], cancelled=True)  # a cancellation buys nothing
    order(seg_duck, "g1", None, "2024-05-06", [("D", 1, 1.0)])  # a guest is nobody's purchase
    night, split = lookback(date(2024, 6, 29), 365), lookback(AS_OF, 365)
    with PurchaseHistory(seg_duck, [night, split]) as history:
        for cut in (night, split):
            alone = purchase_matrix(seg_duck, cut.upto, cut.since, 30.0)
            shared = history.matrix(cut, 30.0)
            own, common = _dense(alone), _dense(shared)
            assert own[:2] == common[:2]
            assert all(np.array_equal(a, b) for a, b in zip(own[2], common[2], strict=True))
        new = history.new_items(split, night)
    assert sorted(new.iter_rows()) == [("x", "B")]
    assert seg_duck.execute(
        "select count(*) from duckdb_tables() where table_name like 'recommend_pairs%'"
    ).fetchall() == [(0,)]


def test_orders_without_products_say_there_is_nothing_to_recommend(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    _shop(seg_duck, order)
    seg_duck.execute("update order_lines set product_id = null")  # an export of order totals only
    evaluation = evaluate(seg_duck, date(2024, 6, 29))
    assert evaluation.scores == () and evaluation.message == (
        "recommendations not evaluated: no order line in the 365 days up to 2024-03-31 names a product, "
        "so there is nothing to recommend"
    )


@pytest.mark.parametrize("method", ["neighbours", "popularity"])
def test_recommending_to_some_customers_gives_them_what_everyone_would_get(
    seg_duck: duckdb.DuckDBPyConnection, order: Any, method: Any
) -> None:
    # The evaluation scores only the customers it judges; their lists must not change for it.
    _shop(seg_duck, order)
    everyone = recommend(seg_duck, method, AS_OF, k=3, lookback_days=365, recency_days=None)
    some = recommend(seg_duck, method, AS_OF, k=3, lookback_days=365, recency_days=None, only={"x", "cd1"})
    assert set(some["customer_id"]) == {"x", "cd1"}
    expected = everyone.filter(pl.col("customer_id").is_in(["x", "cd1"]))
    assert some.sort("customer_id", "rank").equals(expected.sort("customer_id", "rank"))


def test_a_large_judged_group_is_a_seeded_sample_of_whole_customers() -> None:
    from segmint.predict.recommend import _judged_sample

    items = pl.DataFrame(
        {"customer_id": [f"c{i // 2}" for i in range(200)], "product_id": [f"p{i % 2}" for i in range(200)]}
    )
    sample = _judged_sample(items, 30)
    assert sample["customer_id"].n_unique() == 30
    assert sample.group_by("customer_id").len()["len"].to_list() == [2] * 30  # all of a customer's rows
    assert sample.equals(_judged_sample(items, 30))  # the same sample every night
    assert _judged_sample(items, 100).equals(items)
