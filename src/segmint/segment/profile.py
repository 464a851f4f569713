"""Profiles of segments: sizes, revenue, feature means, z-scores against the base, names, descriptions."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from segmint import contract
from segmint.features import BEHAVIOUR_FEATURES, DEMOGRAPHIC_FEATURES, FEEDBACK_FEATURES
from segmint.segment.scaling import Matrix, default_log

# The feature means every profile carries (segment_profiles.mean_<feature>), whatever was clustered.
# Feedback means are over the members with feedback (null without any): satisfaction per segment.
MEAN_COLUMNS: tuple[str, ...] = (*BEHAVIOUR_FEATURES, *FEEDBACK_FEATURES)
# Names are read off these, whatever was clustered, so the same behaviour gets the same name.
NAMING_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "sessions_90d",
)
BUYER_FEATURES = frozenset({"recency_days", "frequency", "monetary", "avg_order_value"})
LABELS: Mapping[str, str] = {f.name: f.phrase for f in contract.FEATURES}


def zscores(transformed: Matrix, labels: Sequence[int] | np.ndarray, segment_ids: Sequence[int]) -> Matrix:
    """Per segment (rows, in segment_ids order) and column: (segment mean - base mean) / base std."""
    labels = np.asarray(labels)
    base_mean = transformed.mean(axis=0)
    base_std = transformed.std(axis=0)
    base_std = np.where(base_std > 1e-12, base_std, 1.0)
    rows = [(transformed[labels == s].mean(axis=0) - base_mean) / base_std for s in segment_ids]
    return np.vstack(rows) if rows else np.zeros((0, transformed.shape[1]))


def naming_zscores(frame: pl.DataFrame, labels: np.ndarray, segment_ids: Sequence[int]) -> Matrix:
    """z-scores of the naming features per segment; order features compare buyers with buyers.

    Prospects have no recency or order value; letting their fill values into the baseline would
    make every buyer look recent, so recency, frequency, spend and order value use buyers only.
    """
    logged = []
    for name in NAMING_FEATURES:
        expr = pl.col(name).cast(pl.Float64).fill_null(0.0)
        if default_log(name):
            expr = expr.sign() * expr.abs().log1p()
        logged.append(expr.alias(name))
    x = frame.select(logged).to_numpy().astype(np.float64)
    buyer = ~frame["is_prospect"].to_numpy().astype(bool)
    out = np.zeros((len(segment_ids), len(NAMING_FEATURES)))
    for j, name in enumerate(NAMING_FEATURES):
        rows = buyer if name in BUYER_FEATURES else np.ones(len(x), dtype=bool)
        if not rows.any():
            continue
        column = x[rows, j]
        std = column.std() if column.std() > 1e-12 else 1.0
        for i, seg in enumerate(segment_ids):
            members = rows & (labels == seg)
            if members.any():
                out[i, j] = (x[members, j].mean() - column.mean()) / std
    return out


@dataclass(frozen=True)
class NamingStats:
    """The prospect share and z-scores of the naming features (kept for callers; names use MemberFacts)."""

    prospect_share: float
    mean_frequency: float
    z: Mapping[str, float]
    # mean recency / mean days between orders: how many usual intervals the last order is overdue
    overdue: float | None = None


@dataclass(frozen=True)
class BaseFacts:
    """The whole night's yardsticks a name's claim is measured against (order facts: buyers only)."""

    median_recency: float | None
    recency_p33: float | None
    recency_p75: float | None
    median_frequency: float | None
    median_monetary: float | None
    median_aov: float | None
    browsing_share: float
    # whether the shop has a clickstream at all: without one, nobody is named or treated as a browser
    has_events: bool = True
    # the shop's purchase cycle: the median of repeat buyers' usual days between orders
    purchase_cycle: float | None = None


@dataclass(frozen=True)
class MemberFacts:
    """What a segment's members actually are: shares and medians a name must be true of."""

    size: int
    share: float
    prospect_share: float
    revenue_share: float | None
    top_revenue: bool  # no other segment holds a larger share of revenue
    one_time_share: float  # of the members who ordered, the share with exactly one order
    median_recency: float | None  # order medians over the members who ordered
    median_frequency: float | None
    median_monetary: float | None
    median_aov: float | None
    median_overdue: float | None  # recency / usual days between orders, over repeat buyers
    browsing_share: float  # members with a visit in the last 90 days
    base: BaseFacts
    # prospect_share splits into members with no order at all and members who cancelled every order
    # (None: not known apart, all counted as without an order)
    no_order_share: float | None = None
    cancelled_only_share: float = 0.0  # ordered, and cancelled all of it (kept order or not)

    @property
    def without_order(self) -> float:
        """The share of members who never placed any order (not even a cancelled one)."""
        return self.prospect_share if self.no_order_share is None else self.no_order_share


# The thresholds of the naming rules (README "Segment names"): a name is given only when its claim holds.
NEARLY_ALL = 0.9  # "never bought": at least 90% of members have no order
ONE_TIME_SHARE = 0.8  # "one-time buyers": at least 80% of the members who ordered did so once
LAPSED_MIN_DAYS = 60  # nobody is lapsed after a few weeks, whatever the base
HIGH_VALUE_RATIO = 2.0  # median spend at least twice the base's, and revenue share 1.5x head share
BIG_TICKET_RATIO = 1.5
BARGAIN_RATIO = 0.67
OVERDUE_INTERVALS = 3.0
LAPSED_CYCLES = 2.0  # lapsed: the last order at least two of the shop's purchase cycles ago


def _ge(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value >= limit


def _le(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value <= limit


def never_bought(f: MemberFacts) -> bool:
    """(Nearly) all members have no order at all (a cancelled order is an order)."""
    return f.without_order >= NEARLY_ALL


def mostly_never_bought(f: MemberFacts) -> bool:
    """Most members have no order at all."""
    return f.without_order >= 0.5


def cancelled_all(f: MemberFacts) -> bool:
    """(Nearly) all members ordered and then cancelled every order."""
    return f.cancelled_only_share >= NEARLY_ALL


def mostly_cancelled_all(f: MemberFacts) -> bool:
    """Most members ordered and then cancelled every order."""
    return f.cancelled_only_share >= 0.5


def mostly_no_kept_order(f: MemberFacts) -> bool:
    """Most members have no order they kept: a mix of never ordered and cancelled everything."""
    return max(f.prospect_share, f.without_order + f.cancelled_only_share) >= 0.5


def browses(f: MemberFacts) -> bool:
    """The shop has a clickstream and most members visited in the last 90 days, more than in the base."""
    return f.base.has_events and f.browsing_share >= 0.5 and f.browsing_share > f.base.browsing_share


def one_time(f: MemberFacts) -> bool:
    """Most members ordered, and nearly all of those exactly once."""
    return f.prospect_share < 0.5 and f.one_time_share >= ONE_TIME_SHARE


def lapsed(f: MemberFacts) -> bool:
    """The members' last orders are long ago: against the base, or against their own usual rhythm."""
    b = f.base
    if not _ge(f.median_recency, LAPSED_MIN_DAYS) or b.median_recency is None:
        return False
    # Nobody is lapsed before the shop's customers usually come back (its purchase cycle, twice over).
    if b.purchase_cycle is not None and not _ge(f.median_recency, LAPSED_CYCLES * b.purchase_cycle):
        return False
    # Against the base: half again the base's median, or its last quarter where the base is old itself.
    far = min(1.5 * b.median_recency, b.recency_p75 if b.recency_p75 is not None else np.inf)
    overdue = _ge(f.median_overdue, OVERDUE_INTERVALS) and _ge(f.median_recency, b.median_recency)
    return _ge(f.median_recency, max(far, b.median_recency + 1e-9)) or overdue


def recent(f: MemberFacts) -> bool:
    """The members' last orders are among the base's most recent third, and more recent than its median."""
    b = f.base
    return (
        f.median_recency is not None
        and b.median_recency is not None
        and f.median_recency < b.median_recency
        and _le(f.median_recency, b.recency_p33)
    )


def high_value(f: MemberFacts) -> bool:
    """Members spend far more than the base, and the segment brings more revenue than its head count."""
    b = f.base
    return (
        b.median_monetary is not None
        and b.median_monetary > 0
        and _ge(f.median_monetary, HIGH_VALUE_RATIO * b.median_monetary)
        and f.revenue_share is not None
        and f.revenue_share >= 1.5 * f.share
    )


def big_ticket(f: MemberFacts) -> bool:
    """The members' orders are much larger than the base's."""
    b = f.base
    return (
        b.median_aov is not None and b.median_aov > 0 and _ge(f.median_aov, BIG_TICKET_RATIO * b.median_aov)
    )


def repeat(f: MemberFacts) -> bool:
    """Members order again and again: a median of two orders or more, above the base's."""
    b = f.base
    return (
        f.prospect_share < 0.5
        and f.one_time_share < 0.5
        and _ge(f.median_frequency, 2.0)
        and f.median_frequency is not None
        and b.median_frequency is not None
        and f.median_frequency > b.median_frequency
    )


def bargain(f: MemberFacts) -> bool:
    """Repeat buyers whose orders are much smaller than the base's."""
    b = f.base
    return (
        repeat(f)
        and b.median_aov is not None
        and b.median_aov > 0
        and _le(f.median_aov, BARGAIN_RATIO * b.median_aov)
    )


def occasional(f: MemberFacts) -> bool:
    """Buyers who order no more often than the base and bring no more than their share of revenue."""
    b = f.base
    return (
        f.prospect_share < 0.5
        and not f.top_revenue
        and (f.revenue_share is None or f.revenue_share <= f.share)
        and f.median_frequency is not None
        and b.median_frequency is not None
        and f.median_frequency <= b.median_frequency
    )


def _all(*checks: Callable[[MemberFacts], bool]) -> Callable[[MemberFacts], bool]:
    return lambda f: all(check(f) for check in checks)


# First rule whose claims all hold names the segment; each claim is a check on the members' profile.
FALLBACK_NAME = "Other customers"
NAME_RULES: tuple[tuple[str, Callable[[MemberFacts], bool]], ...] = (
    ("Window shoppers", _all(never_bought, browses)),
    ("Sign-ups who never bought", never_bought),
    ("Customers who cancelled every order", cancelled_all),
    ("Mostly sign-ups without an order", mostly_never_bought),
    ("Mostly customers who cancelled every order", mostly_cancelled_all),
    ("Mostly customers without a kept order", mostly_no_kept_order),
    ("One-time buyers who still browse", _all(one_time, browses)),
    ("Lapsed one-time buyers", _all(one_time, lapsed)),
    ("New customers", _all(one_time, recent)),
    ("One-time buyers", one_time),
    ("Lapsed big spenders", _all(lapsed, high_value)),
    ("Lapsed regulars", _all(lapsed, repeat)),
    ("Lapsed customers", _all(lapsed, lambda f: f.prospect_share < 0.5)),
    ("High-value regulars", _all(high_value, repeat)),
    ("Big-ticket buyers", _all(high_value, big_ticket)),
    ("High-value customers", high_value),
    ("Bargain hunters", bargain),
    ("Regulars", repeat),
    ("Occasional buyers", occasional),
    (FALLBACK_NAME, lambda f: True),
)


# What each name says the members are, as the type of action they get (report.actions' default actions).
NAME_TYPES: Mapping[str, str] = {
    "Window shoppers": "browsers",
    "Sign-ups who never bought": "sign_ups",
    "Customers who cancelled every order": "cancelled",
    "Mostly sign-ups without an order": "sign_ups",
    "Mostly customers who cancelled every order": "cancelled",
    "Mostly customers without a kept order": "sign_ups",
    "One-time buyers who still browse": "one_time",
    "Lapsed one-time buyers": "lapsed",
    "New customers": "new",
    "One-time buyers": "one_time",
    "Lapsed big spenders": "lapsed_high_value",
    "Lapsed regulars": "lapsed",
    "Lapsed customers": "lapsed",
    "High-value regulars": "champions",
    "Big-ticket buyers": "high_value",
    "High-value customers": "high_value",
    "Bargain hunters": "bargain",
    "Regulars": "loyal",
    "Occasional buyers": "regular",
    FALLBACK_NAME: "regular",
}


def name_type(name: str) -> str | None:
    """The segment type a (possibly qualified) rule name stands for; None for a name no rule gives."""
    return NAME_TYPES.get(base_name(name))


def segment_name(facts: MemberFacts) -> str:
    """A short plain-language name whose claims hold for the segment's members (rules first match, README)."""
    return next(name for name, holds in NAME_RULES if holds(facts))


def base_name(name: str) -> str:
    """A name without the qualifier unique_name may have added ('Regulars, more orders' -> 'Regulars')."""
    head = name.split(", ")[0]
    parts = head.rsplit(" ", 1)
    return parts[0] if len(parts) == 2 and parts[1].isdigit() else head


def name_holds(name: str, facts: MemberFacts) -> bool:
    """Whether the claims of a (possibly qualified) rule name hold for these members; unknown names do not."""
    rules = dict(NAME_RULES)
    rule = rules.get(base_name(name))
    return rule is not None and rule(facts)


def _median(values: pl.Series) -> float | None:
    clean = values.cast(pl.Float64).drop_nulls().drop_nans()
    return float(clean.median()) if clean.len() else None  # type: ignore[arg-type]


def _quantile(values: pl.Series, q: float) -> float | None:
    clean = values.cast(pl.Float64).drop_nulls().drop_nans()
    return float(clean.quantile(q, "linear")) if clean.len() else None  # type: ignore[arg-type]


def _share(flags: pl.Series) -> float:
    value = flags.cast(pl.Float64).mean()
    return float(value) if isinstance(value, int | float) else 0.0


def _base_facts(frame: pl.DataFrame, visited: pl.Series, has_events: bool) -> BaseFacts:
    """The night's yardsticks: order facts over the buyers, the browsing share over everyone."""
    buyers = frame.filter(~pl.col("is_prospect"))
    cycle = (
        _median(buyers.filter(pl.col("frequency") >= 2)["mean_days_between_orders"])
        if "mean_days_between_orders" in buyers.columns
        else None
    )
    return BaseFacts(
        _median(buyers["recency_days"]),
        _quantile(buyers["recency_days"], 1 / 3),
        _quantile(buyers["recency_days"], 0.75),
        _median(buyers["frequency"]),
        _median(buyers["monetary"]),
        _median(buyers["avg_order_value"]),
        _share(visited),
        has_events=has_events,
        purchase_cycle=cycle if cycle is not None and cycle > 0 else None,
    )


def _cancelled_only(members: pl.DataFrame) -> tuple[pl.Series | None, pl.Series | None]:
    """Which members placed an order, and which cancelled everything (None: the counts are not known).

    Who cancelled everything: orders placed but none kept, or every kept order's value taken back by a
    cancellation (Online Retail's "C" invoices: the order stays, a cancelling order nets it to 0).
    """
    if "orders_total" not in members.columns:
        return None, None
    placed = members["orders_total"].fill_null(0) > 0
    # Cancelled-only means at least one cancellation and no kept positive revenue: a member whose only
    # order was worth 0 (a free sample, a voucher) cancelled nothing and is not told otherwise.
    cancelled = placed & members["is_prospect"]
    if "cancelled_orders" in members.columns:
        cancelled = (members["cancelled_orders"].fill_null(0) > 0) & (
            members["is_prospect"] | (members["monetary"].cast(pl.Float64).fill_null(0) <= 0)
        )
    return placed, cancelled


def _overdue(bought: pl.DataFrame) -> pl.Series:
    """Repeat buyers' recency over their usual days between orders (finite values only)."""
    repeaters = bought.filter(pl.col("frequency") >= 2)
    overdue = (
        repeaters["recency_days"].cast(pl.Float64) / repeaters["mean_days_between_orders"].cast(pl.Float64)
        if repeaters.height and "mean_days_between_orders" in repeaters.columns
        else pl.Series([], dtype=pl.Float64)
    )
    return overdue.filter(overdue.is_finite())


def _sessions(frame: pl.DataFrame) -> pl.Series:
    """Visits in the last 90 days, 0 where unknown (or without the column)."""
    if "sessions_90d" not in frame.columns:
        return pl.Series([0.0] * frame.height)
    return frame["sessions_90d"].cast(pl.Float64).fill_null(0)


def member_facts(frame: pl.DataFrame, has_events: bool | None = None) -> dict[int, MemberFacts]:
    """The facts of each segment_id of `frame` (customer features with a segment_id column).

    `has_events`: whether the shop has a clickstream (None: whether anyone in `frame` visited).
    """
    visited = _sessions(frame) > 0
    base = _base_facts(frame, visited, bool(visited.any()) if has_events is None else has_events)
    revenue = frame["monetary"].cast(pl.Float64).fill_null(0).clip(lower_bound=0)
    total = float(revenue.sum())
    by_segment = {
        int(s): float(revenue.filter(frame["segment_id"] == s).sum()) for s in frame["segment_id"].unique()
    }
    top = max(by_segment.values()) if by_segment else 0.0
    facts: dict[int, MemberFacts] = {}
    for seg, seg_revenue in by_segment.items():
        members = frame.filter(pl.col("segment_id") == seg)
        bought = members.filter(~pl.col("is_prospect"))
        placed, cancelled = _cancelled_only(members)
        overdue = _overdue(bought)
        facts[seg] = MemberFacts(
            size=members.height,
            share=members.height / frame.height,
            prospect_share=_share(members["is_prospect"]),
            revenue_share=seg_revenue / total if total > 0 else None,
            top_revenue=total > 0 and seg_revenue >= top,
            one_time_share=_share(bought["frequency"] == 1) if bought.height else 0.0,
            median_recency=_median(bought["recency_days"]),
            median_frequency=_median(bought["frequency"]),
            median_monetary=_median(bought["monetary"]),
            median_aov=_median(bought["avg_order_value"]),
            median_overdue=_median(overdue) if overdue.len() else None,
            browsing_share=_share(_sessions(members) > 0),
            base=base,
            no_order_share=None if placed is None else _share(members["is_prospect"] & ~placed),
            cancelled_only_share=0.0 if cancelled is None else _share(cancelled),
        )
    return facts


QUALIFIERS: Mapping[str, tuple[str, str]] = {
    "recency_days": ("bought longer ago", "bought more recently"),
    "frequency": ("more orders", "fewer orders"),
    "monetary": ("higher spend", "lower spend"),
    "avg_order_value": ("higher order value", "lower order value"),
    "sessions_90d": ("browsing more", "browsing less"),
}


def unique_name(name: str, taken: Mapping[str, Sequence[float]], z: Sequence[float]) -> str:
    """`name`, or, if a segment already carries it, `name, <where this one differs most>` (then numbers)."""
    if name not in taken:
        return name
    diff = np.asarray(z) - np.asarray(taken[name])
    j = int(np.argmax(np.abs(diff)))
    more, less = QUALIFIERS[NAMING_FEATURES[j]]
    candidate = f"{name}, {more if diff[j] > 0 else less}"
    n = 2
    while candidate in taken:
        candidate = f"{name} {n}"
        n += 1
    return candidate


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _phrase(feature: str, z: float) -> str:
    label = LABELS.get(feature, feature)
    if feature in {"recency_days", "days_since_last_visit", "tenure_days", "mean_days_between_orders"}:
        return f"{'longer' if z > 0 else 'shorter'} {label}"
    if "rate" in feature or feature == "avg_order_value":
        return f"{'higher' if z > 0 else 'lower'} {label}"
    if feature in {"monetary", "return_rate"}:
        return f"{'more' if z > 0 else 'less'} {label}"
    return f"{'more' if z > 0 else 'fewer'} {label}"


def describe(
    profile: Mapping[str, object], defining: Sequence[Mapping[str, object]], facts: MemberFacts | None = None
) -> str:
    """One line a shop owner can read: who is in the segment, in numbers and the words of its profile.

    With the members' `facts`, members who cancelled every order are told apart from those who never
    ordered, and a shop without a clickstream gets no words about visits.
    """

    def num(key: str) -> float | None:
        value = profile.get(key)
        return float(value) if isinstance(value, int | float) else None

    share = num("share") or 0.0
    revenue = num("revenue_share")
    parts = [f"{int(num('size') or 0):,} customers ({share:.0%} of the base"]
    net = num("mean_monetary")
    if net is not None and net < 0 and facts is not None and facts.cancelled_only_share > 0:
        # A share of positive revenue would read 0%: say that cancellations took back more than was kept.
        parts[0] += ", no revenue kept: cancellations exceed their orders)"
    else:
        parts[0] += f", {revenue:.0%} of revenue)" if revenue is not None else ")"
    prospects = num("prospect_share") or 0.0
    cancelled = facts.cancelled_only_share if facts is not None else 0.0
    if cancelled > 0 and facts is not None and facts.without_order + cancelled >= 0.5:
        words = [f"{facts.without_order:.0%} have never ordered"] if facts.without_order > 0 else []
        words.append(f"{cancelled:.0%} ordered and then cancelled every order")
        parts.append(", ".join(words))
    elif prospects >= 0.5:
        parts.append(f"{prospects:.0%} have never ordered")
    else:
        # Net revenue over kept orders: the report's and the features' one definition of order value.
        frequency, monetary = num("mean_frequency"), num("mean_monetary")
        aov = monetary / frequency if frequency and monetary is not None else None
        parts.append(
            f"{_fmt(frequency, 1)} orders of {_fmt(aov)} on average (net), "
            f"the last {_fmt(num('mean_recency_days'))} days ago"
        )
    if facts is None or facts.base.has_events:
        parts.append(
            f"{_fmt(num('mean_sessions_90d'), 1)} visits in the last 90 days, "
            f"last visit {_fmt(num('mean_days_since_last_visit'))} days ago"
        )
    line = "; ".join(parts)
    if defining:
        words = [_phrase(str(d["feature"]), float(str(d["z"]))) for d in defining[:3]]
        line += "; stands out by " + ", ".join(words) + " than the base"
    return line + "."


def defining_features(z_row: Matrix, features: Sequence[str], top: int = 4) -> list[dict[str, object]]:
    """The features whose z-score is largest in magnitude, strongest first (|z| >= 0.25 only)."""
    order = np.argsort(-np.abs(z_row), kind="stable")
    return [
        {"feature": features[i], "z": round(float(z_row[i]), 3)}
        for i in order[:top]
        if abs(float(z_row[i])) >= 0.25
    ]


def finite(value: object) -> float | None:
    """A mean as a float; None when it is missing or not finite (no member has a value)."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def base_means(frame: pl.DataFrame) -> dict[str, float | None]:
    """The whole base's mean of each profile feature (MEAN_COLUMNS), in its own units, nulls left out."""
    present = [c for c in MEAN_COLUMNS if c in frame.columns]
    if not present:
        return {}
    row = frame.select(pl.col(c).cast(pl.Float64).mean() for c in present).row(0, named=True)
    return {c: finite(v) for c, v in row.items()}


def profile_table(frame: pl.DataFrame) -> pl.DataFrame:
    """Size, share, revenue share, prospect share and mean_<feature> per segment_id of `frame`."""
    total = frame.height
    revenue_total = float(frame.select(pl.col("monetary").cast(pl.Float64).clip(lower_bound=0).sum()).item())
    means = [pl.col(c).cast(pl.Float64).mean().alias(f"mean_{c}") for c in MEAN_COLUMNS if c in frame.columns]
    return (
        frame.group_by("segment_id")
        .agg(
            pl.len().alias("size"),
            pl.col("monetary").cast(pl.Float64).clip(lower_bound=0).sum().alias("_revenue"),
            pl.col("is_prospect").cast(pl.Float64).mean().alias("prospect_share"),
            *means,
            *(
                [pl.col("rating_last").is_not_null().cast(pl.Float64).mean().alias("feedback_share")]
                if "rating_last" in frame.columns
                else []
            ),
        )
        .with_columns(
            (pl.col("size") / total).alias("share"),
            (pl.col("_revenue") / revenue_total if revenue_total > 0 else pl.lit(None, pl.Float64)).alias(
                "revenue_share"
            ),
        )
        .drop("_revenue")
        .sort("segment_id")
        .join(demographic_mix(frame), on="segment_id", how="left")
    )


# The demographic attributes a profile's mix shows, in this order, and how many top values of each.
MIX_ATTRIBUTES: tuple[tuple[str, int], ...] = (
    ("age_band", 2),
    ("gender", 2),
    ("country", 3),
    ("region", 2),
    ("city", 3),
)


def has_demographics(frame: pl.DataFrame) -> bool:
    """Whether any customer of the night carries a demographic attribute (country alone is no demographics)."""
    return any(c in frame.columns and frame[c].null_count() < frame.height for c in DEMOGRAPHIC_FEATURES)


def demographic_mix(frame: pl.DataFrame) -> pl.DataFrame:
    """Per segment_id: median_age and demographics (JSON: per attribute its top values with their share of
    the members who have one, and known_share); both null for a shop whose customers carry none."""
    ids = frame["segment_id"].unique().sort()
    if not has_demographics(frame):
        return pl.DataFrame(
            {"segment_id": ids, "median_age": None, "demographics": None},
            schema={
                "segment_id": frame.schema["segment_id"],
                "median_age": pl.Float64,
                "demographics": pl.String,
            },
        )
    known = pl.any_horizontal(pl.col(c).is_not_null() for c in DEMOGRAPHIC_FEATURES if c in frame.columns)
    rows = []
    for seg in ids.to_list():
        members = frame.filter(pl.col("segment_id") == seg)
        mix: dict[str, object] = {"known_share": round(float(members.select(known.mean()).item()), 4)}
        for attribute, top in MIX_ATTRIBUTES:
            values = members[attribute].drop_nulls() if attribute in members.columns else pl.Series([])
            if values.len() == 0:
                continue
            counts = values.value_counts(sort=True).head(top)
            mix[attribute] = [
                {"value": str(v), "share": round(n / values.len(), 4)}
                for v, n in zip(counts[attribute].to_list(), counts["count"].to_list(), strict=True)
            ]
        ages = members["age"].drop_nulls() if "age" in members.columns else pl.Series([])
        median = ages.median() if ages.len() else None
        rows.append(
            {
                "segment_id": seg,
                "median_age": float(median) if isinstance(median, int | float) else None,
                "demographics": json.dumps(mix),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "segment_id": frame.schema["segment_id"],
            "median_age": pl.Float64,
            "demographics": pl.String,
        },
    )


def demographics_line(median_age: float | None, mix_json: str | None) -> str:
    """A profile's demographic mix in words ("median age 38 · 35-44 40% · female 62% · DE 80%, FR 10%"), or ''."""
    if not mix_json:
        return ""
    mix = json.loads(mix_json)
    parts = [f"median age {median_age:.0f}"] if median_age is not None else []
    for attribute, _ in MIX_ATTRIBUTES:
        values = mix.get(attribute) or []
        if values:
            parts.append(", ".join(f"{v['value']} {float(v['share']):.0%}" for v in values))
    return " · ".join(parts)


def defining_json(items: Sequence[Mapping[str, object]]) -> str:
    """JSON text of a list of small dicts, for the profile table."""
    return json.dumps(list(items))
