"""Profiles of segments: sizes, revenue, feature means, z-scores against the base, names, descriptions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from segmint.features import BEHAVIOUR_FEATURES
from segmint.segment.scaling import Matrix, default_log

# The feature means every profile carries (segment_profiles.mean_<feature>), whatever was clustered.
MEAN_COLUMNS: tuple[str, ...] = BEHAVIOUR_FEATURES
# Names are read off these, whatever was clustered, so the same behaviour gets the same name.
NAMING_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "sessions_90d",
)
BUYER_FEATURES = frozenset({"recency_days", "frequency", "monetary", "avg_order_value"})
LABELS: Mapping[str, str] = {
    "recency_days": "days since the last order",
    "frequency": "orders",
    "monetary": "net revenue",
    "avg_order_value": "order value",
    "tenure_days": "days since the first order",
    "return_rate": "return rate",
    "distinct_products": "distinct products",
    "distinct_categories": "distinct categories",
    "mean_days_between_orders": "days between orders",
    "sessions_30d": "visits in 30 days",
    "product_views_30d": "product views in 30 days",
    "add_to_carts_30d": "add-to-carts in 30 days",
    "cart_abandonment_rate_30d": "cart abandonment (30 days)",
    "view_to_purchase_rate_30d": "view-to-purchase rate (30 days)",
    "sessions_90d": "visits in 90 days",
    "product_views_90d": "product views in 90 days",
    "add_to_carts_90d": "add-to-carts in 90 days",
    "cart_abandonment_rate_90d": "cart abandonment (90 days)",
    "view_to_purchase_rate_90d": "view-to-purchase rate (90 days)",
    "days_since_last_visit": "days since the last visit",
}


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
    """What a name is read from: the prospect share and z-scores of the naming features."""

    prospect_share: float
    mean_frequency: float
    z: Mapping[str, float]
    # mean recency / mean days between orders: how many usual intervals the last order is overdue
    overdue: float | None = None


def segment_name(stats: NamingStats) -> str:
    """A short plain-language name from a segment's profile (rules first match, see README)."""
    zr, zf, zm, za, zs = (stats.z[f] for f in NAMING_FEATURES)
    if stats.prospect_share >= 0.5:
        return "Window shoppers" if zs >= 0.3 else "Sign-ups who never bought"
    if stats.mean_frequency < 1.5:
        if zs >= 0.5:
            return "One-time buyers who still browse"
        if zr >= 0.5:
            return "Lapsed one-time buyers"
        if zr <= -0.5:
            return "New customers"
        return "One-time buyers"
    # Lapsed relative to the base, or relative to the segment's own rhythm: regulars who would
    # normally have ordered three times since their last order.
    if zr >= 0.75 or (stats.overdue is not None and stats.overdue >= 3.0):
        if zm >= 0.5:
            return "Lapsed big spenders"
        return "Lapsed regulars" if zf >= 0 else "Lapsed customers"
    if zm >= 0.75:
        return "High-value regulars" if zf >= 0.3 else "Big-ticket buyers"
    if za <= -0.3 and zf >= 0:
        return "Bargain hunters"
    if zf >= 0.3:
        return "Regulars"
    return "Occasional buyers"


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


def describe(profile: Mapping[str, object], defining: Sequence[Mapping[str, object]]) -> str:
    """One line a shop owner can read: who is in the segment, in numbers and the words of its profile."""

    def num(key: str) -> float | None:
        value = profile.get(key)
        return float(value) if isinstance(value, int | float) else None

    share = num("share") or 0.0
    revenue = num("revenue_share")
    parts = [f"{int(num('size') or 0):,} customers ({share:.0%} of the base"]
    parts[0] += f", {revenue:.0%} of revenue)" if revenue is not None else ")"
    prospects = num("prospect_share") or 0.0
    if prospects >= 0.5:
        parts.append(f"{prospects:.0%} have never ordered")
    else:
        parts.append(
            f"{_fmt(num('mean_frequency'), 1)} orders of {_fmt(num('mean_avg_order_value'))} on average, "
            f"the last {_fmt(num('mean_recency_days'))} days ago"
        )
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
        )
        .with_columns(
            (pl.col("size") / total).alias("share"),
            (pl.col("_revenue") / revenue_total if revenue_total > 0 else pl.lit(None, pl.Float64)).alias(
                "revenue_share"
            ),
        )
        .drop("_revenue")
        .sort("segment_id")
    )


def defining_json(items: Sequence[Mapping[str, object]]) -> str:
    """JSON text of a list of small dicts, for the profile table."""
    return json.dumps(list(items))
