"""Default actions per segment type, used until a campaign playbook covers a segment.

A segment's name is chosen by rules whose claims were checked against its members (segment.profile),
so the type, and with it the action, follows the name; a name no rule gives (an older run's) falls back to
the segment's profile against the whole base. Browse-based actions only go to shops with a clickstream.
"""

from __future__ import annotations

from collections.abc import Mapping

from segmint import contract
from segmint.report.model import Action

FEATURE_LABELS: dict[str, str] = {f.name: f.label for f in contract.FEATURES}

# How a feature's values read (see contract.Feature.unit); amounts outside the contract's features too.
MONEY_FEATURES = frozenset(
    {f.name for f in contract.FEATURES if f.unit == "money"}
    | {"gross_revenue", "returned_value", "monetary_90d"}
)


def feature_unit(feature: str) -> str:
    """money, ratio, days or number: how a feature's values are shown."""
    if feature in contract.BY_NAME:
        return contract.BY_NAME[feature].unit
    if feature in MONEY_FEATURES:
        return "money"
    return "days" if feature.endswith("_days") or feature.startswith("days_") else "number"


def feature_label(feature: str) -> str:
    """A feature's name in plain words."""
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


_ACTIONS: dict[str, Action] = {
    "champions": Action(
        "champions",
        "Reward and retain",
        "email",
        "Early access to new products or a thank-you gift; no discount needed.",
        "They order again and again and spend far more than most: keep them close without training them to wait for discounts.",
    ),
    "loyal": Action(
        "loyal",
        "Cross-sell",
        "email",
        "Recommend products that go with what they already buy; a bundle offer.",
        "Regular buyers respond to relevant recommendations; a larger basket is the cheapest growth.",
    ),
    "new": Action(
        "new",
        "Onboard towards a second order",
        "email",
        "A welcome series with a time-limited second-order incentive (e.g. free shipping within 30 days).",
        "The second order is the step that turns a first-time buyer into a customer.",
    ),
    "one_time": Action(
        "one_time",
        "Win a second purchase",
        "email",
        "Products related to their first purchase with a modest discount (about 10%).",
        "One order and no follow-up yet: a relevant nudge now costs less than reacquiring them later.",
    ),
    "lapsed_high_value": Action(
        "lapsed_high_value",
        "Win back personally",
        "email (personal)",
        "A personal note from the owner with a strong offer on their favourite category (about 20%).",
        "They used to spend a lot and have gone quiet: each one won back is worth a generous offer.",
    ),
    "lapsed": Action(
        "lapsed",
        "Low-cost reactivation",
        "email",
        "One 'we miss you' email with a discount; stop mailing those who do not react.",
        "Long inactive and low spend: try once cheaply, then protect your sender reputation.",
    ),
    "browsers": Action(
        "browsers",
        "Convert to a first order",
        "email / retargeting",
        "A first-order offer (free shipping) and a reminder of the products they viewed or left in the cart.",
        "They visit and look but have not bought: remove the last hurdle to a first order.",
    ),
    "sign_ups": Action(
        "sign_ups",
        "Welcome towards a first order",
        "email",
        "A welcome email with the best sellers and a first-order offer (free shipping).",
        "They signed up but have no order yet: a reason to place the first one is the whole job.",
    ),
    "cancelled": Action(
        "cancelled",
        "Ask what went wrong",
        "email (personal)",
        "To the members who cancelled: a short personal note asking why the order was cancelled (stock, delivery, price), with help to order again; no discount blast.",
        "Their orders were cancelled and nothing was kept: learn the reason and fix it before offering anything.",
    ),
    "high_value": Action(
        "high_value",
        "Thank and look after",
        "email",
        "A personal thank-you and first access to new or premium products; no discount needed.",
        "Their orders bring far more revenue than their head count: their next order matters most.",
    ),
    "bargain": Action(
        "bargain",
        "Sale alerts and bundles",
        "email",
        "Tell them first about sales and offer multi-buy bundles instead of blanket discounts.",
        "They buy on price: reach them when offers run, and protect the margin with bundles.",
    ),
    "unhappy": Action(
        "unhappy",
        "Customised service",
        "email (personal) / phone",
        "A personal follow-up from customer service on what went wrong (delivery, a broken item, an unanswered message), with a fix: a replacement, a refund or a call; no marketing until it is solved.",
        "Most of those who rated the shop rated it poorly: a discount does not mend that, a person solving their problem does.",
    ),
    "regular": Action(
        "regular",
        "Keep warm",
        "newsletter",
        "The regular newsletter with new arrivals and best sellers.",
        "No strong signal either way this week: stay present and watch next week's movement.",
    ),
}


def segment_type(
    means: Mapping[str, float | None], z: Mapping[str, float | None], has_events: bool = True
) -> str:
    """Classify a segment from its feature means and their z-scores against the whole base."""

    def zs(feature: str) -> float:
        return z.get(feature) or 0.0

    frequency = means.get("frequency")
    if frequency is not None and frequency < 0.5:
        # most of the segment has never ordered: browsers only if the shop sees them browse
        visits = (means.get("sessions_90d") or 0.0) > 0 or zs("sessions_90d") > 0
        return "browsers" if has_events and visits else "sign_ups"
    recency, monetary = zs("recency_days"), zs("monetary")
    if recency > 0.5:
        return "lapsed_high_value" if monetary > 0.3 else "lapsed"
    if monetary > 0.8 and recency < 0:
        return "champions"
    if zs("frequency") > 0.5 and recency <= 0:
        return "loyal"
    if zs("tenure_days") < -0.5 and recency < 0:
        return "new"
    if frequency is not None and frequency < 1.5:
        return "one_time"
    if zs("avg_order_value") < -0.5:
        return "bargain"
    return "regular"


def type_for(
    name: str, means: Mapping[str, float | None], z: Mapping[str, float | None], has_events: bool = True
) -> str:
    """The type of a segment: the one its rule-checked name stands for, else read from its profile."""
    from segmint.segment.profile import name_type

    kind = name_type(name)
    if kind == "browsers" and not has_events:
        kind = "sign_ups"  # no clickstream, no browse-based action (a name from before the events went)
    return kind or segment_type(means, z, has_events)


# A segment whose members with feedback are mostly detractors, and enough of them rated at all, is
# "unhappy" whatever its buying says: service first (DETRACTOR_SHARE of raters, RATED_SHARE of members).
DETRACTOR_SHARE = 0.5
RATED_SHARE = 0.2


def unhappy(detractor_share: float | None, feedback_share: float | None) -> bool:
    """Whether a segment's feedback calls for customised service before any campaign."""
    return (
        detractor_share is not None
        and feedback_share is not None
        and detractor_share >= DETRACTOR_SHARE
        and feedback_share >= RATED_SHARE
    )


def spend_variant(kind: str, means: Mapping[str, float | None], base: Mapping[str, float | None]) -> str:
    """A lapsed segment's type by its spend against the whole base: members who spend (or order) at least
    as much as most get the personal win-back, the others the low-cost reactivation; other types stay."""
    if kind not in ("lapsed", "lapsed_high_value"):
        return kind
    spends = [
        (means.get(f), base.get(f)) for f in ("monetary", "avg_order_value") if means.get(f) is not None
    ]
    known = [(m, b) for m, b in spends if b is not None]
    if not known:
        return kind  # nothing to compare: the name's own claim stands
    return "lapsed_high_value" if any(m >= b for m, b in known if m is not None) else "lapsed"


# RFM cells and rule names of customers drifting away: a campaign aimed at them ("It's been a while") only
# stands for a segment whose last orders are long ago for this shop.
LAPSING_TARGETS = ("At Risk", "Cannot Lose Them", "About to Sleep", "Hibernating", "Lost", "churn_score")


def targets_lapsing(targeting: str | None) -> bool:
    """Whether a campaign's targeting (as the ledger stores it) picks customers who are drifting away."""
    return bool(targeting) and any(t.lower() in str(targeting).lower() for t in LAPSING_TARGETS)


def default_action(kind: str) -> Action:
    """The built-in action for a segment type."""
    return _ACTIONS.get(kind, _ACTIONS["regular"])


SEGMENT_TYPES: tuple[str, ...] = tuple(_ACTIONS)
