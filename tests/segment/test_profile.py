"""Names and descriptions read off segment profiles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from segmint.segment.profile import (
    BaseFacts,
    MemberFacts,
    defining_features,
    describe,
    member_facts,
    name_holds,
    profile_table,
    segment_name,
    unique_name,
    zscores,
)

BASE = BaseFacts(
    median_recency=60.0,
    recency_p33=30.0,
    recency_p75=150.0,
    median_frequency=2.0,
    median_monetary=300.0,
    median_aov=100.0,
    browsing_share=0.2,
)


def facts(**changes: object) -> MemberFacts:
    """An ordinary segment of buyers (the base's medians), changed where a test says."""
    plain = MemberFacts(
        size=100,
        share=0.2,
        prospect_share=0.0,
        revenue_share=0.15,
        top_revenue=False,
        one_time_share=0.3,
        median_recency=60.0,
        median_frequency=2.0,
        median_monetary=300.0,
        median_aov=100.0,
        median_overdue=1.0,
        browsing_share=0.2,
        base=BASE,
    )
    return replace(plain, **changes)  # type: ignore[arg-type]


def test_names_follow_the_members() -> None:
    assert segment_name(facts(prospect_share=0.95, browsing_share=0.7)) == "Window shoppers"
    assert segment_name(facts(prospect_share=0.95, browsing_share=0.1)) == "Sign-ups who never bought"
    assert segment_name(facts(prospect_share=0.6)) == "Mostly sign-ups without an order"
    assert segment_name(facts(one_time_share=0.9, median_recency=200.0)) == "Lapsed one-time buyers"
    assert segment_name(facts(one_time_share=0.9, median_recency=10.0)) == "New customers"
    assert segment_name(facts(one_time_share=0.9)) == "One-time buyers"
    big = {"median_monetary": 900.0, "revenue_share": 0.5}
    assert segment_name(facts(median_recency=200.0, **big)) == "Lapsed big spenders"
    assert segment_name(facts(median_recency=200.0, median_frequency=5.0, one_time_share=0.1)) == (
        "Lapsed regulars"
    )
    assert segment_name(facts(median_frequency=8.0, one_time_share=0.0, top_revenue=True, **big)) == (
        "High-value regulars"
    )
    assert segment_name(facts(median_aov=300.0, **big)) == "Big-ticket buyers"
    assert segment_name(facts(median_frequency=4.0, one_time_share=0.1, median_aov=50.0)) == "Bargain hunters"
    assert segment_name(facts(median_frequency=4.0, one_time_share=0.1)) == "Regulars"
    assert segment_name(facts()) == "Occasional buyers"


def test_a_name_is_only_given_when_its_claim_holds() -> None:
    # "never bought" needs nearly all members without an order, not three quarters of them
    assert segment_name(facts(prospect_share=0.76)) != "Sign-ups who never bought"
    # "occasional" is never the segment that brings the most revenue, nor one above its head share
    assert segment_name(facts(top_revenue=True)) == "Other customers"
    assert segment_name(facts(revenue_share=0.3)) == "Other customers"
    # "lapsed" is measured against the base: 30 days is not lapsed when the base's median is 60
    assert "Lapsed" not in segment_name(facts(one_time_share=0.9, median_recency=59.0))
    # ...and never after a few weeks, even in a base that only spans a month
    young = replace(BASE, median_recency=10.0, recency_p33=5.0, recency_p75=20.0)
    assert "Lapsed" not in segment_name(facts(one_time_share=0.9, median_recency=29.0, base=young))
    # regulars three usual intervals overdue are lapsed, if their last order is older than the base's
    overdue = facts(median_frequency=6.0, one_time_share=0.0, median_recency=70.0, median_overdue=4.0)
    assert segment_name(overdue) == "Lapsed regulars"
    assert segment_name(replace(overdue, median_overdue=1.5)) == "Regulars"
    # "high-value" needs median spend twice the base's and more revenue than head count
    assert segment_name(facts(median_monetary=900.0, revenue_share=0.2, median_frequency=8.0)) != (
        "High-value regulars"
    )


def test_an_inherited_name_is_kept_only_while_it_holds() -> None:
    assert name_holds("Regulars, more orders", facts(median_frequency=4.0, one_time_share=0.1))
    assert not name_holds("Regulars 2", facts())
    assert not name_holds("Sign-ups who never bought", facts(prospect_share=0.7))
    assert not name_holds("A name from elsewhere", facts())


def test_member_facts_are_the_members_medians_and_shares() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "is_prospect": [False, False, False, False, True, True],
            "recency_days": [10, 20, 300, 400, None, None],
            "frequency": [5, 7, 1, 1, 0, 0],
            "monetary": [500.0, 700.0, 50.0, 30.0, None, None],
            "avg_order_value": [100.0, 100.0, 50.0, 30.0, None, None],
            "mean_days_between_orders": [20.0, 2.0, None, None, None, None],
            "sessions_90d": [None, None, None, None, 3, None],
            "segment_id": [1, 1, 2, 2, 3, 3],
        }
    )
    got = member_facts(frame)
    assert got[1].median_frequency == 6.0 and got[1].top_revenue and got[1].one_time_share == 0.0
    assert got[1].median_overdue == 5.25  # (10/20 + 20/2) / 2
    assert got[2].one_time_share == 1.0 and got[2].median_recency == 350.0
    assert got[3].prospect_share == 1.0 and got[3].browsing_share == 0.5 and got[3].median_recency is None
    assert got[1].base.median_recency == 160.0 and got[1].base.browsing_share == 1 / 6
    assert segment_name(got[3]) == "Window shoppers"
    assert segment_name(got[2]) == "Lapsed one-time buyers"


def test_a_taken_name_is_qualified_by_the_largest_difference() -> None:
    taken = {"One-time buyers": [0.5, -1.0, -0.8, -0.4, 0.0]}
    assert unique_name("Regulars", taken, [0.0] * 5) == "Regulars"
    assert unique_name("One-time buyers", taken, [0.5, -1.0, -0.2, 0.9, 0.1]) == (
        "One-time buyers, higher order value"
    )
    taken["One-time buyers, higher order value"] = [0.5, -1.0, -0.2, 0.9, 0.1]
    assert unique_name("One-time buyers", taken, [0.5, -1.0, -0.2, 0.9, 0.1]).startswith("One-time buyers ")


def test_profile_table_and_description() -> None:
    frame = pl.DataFrame(
        {
            "segment_id": [1, 1, 2, 2],
            "is_prospect": [False, False, True, True],
            "monetary": [100.0, 300.0, 0.0, -5.0],
            "frequency": [2, 4, 0, 0],
            "recency_days": [10, 30, None, None],
            "avg_order_value": [50.0, 75.0, None, None],
            "sessions_90d": [1, 3, 9, 11],
            "days_since_last_visit": [5, 7, 1, 3],
        }
    )
    table = profile_table(frame)
    rows = {r["segment_id"]: r for r in table.iter_rows(named=True)}
    # The description's order value is net revenue over orders (400 / 6), not the mean of 50 and 75.
    assert (rows[1]["size"], rows[1]["share"], rows[1]["revenue_share"]) == (2, 0.5, 1.0)
    assert rows[2]["prospect_share"] == 1.0 and rows[2]["mean_sessions_90d"] == 10.0
    assert rows[1]["mean_monetary"] == 200.0 and rows[1]["mean_recency_days"] == 20.0
    text = describe(rows[1], [{"feature": "frequency", "z": 1.2}, {"feature": "recency_days", "z": -0.7}])
    assert text == (
        "2 customers (50% of the base, 100% of revenue); 3.0 orders of 67 on average (net), the last 20 days ago; "
        "2.0 visits in the last 90 days, last visit 6 days ago; stands out by more orders, shorter days "
        "since the last order than the base."
    )
    assert describe(rows[2], []).startswith(
        "2 customers (50% of the base, 0% of revenue); 100% have never ordered"
    )


def test_zscores_and_defining_features() -> None:
    x = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 1.0], [2.0, 1.0]])
    z = zscores(x, [1, 1, 2, 2], [1, 2])
    np.testing.assert_allclose(z, [[-1.0, 0.0], [1.0, 0.0]])
    assert defining_features(z[1], ["frequency", "monetary"]) == [{"feature": "frequency", "z": 1.0}]


def test_cancellation_only_customers_are_not_called_sign_ups() -> None:
    # Ordered and then cancelled everything: prospects (no kept order), but not "never bought".
    cancelled = facts(prospect_share=0.95, no_order_share=0.0, cancelled_only_share=0.95)
    assert segment_name(cancelled) == "Customers who cancelled every order"
    assert not name_holds("Sign-ups who never bought", cancelled)
    assert segment_name(facts(prospect_share=0.6, no_order_share=0.0, cancelled_only_share=0.6)) == (
        "Mostly customers who cancelled every order"
    )
    mixed = facts(prospect_share=0.7, no_order_share=0.35, cancelled_only_share=0.35)
    assert segment_name(mixed) == "Mostly customers without a kept order"
    assert segment_name(facts(prospect_share=0.95, no_order_share=0.95)) == "Sign-ups who never bought"


def test_nobody_browses_in_a_shop_without_a_clickstream() -> None:
    no_events = replace(BASE, has_events=False, browsing_share=0.0)
    assert segment_name(facts(prospect_share=0.95, browsing_share=0.7, base=no_events)) == (
        "Sign-ups who never bought"
    )


def test_lapsed_is_measured_against_the_shops_purchase_cycle() -> None:
    # 100 days is long against the base's 60, but the shop's customers come back every 80 days.
    slow_shop = replace(BASE, purchase_cycle=80.0)
    assert segment_name(facts(one_time_share=0.9, median_recency=100.0, base=slow_shop)) == "One-time buyers"
    assert segment_name(facts(one_time_share=0.9, median_recency=200.0, base=slow_shop)) == (
        "Lapsed one-time buyers"
    )


def test_member_facts_tell_cancellations_from_no_order_and_describe_them() -> None:
    frame = pl.DataFrame(
        {
            "segment_id": [1, 1, 1, 1, 2, 2],
            "is_prospect": [True, True, True, False, False, False],
            "orders_total": [1, 2, 1, 1, 3, 2],
            "monetary": [0.0, 0.0, 0.0, 40.0, 300.0, 100.0],
            "frequency": [0, 0, 0, 1, 3, 2],
            "recency_days": [None, None, None, 10, 5, 30],
            "avg_order_value": [None, None, None, 40.0, 100.0, 50.0],
            "mean_days_between_orders": [None, None, None, None, 20.0, 40.0],
            "sessions_90d": [0, 0, 0, 0, 0, 0],
        }
    )
    got = member_facts(frame, has_events=False)
    assert got[1].cancelled_only_share == 0.75 and got[1].without_order == 0.0
    assert got[1].base.purchase_cycle == 30.0 and not got[1].base.has_events
    assert segment_name(got[1]) == "Mostly customers who cancelled every order"
    row = {r["segment_id"]: r for r in profile_table(frame).iter_rows(named=True)}[1]
    text = describe(row, [], got[1])
    assert "75% ordered and then cancelled every order" in text
    assert "never ordered" not in text and "visits" not in text  # no clickstream, no words about visits


def test_a_zero_value_order_without_a_cancellation_is_not_cancelled_only() -> None:
    # Segment 1: two members cancelled their one order (net 0 and -50); two had a £0 order they kept
    # and cancelled nothing (a free sample): only the first two cancelled everything.
    frame = pl.DataFrame(
        {
            "segment_id": [1, 1, 1, 1, 2, 2],
            "is_prospect": [True, False, False, False, False, False],
            "orders_total": [1, 2, 1, 1, 3, 2],
            "cancelled_orders": [1, 1, 0, 0, 0, 0],
            "monetary": [0.0, -50.0, 0.0, 0.0, 300.0, 100.0],
            "frequency": [0, 1, 1, 1, 3, 2],
            "recency_days": [None, 40, 12, 15, 5, 30],
            "avg_order_value": [None, -50.0, 0.0, 0.0, 100.0, 50.0],
            "mean_days_between_orders": [None, None, None, None, 20.0, 40.0],
            "sessions_90d": [0, 0, 0, 0, 0, 0],
        }
    )
    got = member_facts(frame, has_events=False)
    assert got[1].cancelled_only_share == 0.5
    assert got[2].cancelled_only_share == 0.0
    row = {r["segment_id"]: r for r in profile_table(frame).iter_rows(named=True)}[1]
    assert row["revenue_share"] == 0.0  # a share of positive revenue: the segment kept none
    text = describe(row, [], got[1])
    assert "no revenue kept: cancellations exceed their orders" in text and "0% of revenue" not in text
