"""Default actions per segment type, read from the segment's profile rather than its name."""

from __future__ import annotations

import pytest

from segmint.report.actions import SEGMENT_TYPES, default_action, feature_label, segment_type, type_for


@pytest.mark.parametrize(
    ("means", "z", "expected"),
    [
        ({"frequency": 0.0}, {"sessions_90d": 2.0}, "browsers"),
        ({"frequency": 4.0}, {"recency_days": 1.2, "monetary": 1.0}, "lapsed_high_value"),
        ({"frequency": 1.0}, {"recency_days": 1.2, "monetary": -0.4}, "lapsed"),
        ({"frequency": 9.0}, {"recency_days": -0.8, "monetary": 2.1, "frequency": 2.0}, "champions"),
        ({"frequency": 5.0}, {"recency_days": -0.3, "monetary": 0.4, "frequency": 0.9}, "loyal"),
        ({"frequency": 1.0}, {"recency_days": -0.9, "tenure_days": -1.1}, "new"),
        ({"frequency": 1.1}, {"recency_days": 0.2}, "one_time"),
        ({"frequency": 3.0}, {"recency_days": -0.2, "avg_order_value": -0.9}, "bargain"),
        ({"frequency": 2.5}, {"recency_days": 0.1, "monetary": 0.1}, "regular"),
        ({"frequency": 2.5}, {"recency_days": None}, "regular"),  # unknown z-scores count as average
    ],
)
def test_segment_type(means: dict[str, float], z: dict[str, float | None], expected: str) -> None:
    assert segment_type(means, z) == expected


def test_no_browse_based_action_without_a_clickstream() -> None:
    assert segment_type({"frequency": 0.0}, {"sessions_90d": 2.0}, has_events=False) == "sign_ups"
    assert segment_type({"frequency": 0.0, "sessions_90d": 0.0}, {}) == "sign_ups"
    assert type_for("Window shoppers", {"frequency": 0.0}, {}, has_events=False) == "sign_ups"
    assert type_for("Window shoppers", {"frequency": 0.0}, {}, has_events=True) == "browsers"


def test_the_type_follows_the_rule_checked_name() -> None:
    # Recent one-time buyers are new, whatever their recency's z-score against an old base says.
    lapsed_looking = {"recency_days": 1.2, "monetary": -0.4}
    assert type_for("New customers", {"frequency": 1.0}, lapsed_looking) == "new"
    assert type_for("One-time buyers, bought more recently", {"frequency": 1.0}, lapsed_looking) == "one_time"
    assert type_for("Customers who cancelled every order", {"frequency": 0.0}, {}) == "cancelled"
    assert type_for("Mostly customers who cancelled every order", {"frequency": 0.4}, {}) == "cancelled"
    assert type_for("Sign-ups who never bought", {"frequency": 0.0}, {"sessions_90d": 1.0}) == "sign_ups"
    assert type_for("Lapsed one-time buyers", {"frequency": 1.0}, {}) == "lapsed"
    # A name no rule gives (renamed by hand) is typed from its profile.
    assert type_for("Our VIPs", {"frequency": 9.0}, {"recency_days": -0.8, "monetary": 2.1}) == "champions"
    cancelled = default_action("cancelled")
    assert "cancel" in cancelled.why and "viewed" not in cancelled.offer


def test_every_type_has_a_concrete_action() -> None:
    for kind in SEGMENT_TYPES:
        action = default_action(kind)
        assert action.segment_type == kind and action.source == "default"
        assert action.title and action.channel and action.offer.endswith(".") and action.why.endswith(".")
    assert default_action("unknown").segment_type == "regular"


def test_feature_labels() -> None:
    assert feature_label("recency_days") == "days since last order"
    assert feature_label("avg_order_value") == "average order value (net)"
    assert feature_label("some_new_feature") == "some new feature"


@pytest.mark.parametrize(
    ("kind", "means", "expected"),
    [
        # "Long inactive and low spend" is not said of members whose orders are larger than most.
        ("lapsed", {"monetary": 90.0, "avg_order_value": 60.0}, "lapsed_high_value"),
        ("lapsed", {"monetary": 120.0, "avg_order_value": 30.0}, "lapsed_high_value"),
        ("lapsed", {"monetary": 40.0, "avg_order_value": 30.0}, "lapsed"),
        ("lapsed_high_value", {"monetary": 40.0, "avg_order_value": 30.0}, "lapsed"),
        ("lapsed", {}, "lapsed"),  # nothing to compare: the name stands
        ("champions", {"monetary": 1.0}, "champions"),
    ],
)
def test_a_lapsed_segment_action_follows_its_spend_against_the_base(
    kind: str, means: dict[str, float], expected: str
) -> None:
    from segmint.report.actions import spend_variant

    base = {"monetary": 100.0, "avg_order_value": 50.0}
    assert spend_variant(kind, means, base) == expected
    if expected == "lapsed":
        assert "low spend" in default_action(expected).why
    else:
        assert "low spend" not in default_action(spend_variant(kind, means, base)).why


def test_a_campaign_for_customers_drifting_away_is_recognised_by_its_targeting() -> None:
    from segmint.report.actions import targets_lapsing

    assert targets_lapsing("rfm_segments: At Risk, Cannot Lose Them")
    assert targets_lapsing("rule: churn_score >= 0.6 and clv_12m >= 50")
    assert not targets_lapsing("segments: High-value regulars")
    assert not targets_lapsing(None)
