"""Names and descriptions read off segment profiles."""

from __future__ import annotations

import numpy as np
import polars as pl

from segmint.segment.profile import (
    NamingStats,
    defining_features,
    describe,
    profile_table,
    segment_name,
    unique_name,
    zscores,
)


def stats(prospects: float = 0.0, orders: float = 5.0, **z: float) -> NamingStats:
    base = {
        "recency_days": 0.0,
        "frequency": 0.0,
        "monetary": 0.0,
        "avg_order_value": 0.0,
        "sessions_90d": 0.0,
    }
    return NamingStats(prospects, orders, {**base, **z})


def test_names_follow_the_profile() -> None:
    assert segment_name(stats(0.8, 0.2, sessions_90d=1.2)) == "Window shoppers"
    assert segment_name(stats(0.9, 0.1, sessions_90d=-0.5)) == "Sign-ups who never bought"
    assert segment_name(stats(orders=1.0, recency_days=0.9)) == "Lapsed one-time buyers"
    assert segment_name(stats(orders=1.1, recency_days=-0.8)) == "New customers"
    assert segment_name(stats(orders=1.0)) == "One-time buyers"
    assert segment_name(stats(recency_days=1.2, monetary=0.9)) == "Lapsed big spenders"
    assert segment_name(stats(recency_days=1.2, frequency=0.4)) == "Lapsed regulars"
    assert segment_name(stats(monetary=1.3, frequency=1.0)) == "High-value regulars"
    assert segment_name(stats(avg_order_value=-0.8, frequency=0.4)) == "Bargain hunters"
    assert segment_name(stats(frequency=0.5)) == "Regulars"
    assert segment_name(stats(frequency=-0.2)) == "Occasional buyers"


def test_a_taken_name_is_qualified_by_the_largest_difference() -> None:
    taken = {"One-time buyers": [0.5, -1.0, -0.8, -0.4, 0.0]}
    assert unique_name("Regulars", taken, [0.0] * 5) == "Regulars"
    assert unique_name("One-time buyers", taken, [0.5, -1.0, -0.2, 0.9, 0.1]) == (
        "One-time buyers, higher order value"
    )
    taken["One-time buyers, higher order value"] = [0.5, -1.0, -0.2, 0.9, 0.1]
    assert unique_name("One-time buyers", taken, [0.5, -1.0, -0.2, 0.9, 0.1]).startswith("One-time buyers ")


def test_regulars_far_past_their_usual_interval_are_lapsed() -> None:
    overdue = NamingStats(0.0, 8.0, {**stats().z, "monetary": 0.9}, overdue=6.0)
    assert segment_name(overdue) == "Lapsed big spenders"
    on_time = NamingStats(0.0, 8.0, {**stats().z, "monetary": 0.9, "frequency": 0.5}, overdue=1.2)
    assert segment_name(on_time) == "High-value regulars"


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
    assert (rows[1]["size"], rows[1]["share"], rows[1]["revenue_share"]) == (2, 0.5, 1.0)
    assert rows[2]["prospect_share"] == 1.0 and rows[2]["mean_sessions_90d"] == 10.0
    assert rows[1]["mean_monetary"] == 200.0 and rows[1]["mean_recency_days"] == 20.0
    text = describe(rows[1], [{"feature": "frequency", "z": 1.2}, {"feature": "recency_days", "z": -0.7}])
    assert text == (
        "2 customers (50% of the base, 100% of revenue); 3.0 orders of 62 on average, the last 20 days ago; "
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
