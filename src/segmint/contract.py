"""The feature contract: every customer feature once, with how people read it and how it is treated.

Adding a feature is one entry here plus its SQL (sql/marts/customer_features.sql). The feature lists
(segmint.features), the report's labels and units (report.actions), the segment descriptions' words
(segment.profile), the default log transform (segment.scaling) and the tests of the validation suite
(tests/test_contract.py) are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["money", "ratio", "days", "number"]
Source = Literal["orders", "clickstream", "feedback"]


@dataclass(frozen=True)
class Feature:
    """One customer feature (a customer_features column) in the contract."""

    name: str
    label: str  # how the report names it: a table's column, a defining feature
    phrase: str  # the same inside a sentence, after "more", "longer", "higher" (segment descriptions)
    unit: Unit  # how its values are shown: amounts in the shop's currency, rates as percentages
    source: Source  # what it is computed from: without that source it is null or 0 for everyone
    # Log-transformed before clustering: skewed counts and money are, rates and day counts are not.
    logged: bool = True
    # Expectation keys of the customer_features suite (expectations/customer_features.json) on its values.
    checked_by: tuple[str, ...] = ()


def _rate(name: str, label: str, source: Source, *checks: str, logged: bool = False) -> Feature:
    return Feature(name, label, label, "ratio", source, logged=logged, checked_by=checks)


FEATURES: tuple[Feature, ...] = (
    Feature(
        "recency_days",
        "days since last order",
        "days since the last order",
        "days",
        "orders",
        logged=False,
        checked_by=("recency_not_negative", "tenure_covers_recency"),
    ),
    Feature("frequency", "orders", "orders", "number", "orders", checked_by=("frequency_not_negative",)),
    Feature(
        "monetary", "revenue to date", "net revenue", "money", "orders", checked_by=("monetary_plausible",)
    ),
    Feature("avg_order_value", "average order value (net)", "net order value", "money", "orders"),
    Feature(
        "tenure_days",
        "days since first order",
        "days since the first order",
        "days",
        "orders",
        logged=False,
        checked_by=("tenure_covers_recency",),
    ),
    _rate("return_rate", "return rate", "orders", "return_rate_share"),
    Feature("distinct_products", "distinct products bought", "distinct products", "number", "orders"),
    Feature("distinct_categories", "distinct categories bought", "distinct categories", "number", "orders"),
    Feature(
        "mean_days_between_orders",
        "days between orders",
        "days between orders",
        "days",
        "orders",
        logged=False,
    ),
    Feature(
        "sessions_30d",
        "visits (30 days)",
        "visits in 30 days",
        "number",
        "clickstream",
        checked_by=("sessions_not_negative", "sessions_windows_nested"),
    ),
    Feature(
        "product_views_30d", "product views (30 days)", "product views in 30 days", "number", "clickstream"
    ),
    Feature("add_to_carts_30d", "add-to-carts (30 days)", "add-to-carts in 30 days", "number", "clickstream"),
    _rate(
        "cart_abandonment_rate_30d",
        "cart abandonment (30 days)",
        "clickstream",
        "cart_abandonment_rate_30d_share",
    ),
    _rate(
        "view_to_purchase_rate_30d",
        "view-to-purchase rate (30 days)",
        "clickstream",
        "view_to_purchase_rate_30d_share",
    ),
    Feature(
        "sessions_90d",
        "visits (90 days)",
        "visits in 90 days",
        "number",
        "clickstream",
        checked_by=("sessions_windows_nested",),
    ),
    Feature(
        "product_views_90d", "product views (90 days)", "product views in 90 days", "number", "clickstream"
    ),
    Feature("add_to_carts_90d", "add-to-carts (90 days)", "add-to-carts in 90 days", "number", "clickstream"),
    _rate(
        "cart_abandonment_rate_90d",
        "cart abandonment (90 days)",
        "clickstream",
        "cart_abandonment_rate_90d_share",
    ),
    _rate(
        "view_to_purchase_rate_90d",
        "view-to-purchase rate (90 days)",
        "clickstream",
        "view_to_purchase_rate_90d_share",
    ),
    Feature(
        "days_since_last_visit",
        "days since last visit",
        "days since the last visit",
        "days",
        "clickstream",
        logged=False,
        checked_by=("last_visit_not_future",),
    ),
    Feature(
        "feedback_count", "reviews and survey answers", "reviews and survey answers", "number", "feedback"
    ),
    Feature(
        "rating_mean",
        "mean rating",
        "mean rating",
        "number",
        "feedback",
        checked_by=("rating_mean_on_a_scale",),
    ),
    Feature("rating_last", "latest rating", "latest rating", "number", "feedback"),
    # Shares of 0/1 flags; logged like every feature whose name does not say "rate" always was.
    _rate("is_detractor", "detractors", "feedback", logged=True),
    _rate("is_promoter", "promoters", "feedback", logged=True),
    Feature(
        "days_since_feedback",
        "days since last feedback",
        "days since the last feedback",
        "days",
        "feedback",
        checked_by=("last_feedback_not_future",),
    ),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def names(*sources: Source) -> tuple[str, ...]:
    """The features computed from `sources`, in contract order."""
    return tuple(f.name for f in FEATURES if f.source in sources)
