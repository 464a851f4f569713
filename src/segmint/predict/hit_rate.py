"""Recommendations judged on a later period: hit rate at k of a prediction run's basket recommendations
against a popularity baseline (the k best-selling products a customer has not bought yet)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from segmint.warehouse import query_one

_SQL = """
with
bought_before as (
    select distinct o.customer_id, l.product_id
    from orders o join order_lines l using (order_id)
    where o.customer_id is not null and not o.is_cancellation and l.quantity > 0 and l.product_id is not null
        and o.ordered_at < cast($as_of as date) + interval 1 day
),
bought_after as (
    select distinct o.customer_id, l.product_id
    from orders o join order_lines l using (order_id)
    where o.customer_id is not null and not o.is_cancellation and l.quantity > 0 and l.product_id is not null
        and o.ordered_at >= cast($as_of as date) + interval 1 day
        and o.ordered_at < cast($as_of as date) + interval 1 day + to_days(cast($days as integer))
),
-- Only products new to the customer can be hit: neither recommender suggests what they already own.
new_items as (select * from bought_after anti join bought_before using (customer_id, product_id)),
judged as (select distinct customer_id from new_items semi join bought_before using (customer_id)),
popular as (
    select l.product_id, count(distinct o.order_id) as orders
    from orders o join order_lines l using (order_id)
    where not o.is_cancellation and l.quantity > 0 and l.product_id is not null
        and o.ordered_at < cast($as_of as date) + interval 1 day
        and o.ordered_at >= cast($as_of as date) - to_days(cast($lookback as integer) - 1)
    group by l.product_id
),
-- Enough of the best sellers that every customer still has k they do not own.
popular_top as (
    select * from popular
    qualify row_number() over (order by orders desc, product_id)
        <= $k + (select coalesce(max(n), 0) from (select count(*) as n from bought_before group by customer_id))
),
by_popularity as (
    select j.customer_id, p.product_id
    from judged j cross join popular_top p
    anti join bought_before b on b.customer_id = j.customer_id and b.product_id = p.product_id
    qualify row_number() over (partition by j.customer_id order by p.orders desc, p.product_id) <= $k
),
by_rules as (
    select customer_id, product_id from basket_recommendations where run_id = $run_id and rank <= $k
),
rule_hits as (select distinct customer_id from by_rules join new_items using (customer_id, product_id)),
popular_hits as (select distinct customer_id from by_popularity join new_items using (customer_id, product_id))
select
    (select count(*) from judged),
    (select count(*) from rule_hits semi join judged using (customer_id)),
    (select count(*) from popular_hits),
    (select count(distinct customer_id) from by_rules semi join judged using (customer_id))
"""


@dataclass(frozen=True)
class HitRates:
    """Share of judged customers with at least one of their k suggestions among what they bought next."""

    customers: int  # bought by as_of and bought something new in the following days
    recommendations: float
    popularity: float
    covered: int  # judged customers who had any recommendation at all


def recommendation_hit_rate(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    *,
    days: int = 90,
    k: int = 5,
    lookback_days: int = 365,
) -> HitRates:
    """Hit rate at `k` of run `run_id`'s recommendations over the `days` after `as_of`, beside popularity."""
    row = query_one(
        con,
        _SQL,
        {"run_id": run_id, "as_of": as_of, "days": days, "k": k, "lookback": lookback_days},
    )
    customers, by_rules, by_popularity, covered = (int(v) for v in row) if row else (0, 0, 0, 0)

    def share(n: int) -> float:
        return n / customers if customers else float("nan")

    return HitRates(customers, share(by_rules), share(by_popularity), covered)
