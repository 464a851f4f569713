"""Basket mining: product-pair rules per segment and per-customer recommendations, both in SQL (sql/marts/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import polars as pl

from segmint.resources import sql_file
from segmint.warehouse import query_frame, query_one

RULE_COLUMNS = (
    "segment_name",
    "antecedent",
    "consequent",
    "antecedent_name",
    "consequent_name",
    "n_baskets",
    "n_antecedent",
    "n_consequent",
    "n_pair",
    "support",
    "confidence",
    "lift",
)


@dataclass(frozen=True)
class BasketThresholds:
    """Which pairs become rules, and how far back baskets are read."""

    min_support: float = 0.001
    min_confidence: float = 0.05
    min_lift: float = 1.0
    min_pair_count: int = 2
    lookback_days: int = 365


def _rule_params(as_of: date, segment_run_id: str | None, thresholds: BasketThresholds) -> dict[str, object]:
    return {
        "as_of": as_of,
        "since": as_of - timedelta(days=thresholds.lookback_days - 1),
        "segment_run_id": segment_run_id,
        "min_support": thresholds.min_support,
        "min_confidence": thresholds.min_confidence,
        "min_lift": thresholds.min_lift,
        "min_pair_count": thresholds.min_pair_count,
    }


def basket_rules(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    segment_run_id: str | None,
    thresholds: BasketThresholds,
) -> pl.DataFrame:
    """The rules of sql/marts/basket_rules.sql for one as-of date, as a frame."""
    return query_frame(
        con, sql_file("marts/basket_rules.sql"), _rule_params(as_of, segment_run_id, thresholds)
    )


def store_basket_rules(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    segment_run_id: str | None,
    thresholds: BasketThresholds,
) -> int:
    """Replace a run's rows in basket_rules with freshly mined rules; return how many there are."""
    con.execute("delete from basket_rules where run_id = ?", [run_id])
    columns = ", ".join(RULE_COLUMNS)
    params = {**_rule_params(as_of, segment_run_id, thresholds), "run_id": run_id}
    con.execute(
        f"insert into basket_rules (run_id, as_of, {columns}) "
        f"select $run_id, cast($as_of as date), {columns} from ({sql_file('marts/basket_rules.sql')})",
        params,
    )
    row = query_one(con, "select count(*) from basket_rules where run_id = ?", [run_id])
    return int(row[0]) if row else 0


def store_recommendations(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    segment_run_id: str | None,
    top_n: int,
    recency_days: float | None = None,
) -> int:
    """Replace a run's basket_recommendations from its stored rules; return the number of rows.

    `recency_days` weighs each product a customer bought by exp(-days since they last bought it / it).
    """
    con.execute("delete from basket_recommendations where run_id = ?", [run_id])
    params = {
        "run_id": run_id,
        "as_of": as_of,
        "segment_run_id": segment_run_id,
        "top_n": top_n,
        "recency_days": recency_days,
    }
    con.execute(
        "insert into basket_recommendations (run_id, customer_id, rank, product_id, product_name, score) "
        f"select $run_id, customer_id, rank, product_id, product_name, score "
        f"from ({sql_file('marts/basket_recommendations.sql')})",
        params,
    )
    row = query_one(con, "select count(*) from basket_recommendations where run_id = ?", [run_id])
    return int(row[0]) if row else 0
