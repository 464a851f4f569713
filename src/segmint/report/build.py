"""Build the report's data model from the warehouse with aggregate queries (no per-customer rows leave DuckDB).

The published segment run of a week is the latest published `segment_runs` row with as_of <= the report
day; "a week earlier" is the latest published run with as_of <= the report day minus 7. The report reads
what the stages stored (profiles, z-scores, the customer map, backtests, holdout checks) and fits nothing.
It always runs on a migrated warehouse (`warehouse.connect` and `warehouse.locked` migrate), so every
table exists; a section whose stage stored no rows yet is an `Unavailable` with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import duckdb

from segmint.config import QualitySettings
from segmint.features import has_clickstream, has_feedback
from segmint.predict.runner import CLV_NOT_RELIABLE, CLV_NOT_RELIABLE_BEFORE, clv_unreliable
from segmint.report import actions
from segmint.report.model import (
    Action,
    AnomalyRow,
    Banner,
    CampaignBuilt,
    CampaignResult,
    Campaigns,
    ChurnCheck,
    ClvCheck,
    DataAge,
    DefiningFeature,
    FailedCheck,
    Kpi,
    LoadRow,
    Migration,
    MigrationCell,
    NextOrderCheck,
    Period,
    Predictions,
    ProductRow,
    Projection,
    Quality,
    RecommendationCheck,
    RecommenderScore,
    ReportData,
    RfmGrid,
    RunRow,
    Satisfaction,
    SatisfactionRow,
    SegmentRow,
    SegmentRunInfo,
    SizeHistory,
    Unavailable,
    VariantRow,
    VariantTest,
    week_ending,
)
from segmint.runs import prediction_run, published_run
from segmint.schema import counted_refund
from segmint.segment.profile import MEAN_COLUMNS, demographics_line
from segmint.words import counted

HISTORY_WEEKS = 12
TOP_PRODUCTS = 5
TOP_PRODUCTS_DAYS = 90
# A segment's defining features as `segmint segments` names them (segment_profiles.defining_features),
# at most this many.
DEFINING_FEATURES = 3
# The report warns past the age the nightly freshness check allows ([quality] max_data_age_days).
MAX_DATA_AGE_DAYS: int = QualitySettings.model_fields["max_data_age_days"].default
# Newest segment run first: by as_of, then creation time, then id.
RUN_ORDER = "as_of desc, created_at desc, run_id desc"
NO_MAP = (
    "No customer map was stored with these segments (they were computed before segmentation stored "
    "its map); the next night's segments bring one."
)

NOT_SEGMENTED = (
    "No published segmentation up to {day} yet; run the nightly refresh (segmint run nightly) "
    "once customers and orders are loaded."
)


@dataclass
class _Ctx:
    con: duckdb.DuckDBPyConnection
    day: date
    period: Period
    previous: Period

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, _used(sql, params)).fetchall()

    def one(self, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        return self.con.execute(sql, _used(sql, params)).fetchone()

    @cached_property
    def prediction_run(self) -> tuple[str, date] | None:
        """The prediction run in force on the report day (read once: segments and predictions share it)."""
        return prediction_run(self.con, self.day)


def _used(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    # DuckDB rejects named parameters a statement does not use; queries share parameter sets.
    return {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", sql)}


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def build_report(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    features: Sequence[str] = (),
    generated_at: datetime | None = None,
    max_data_age_days: int = MAX_DATA_AGE_DAYS,
) -> ReportData:
    """Collect every section of the weekly report for the week ending `as_of`.

    `features` is no longer read: segmentation stores the features that describe each segment.
    """
    ctx = _Ctx(con=con, day=as_of, period=week_ending(as_of), previous=week_ending(as_of - timedelta(days=7)))
    run = _segment_run(ctx, as_of)
    parts = _segment_parts(ctx, run)
    data_age = _data_age(ctx, max_data_age_days)
    return ReportData(
        as_of=as_of,
        period=ctx.period,
        previous=ctx.previous,
        generated_at=generated_at or datetime.now().replace(microsecond=0),
        kpis=_kpis(ctx),
        segment_run=run,
        segments=parts.segments,
        migration=parts.migration,
        history=parts.history,
        rfm=parts.rfm,
        projection=parts.projection,
        quality=_quality(ctx),
        campaigns=_campaigns(ctx),
        predictions=_predictions(ctx),
        notes=parts.notes,
        currency=_base_currency(ctx),
        banners=_banners(ctx, run, data_age),
        data_age=data_age,
        satisfaction=parts.satisfaction,
    )


@dataclass
class _SegmentParts:
    """The sections about the published segments."""

    segments: list[SegmentRow] | Unavailable
    migration: Migration | Unavailable
    history: SizeHistory | Unavailable
    rfm: RfmGrid | Unavailable
    projection: Projection | Unavailable
    satisfaction: Satisfaction | None = None
    notes: list[str] = field(default_factory=list)


def _segment_parts(ctx: _Ctx, run: SegmentRunInfo | Unavailable) -> _SegmentParts:
    """The segments, moves, size trend, RFM grid, map and satisfaction; each says why before any run."""
    if isinstance(run, Unavailable):
        return _SegmentParts(run, run, run, run, run)
    notes = []
    if run.as_of < ctx.day and not _segments_skipped(ctx):
        notes.append(
            f"The segments shown are from the last published run ({run.as_of}); "
            "later nights were not published (see Data quality)."
        )
    week_before = ctx.day - timedelta(days=7)
    previous = _segment_run(ctx, week_before)
    prev_run = previous if isinstance(previous, SegmentRunInfo) and previous.run_id != run.run_id else None
    segments = _segments(ctx, run, prev_run)
    migration = (
        _migration(ctx, run, prev_run)
        if prev_run
        else Unavailable(
            f"No published segmentation a week earlier (on or before {week_before}) to compare with yet."
        )
    )
    # The map's legend and the satisfaction table name the segments already read with their profiles.
    names = {s.segment_id: s.name for s in segments} if isinstance(segments, list) else {}
    satisfaction = None
    if isinstance(segments, list):
        satisfaction = _satisfaction(ctx, run, prev_run, names)
        if satisfaction is not None:
            _serve_unhappy(segments, satisfaction)
    return _SegmentParts(
        segments, migration, _history(ctx), _rfm(ctx, run), _projection(ctx, run, names), satisfaction, notes
    )


# -- banners: data older than expected, stages skipped ------------------------------------------------


def _data_age(ctx: _Ctx, limit: int) -> DataAge | None:
    """The newest order on or before the report day, and how many days before it (the freshness check's view)."""
    row = ctx.one(
        "select max(ordered_at)::date from orders where ordered_at < $end", {"end": ctx.period.end_exclusive}
    )
    if row is None or row[0] is None:
        return None
    return DataAge(row[0], (ctx.day - row[0]).days, limit)


# What the nightly run stored in runs.message for a stage it skipped, and the same in the owner's words.
SKIPPED = (
    ("churn skipped: ", "Churn risk was not predicted: "),
    ("lifetime value skipped: ", "Lifetime value was not predicted: "),
    (CLV_NOT_RELIABLE, CLV_NOT_RELIABLE),
    *((before, CLV_NOT_RELIABLE) for before in CLV_NOT_RELIABLE_BEFORE),
    ("predictions not refreshed: ", "Predictions were not refreshed: "),
    ("anomalies skipped: ", "Unusual customers were not looked for: "),
)


def _run_messages(ctx: _Ctx) -> list[str]:
    """The messages of the latest nightly run up to the report day (runs.message joins them with '; ')."""
    row = ctx.one(
        "select message from runs where flow = 'nightly' and as_of <= $day and message is not null "
        "order by as_of desc, started_at desc limit 1",
        {"day": ctx.day},
    )
    if row is None:
        return []
    messages: list[str] = []
    for part in str(row[0]).split("; "):
        # Every message reads "what: why"; a part without ": " continues the one before ("...; you have 60").
        if messages and ": " not in part:
            messages[-1] += "; " + part
        else:
            messages.append(part)
    return messages


def _segments_skipped(ctx: _Ctx) -> bool:
    """The latest night computed no segments (its banner says why and which segments are shown)."""
    return any(m.startswith("segments not computed: ") for m in _run_messages(ctx))


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _banners(ctx: _Ctx, run: SegmentRunInfo | Unavailable, age: DataAge | None) -> list[Banner]:
    banners: list[Banner] = []
    if age is not None and age.stale:
        banners.append(
            Banner(
                "stale",
                f"Your newest order is from {_day(age.newest)}, {counted(age.days, 'day')} before {_day(ctx.day)} "
                f"(more than the {age.limit} days expected): the shop's export may have stopped, so this "
                f"report shows nothing newer. Check the export (`segmint doctor` names each file's age), or "
                f"see the last day with data: `segmint run nightly --as-of {age.newest}`.",
            )
        )
    messages = _run_messages(ctx)
    if isinstance(run, Unavailable):
        banners.append(Banner("skipped", run.reason))
    else:
        for m in messages:
            if m.startswith("segments not computed: "):
                banners.append(
                    Banner(
                        "skipped",
                        _sentence(
                            f"New segments were not computed: {m.removeprefix('segments not computed: ')}"
                        )
                        + f" The segments shown are from {_day(run.as_of)}.",
                    )
                )
    for m in messages:
        for stored, plain in SKIPPED:
            if m.startswith(stored):
                banners.append(Banner("skipped", _sentence(plain + m.removeprefix(stored))))
    return banners


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _base_currency(ctx: _Ctx) -> str | None:
    # The currency ingest converted every order into; a warehouse loaded before it was recorded falls back
    # to the orders' most common currency.
    from segmint.currency import base_currency

    recorded = base_currency(ctx.con)
    if recorded:
        return recorded
    row = ctx.one("select mode(currency) from orders where currency is not null")
    return str(row[0]) if row and row[0] else None


# -- KPIs ---------------------------------------------------------------------------------------------


# Net revenue (the features' definition, int_orders_valued): cancellations and refunds come off.
# "new" = the first non-cancelled order ever falls in the week, "returning" = ordered in the week and
# also before it.
_WEEKLY_COUNTS = f"""
    with firsts as (
        select customer_id, min(ordered_at) as first_at
        from orders
        where not is_cancellation and customer_id is not null and ordered_at < $end
        group by customer_id
    ),
    weekly as (
        select
            o.*,
            -- At most what the order's lines are worth, as in the features (a refund can include shipping).
            {counted_refund("o")} as refunded,
            case when o.ordered_at >= $cur_start then 'current' else 'previous' end as week,
            case when o.ordered_at >= $cur_start then $cur_start else $prev_start end as week_start
        from orders as o
        where o.ordered_at >= $prev_start and o.ordered_at < $end
    )
    select
        w.week,
        count(distinct w.customer_id) filter (where not w.is_cancellation) as active,
        count(distinct w.customer_id) filter (
            where not w.is_cancellation and f.first_at >= w.week_start) as new_customers,
        count(distinct w.customer_id) filter (
            where not w.is_cancellation and f.first_at < w.week_start) as returning,
        count(*) filter (where not w.is_cancellation) as orders,
        coalesce(sum(w.revenue), 0) - coalesce(sum(w.refunded), 0) as revenue,
        count(*) filter (where not w.is_cancellation and w.customer_id is null) as guest_orders
    from weekly as w
    left join firsts as f on f.customer_id = w.customer_id
    group by w.week
"""

_KPIS = (
    ("active_customers", "Active customers", "count"),
    ("new_customers", "New customers", "count"),
    ("orders", "Orders", "count"),
    ("revenue", "Revenue (net)", "money"),
    ("average_order_value", "Average order value (net)", "money"),
    ("repeat_rate", "Repeat rate", "ratio"),
    ("guest_share", "Guest orders", "ratio"),
)


def _week_values(active: int, new: int, returning: int, orders: int, revenue: Any, guests: int) -> Stats:
    """A week's key numbers from its counts (a week without orders: zero counts, no ratios)."""
    return {
        "active_customers": float(active),
        "new_customers": float(new),
        "orders": float(orders),
        "revenue": float(revenue),
        # One definition everywhere (features, segment descriptions): net revenue / kept orders.
        "average_order_value": float(revenue) / orders if orders else None,
        "repeat_rate": float(returning) / active if active else None,
        "guest_share": float(guests) / orders if orders else None,
    }


def _kpis(ctx: _Ctx) -> list[Kpi]:
    # One pass over the two weeks' orders.
    rows = ctx.rows(
        _WEEKLY_COUNTS,
        {"prev_start": ctx.previous.start, "cur_start": ctx.period.start, "end": ctx.period.end_exclusive},
    )
    by_week = {str(week): _week_values(*counts) for week, *counts in rows}
    empty = _week_values(0, 0, 0, 0, 0, 0)
    cur, prev = by_week.get("current", empty), by_week.get("previous", empty)
    # More guest orders means fewer customers to know and reach again.
    return [Kpi(key, label, cur[key], prev[key], kind, key != "guest_share") for key, label, kind in _KPIS]


# -- segments -----------------------------------------------------------------------------------------


def _why_not_segmented(ctx: _Ctx, day: date) -> str | None:
    """The reason the latest nightly run up to `day` gave for computing no segments (too few customers...)."""
    row = ctx.one(
        "select message from runs where flow = 'nightly' and as_of <= $day and message like '%segments not computed: %' "
        "order by as_of desc, started_at desc limit 1",
        {"day": day},
    )
    found = re.search(r"segments not computed: (.*?\.)(?:; |$)", str(row[0])) if row else None
    return f"No segments yet: {found.group(1)}" if found else None


def _segment_run(ctx: _Ctx, day: date) -> SegmentRunInfo | Unavailable:
    in_force = published_run(ctx.con, upto=day)
    row = None
    if in_force is not None:
        row = ctx.one(
            """
            select run_id, as_of, algorithm, k, n_customers, silhouette, stability_ari
            from segment_runs where run_id = $run
            """,
            {"run": in_force[0]},
        )
    if row is None:
        held = ctx.one(
            f"""
            select as_of, status_reason from segment_runs
            where not published and as_of <= $day order by {RUN_ORDER} limit 1
            """,
            {"day": day},
        )
        if held is not None:
            why = f" ({held[1]})" if held[1] else ""
            return Unavailable(
                f"No segmentation has been published up to {day} yet: the segments computed for {held[0]} "
                f"were held back{why}; see Data quality."
            )
        return Unavailable(_why_not_segmented(ctx, day) or NOT_SEGMENTED.format(day=day))
    return SegmentRunInfo(
        run_id=str(row[0]),
        as_of=row[1],
        algorithm=row[2],
        k=None if row[3] is None else int(row[3]),
        n_customers=None if row[4] is None else int(row[4]),
        silhouette=_f(row[5]),
        stability_ari=_f(row[6]),
    )


_PROFILE_MEANS = ", ".join(f"mean_{c}" for c in MEAN_COLUMNS)


def _segments(ctx: _Ctx, run: SegmentRunInfo, prev: SegmentRunInfo | None) -> list[SegmentRow] | Unavailable:
    profile_rows = ctx.rows(
        f"""
        select segment_id, segment_name, size, share, revenue_share, description, median_age, demographics,
            defining_features, {_PROFILE_MEANS}
        from segment_profiles where run_id = $run order by size desc, segment_id
        """,
        {"run": run.run_id},
    )
    if not profile_rows:
        return Unavailable(f"The published segment run {run.run_id} has no segment profiles.")
    total = sum(int(r[2]) for r in profile_rows) or 1
    segments = {
        int(r[0]): SegmentRow(
            segment_id=int(r[0]),
            name=str(r[1]),
            size=int(r[2]),
            share=float(r[3]) if r[3] is not None else int(r[2]) / total,
            revenue_share=_f(r[4]),
            description=str(r[5] or ""),
            demographics=demographics_line(_f(r[6]), r[7]),
        )
        for r in profile_rows
    }
    if prev is not None:
        for seg_id, size in ctx.rows(
            "select segment_id, size from segment_profiles where run_id = $run", {"run": prev.run_id}
        ):
            if int(seg_id) in segments:
                segments[int(seg_id)].previous_size = int(size)
    stored = _stored_stats(ctx, run, profile_rows)
    _describe(ctx, run, segments, stored)
    for seg_id, products in _top_products(ctx, run).items():
        if seg_id in segments:
            segments[seg_id].top_products = products
    _add_predictions(ctx, run, segments)
    _add_campaign_actions(ctx, segments, _long_ago(ctx, run, stored.base))
    return list(segments.values())


def _describe(ctx: _Ctx, run: SegmentRunInfo, segments: dict[int, SegmentRow], stored: _Stored) -> None:
    """Each segment's means, defining features and default action, from what segmentation stored."""
    clickstream = has_clickstream(ctx.con, run.as_of)
    for seg in segments.values():
        m = stored.means.get(seg.segment_id, {})
        z = stored.z.get(seg.segment_id, {})
        seg.mean_recency = m.get("recency_days")
        seg.mean_frequency = m.get("frequency")
        seg.mean_monetary = m.get("monetary")
        seg.net_revenue = None if seg.mean_monetary is None else seg.mean_monetary * seg.size
        seg.defining = _defining(stored.defining.get(seg.segment_id, []), m, stored.base, z)
        kind = actions.type_for(seg.name, m, z, clickstream)
        # A lapsed segment's action follows its spend: "low spend" is not said of members who spend more.
        seg.action = actions.default_action(actions.spend_variant(kind, m, stored.base))


def _long_ago(ctx: _Ctx, run: SegmentRunInfo, base: Stats) -> float | None:
    """Days since the last order from which customers count as drifting away in this shop: two of its
    purchase cycles (the segment names' own rule), else the base's mean recency; None if neither is known."""
    from segmint.segment.profile import LAPSED_CYCLES

    row = ctx.one(
        "select median(mean_days_between_orders) from customer_features "
        "where as_of = $as_of and frequency >= 2 and mean_days_between_orders > 0",
        {"as_of": run.as_of},
    )
    if row is not None and row[0] is not None:
        return LAPSED_CYCLES * float(row[0])
    return base.get("recency_days")


Stats = dict[str, float | None]


def _serve_unhappy(segments: list[SegmentRow], satisfaction: Satisfaction) -> None:
    """Segments mostly of detractors get the customised-service action unless a campaign covers them."""
    by_id = {r.segment_id: r for r in satisfaction.rows}
    for seg in segments:
        row = by_id.get(seg.segment_id)
        if row is None or (seg.action is not None and seg.action.source != "default"):
            continue
        if actions.unhappy(row.detractor_share, row.feedback_share):
            seg.action = actions.default_action("unhappy")


_SATISFACTION = ("feedback_share", "mean_rating_mean", "mean_is_detractor", "mean_is_promoter")


def _satisfaction(
    ctx: _Ctx, run: SegmentRunInfo, prev: SegmentRunInfo | None, names: dict[int, str]
) -> Satisfaction | None:
    """Satisfaction per segment from the stored profiles; None when the shop has no feedback."""
    if not has_feedback(ctx.con, run.as_of):
        return None
    scale_row = ctx.one(
        "select scale from feedback where submitted_at < $day + interval 1 day "
        "group by scale order by count(*) desc limit 1",
        {"day": run.as_of},
    )
    scale = str(scale_row[0]) if scale_row else "stars"

    def profiles(run_id: str) -> dict[int, tuple[float | None, ...]]:
        rows = ctx.rows(
            f"select segment_id, {', '.join(_SATISFACTION)} from segment_profiles where run_id = $run",
            {"run": run_id},
        )
        return {int(r[0]): tuple(_f(v) for v in r[1:]) for r in rows}

    now = profiles(run.run_id)
    before = profiles(prev.run_id) if prev is not None else {}
    rows = []
    for seg_id, name in names.items():
        share, mean, detractors, promoters = now.get(seg_id, (None, None, None, None))
        earlier = before.get(seg_id)
        previous_nps = (
            100 * (earlier[3] - earlier[2])
            if earlier and earlier[2] is not None and earlier[3] is not None
            else None
        )
        rows.append(
            SatisfactionRow(
                seg_id,
                name,
                share,
                mean,
                detractors,
                promoters,
                previous_rating_mean=earlier[1] if earlier else None,
                previous_nps=previous_nps,
            )
        )
    return Satisfaction(scale, rows, compared=prev is not None)


@dataclass
class _Stored:
    """What segmentation stored to describe a run's segments, in the features' own units."""

    means: dict[int, Stats]  # per segment: the profile's means and the clustered features' means
    base: Stats  # the same over the whole base
    z: dict[int, Stats]  # per segment and clustered feature: the clustering's z-score
    defining: dict[int, list[tuple[str, float]]]  # per segment: its defining features and z, strongest first


def _stored_stats(ctx: _Ctx, run: SegmentRunInfo, profile_rows: list[tuple[Any, ...]]) -> _Stored:
    """Means, z-scores and defining features of the run's segments (profile rows as `_segments` reads them)."""
    stored = _Stored({}, {}, {}, {})
    for r in profile_rows:
        stored.means[int(r[0])] = {c: _f(v) for c, v in zip(MEAN_COLUMNS, r[9:], strict=True)}
        stored.defining[int(r[0])] = [
            (str(d["feature"]), float(d["z"])) for d in json.loads(str(r[8] or "[]"))
        ]
    found = ctx.one("select base_means from segment_runs where run_id = $run", {"run": run.run_id})
    if found is not None and found[0]:
        stored.base.update({str(k): _f(v) for k, v in json.loads(str(found[0])).items()})
    for seg_id, feature, z_score, seg_mean, base_mean in ctx.rows(
        "select segment_id, feature, z_score, raw_segment_mean, raw_base_mean from segment_features "
        "where run_id = $run",
        {"run": run.run_id},
    ):
        stored.z.setdefault(int(seg_id), {})[str(feature)] = _f(z_score)
        # A run stored before migration 021 has no means in the features' units: the profile's stay.
        if seg_mean is not None:
            stored.means.setdefault(int(seg_id), {})[str(feature)] = _f(seg_mean)
        if base_mean is not None:
            stored.base[str(feature)] = _f(base_mean)
    return stored


def _defining(found: list[tuple[str, float]], means: Stats, base: Stats, z: Stats) -> list[DefiningFeature]:
    """The segment's defining features as `segmint segments` names them, with their means."""
    return [
        DefiningFeature(
            feature,
            actions.feature_label(feature),
            means.get(feature),
            base.get(feature),
            score if z.get(feature) is None else float(z[feature] or 0.0),
            actions.feature_unit(feature),
        )
        for feature, score in found[:DEFINING_FEATURES]
    ]


def _top_products(ctx: _Ctx, run: SegmentRunInfo) -> dict[int, list[ProductRow]]:
    rows = ctx.rows(
        """
        with members as (
            select customer_id, segment_id from segment_assignments where run_id = $run
        ),
        sold as (
            select m.segment_id, l.product_id, l.product_name, l.quantity, l.line_revenue, o.customer_id,
                o.is_cancellation
            from orders as o
            join order_lines as l on l.order_id = o.order_id
            join members as m on m.customer_id = o.customer_id
            where o.ordered_at >= $start and o.ordered_at < $end and l.product_id is not null and not o.is_voided
        ),
        -- Net of cancellations and returns (negative lines), so a cancelled sale does not count; a
        -- voided order's lines are left out (it never happened).
        per_product as (
            select segment_id, product_id, max(product_name) as product_name, sum(quantity) as units,
                sum(line_revenue) as revenue,
                count(distinct customer_id) filter (where not is_cancellation) as customers
            from sold group by segment_id, product_id
            having sum(line_revenue) > 0
        )
        select * from per_product
        qualify row_number() over (partition by segment_id order by revenue desc, product_id) <= $top
        order by segment_id, revenue desc, product_id
        """,
        {
            "run": run.run_id,
            "start": ctx.period.end_exclusive - timedelta(days=TOP_PRODUCTS_DAYS),
            "end": ctx.period.end_exclusive,
            "top": TOP_PRODUCTS,
        },
    )
    out: dict[int, list[ProductRow]] = {}
    for seg_id, pid, name, units, revenue, customers in rows:
        out.setdefault(int(seg_id), []).append(
            ProductRow(str(pid), str(name or pid), int(units), float(revenue), int(customers))
        )
    return out


def _add_predictions(ctx: _Ctx, run: SegmentRunInfo, segments: dict[int, SegmentRow]) -> None:
    latest = ctx.prediction_run
    if latest is None:
        return
    # Lifetime values the night's holdout check did not back are not shown as numbers (predict stored it).
    withheld = clv_unreliable(ctx.con, latest[0])
    for seg_id, clv, churn_score, due in ctx.rows(
        """
        -- Customers who never bought have no lifetime-value model (BG/NBD starts at a first purchase):
        -- they count as 0, so a segment of browsers does not inherit the value of its few buyers.
        select a.segment_id, avg(coalesce(p.clv_12m, 0)), avg(p.churn_score),
            -- null (not 0) when no next order was predicted at all
            case when count(p.days_to_next_order) > 0
                then count(*) filter (where p.days_to_next_order <= 7) end as due
        from segment_assignments as a
        left join customer_predictions as p on p.customer_id = a.customer_id and p.run_id = $pred
        where a.run_id = $run
        group by a.segment_id
        """,
        {"run": run.run_id, "pred": latest[0]},
    ):
        if int(seg_id) in segments:
            segments[int(seg_id)].mean_clv = None if withheld else _f(clv)
            segments[int(seg_id)].clv_withheld = withheld
            segments[int(seg_id)].mean_churn = _f(churn_score)
            segments[int(seg_id)].due_within_week = None if withheld or due is None else int(due)


def _add_campaign_actions(ctx: _Ctx, segments: dict[int, SegmentRow], long_ago: float | None = None) -> None:
    # A campaign built this week for a segment replaces the default action with what was actually planned.
    rows = ctx.rows(
        """
        select a.segment_name, c.name, c.channel, c.offer, c.targeting,
            count(*) filter (where a."group" = 'treatment') as treatment,
            count(*) filter (where a."group" = 'holdout') as holdout
        from campaigns as c
        join campaign_audiences as a on a.campaign_id = c.campaign_id
        where c.as_of between $start and $end
        group by all
        order by treatment desc, c.name
        """,
        {"start": ctx.period.start, "end": ctx.period.end},
    )
    by_name = {s.name: s for s in segments.values()}
    for segment_name, name, channel, offer, targeting, treatment, holdout in rows:
        seg = by_name.get(segment_name)
        if seg is None:
            continue
        seg.campaigns.append(f"{name} ({channel}): {treatment:,} targeted, {holdout:,} held out")
        # A reminder for customers drifting away is not the action of a segment that ordered lately.
        recent = long_ago is not None and seg.mean_recency is not None and seg.mean_recency < long_ago
        if actions.targets_lapsing(targeting) and recent:
            continue
        if seg.action is None or seg.action.source == "default":
            kind = seg.action.segment_type if seg.action else "regular"
            seg.action = Action(
                kind,
                str(name),
                str(channel),
                str(offer or ""),
                "Planned in this week's campaign playbook.",
                source="campaign",
            )


def _migration(ctx: _Ctx, run: SegmentRunInfo, prev: SegmentRunInfo) -> Migration | Unavailable:
    # The one definition of a migration: sql/analysis/segment_migration.sql (revenue = net revenue to
    # date at each run's as_of; the report shows it at this week's run).
    from segmint.segment.history import segment_migration

    frame = segment_migration(ctx.con, prev.run_id, run.run_id)
    rows = frame.select(
        "from_segment_id",
        "from_segment_name",
        "to_segment_id",
        "to_segment_name",
        "customers",
        "revenue_after",
    ).rows()
    from_labels: dict[int | None, str] = {}
    to_labels: dict[int | None, str] = {}
    for from_id, from_name, to_id, to_name, _n, _rev in sorted(
        rows, key=lambda r: (r[0] is None, r[0] or 0, r[2] is None, r[2] or 0)
    ):
        from_labels.setdefault(
            None if from_id is None else int(from_id), "new" if from_id is None else str(from_name)
        )
        to_labels.setdefault(None if to_id is None else int(to_id), "gone" if to_id is None else str(to_name))
    # Rows and columns in segment order, "new" and "gone" last.
    from_labels = dict(sorted(from_labels.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
    to_labels = dict(sorted(to_labels.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
    cells = [
        MigrationCell(None if a is None else int(a), None if b is None else int(b), int(n), float(rev or 0.0))
        for a, _an, b, _bn, n, rev in rows
    ]
    return Migration(prev.run_id, prev.as_of, from_labels, to_labels, cells)


def _history(ctx: _Ctx) -> SizeHistory | Unavailable:
    weeks = [ctx.day - timedelta(days=7 * i) for i in range(HISTORY_WEEKS - 1, -1, -1)]
    # The run of a week: the latest published run in (week end - 7, week end].
    runs = ctx.rows(
        f"""
        select run_id, as_of from segment_runs
        where published and as_of <= $day and as_of > $first
        order by {RUN_ORDER}
        """,
        {"day": ctx.day, "first": weeks[0] - timedelta(days=7)},
    )
    picked: dict[date, str] = {}
    for week_end in weeks:
        for run_id, as_of in runs:  # newest first
            if week_end - timedelta(days=7) < as_of <= week_end:
                picked[week_end] = str(run_id)
                break
    if not picked:
        return Unavailable("No published segmentation in the last 12 weeks.")
    profiles = ctx.rows(
        "select run_id, segment_id, segment_name, size from segment_profiles where list_contains($runs, run_id)",
        {"runs": list(set(picked.values()))},
    )
    by_run: dict[str, dict[int, tuple[str, int]]] = {}
    for run_id, seg_id, name, size in profiles:
        by_run.setdefault(str(run_id), {})[int(seg_id)] = (str(name), int(size))
    names: dict[int, str] = {}
    for week_end in weeks:  # oldest to newest, so the newest name wins
        for seg_id, (name, _size) in by_run.get(picked.get(week_end, ""), {}).items():
            names[seg_id] = name
    sizes = {
        seg_id: [
            by_run[picked[w]][seg_id][1] if w in picked and seg_id in by_run.get(picked[w], {}) else None
            for w in weeks
        ]
        for seg_id in sorted(names)
    }
    return SizeHistory(weeks=weeks, names=names, sizes=sizes)


def _rfm(ctx: _Ctx, run: SegmentRunInfo) -> RfmGrid | Unavailable:
    rows = ctx.rows(
        """
        select r_score, f_score, count(*), avg(monetary::double)
        from customer_features
        where as_of = $as_of and r_score between 1 and 5 and f_score between 1 and 5
            and not coalesce(is_prospect, false)
        group by all
        """,
        {"as_of": run.as_of},
    )
    if not rows:
        return Unavailable(f"No scored customers in customer_features for {run.as_of}.")
    counts = [[0] * 5 for _ in range(5)]
    money: list[list[float | None]] = [[None] * 5 for _ in range(5)]
    for r, f, n, m in rows:
        counts[int(r) - 1][int(f) - 1] = int(n)
        money[int(r) - 1][int(f) - 1] = _f(m)
    named = [
        (str(name), int(n), float(rev or 0.0))
        for name, n, rev in ctx.rows(
            """
            select rfm_segment, count(*), sum(monetary::double) from customer_features
            where as_of = $as_of and rfm_segment is not null and not coalesce(is_prospect, false)
            group by 1 order by 2 desc, 1
            """,
            {"as_of": run.as_of},
        )
    ]
    return RfmGrid(counts=counts, mean_monetary=money, named=named)


def _projection(ctx: _Ctx, run: SegmentRunInfo, names: dict[int, str]) -> Projection | Unavailable:
    """The customer map segmentation drew for the run (segmint.segment.customer_map), or why there is none."""
    drawn = ctx.one(
        "select n_sampled, n_total, explained_x, explained_y, unavailable_reason from segment_maps "
        "where run_id = $run",
        {"run": run.run_id},
    )
    if drawn is None:
        return Unavailable(NO_MAP)
    n_sampled, n_total, explained_x, explained_y, reason = drawn
    if reason:
        return Unavailable(str(reason))
    # In the order segmentation sampled them (segmint.segment.customer_map.POINT_ORDER), so later points
    # are drawn over earlier ones as they always were.
    points = ctx.rows(
        "select segment_id, x, y from segment_map_points where run_id = $run "
        "order by segment_id, hash(customer_id), customer_id",
        {"run": run.run_id},
    )
    return Projection(
        x=[float(p[1]) for p in points],
        y=[float(p[2]) for p in points],
        segment_ids=[int(p[0]) for p in points],
        names=names,
        n_sampled=int(n_sampled),
        n_total=int(n_total),
        explained=(float(explained_x), float(explained_y)),
    )


# -- data quality, campaigns, predictions ---------------------------------------------------------------


# The runs of the report's week: a night's runs by their as_of, the others (ingest, replay) by their start.
_WEEK_RUNS = """
    select run_id from runs
    where as_of between $start and $end
        or (as_of is null and started_at >= $start and started_at < $end_x)
"""


def _failed_checks(ctx: _Ctx, params: dict[str, Any]) -> tuple[list[FailedCheck], int]:
    """The week's failed expectations, critical and most unexpected first, and how many checks ran."""
    counted = ctx.one(f"select count(*) from validation_results where run_id in ({_WEEK_RUNS})", params)
    failed = [
        FailedCheck(str(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), None if r[4] is None else int(r[4]),
                    _observed_summary(r[5]))
        for r in ctx.rows(
            f"""
            select run_id, suite, expectation, severity, unexpected_count, observed
            from validation_results
            where run_id in ({_WEEK_RUNS}) and not success
            order by severity = 'critical' desc, unexpected_count desc nulls last, suite, expectation
            limit 50
            """,
            params,
        )
    ]  # fmt: skip
    return failed, int(counted[0]) if counted else 0


def _unpublished_nights(
    ctx: _Ctx, params: dict[str, Any]
) -> tuple[list[tuple[date, str]], list[tuple[date, str]]]:
    """The week's nights whose segments were held: why in short, and the sentence the held night gets."""
    not_published: list[tuple[date, str]] = []
    held_nights: list[tuple[date, str]] = []
    for night, why, computed, kept, kept_day in ctx.rows(
        """
        select as_of, reasons, segment_run_id, kept_run_id,
            (select as_of from segment_runs as s where s.run_id = d.kept_run_id limit 1)
        from publication_decisions as d
        where as_of between $start and $end and not published order by as_of, decided_at
        """,
        params,
    ):
        not_published.append((night, _sentences(why)))
        held_nights.append((night, held_night_sentence(night, why, computed, kept, kept_day)))
    return not_published, held_nights


def _runs_and_loads(
    ctx: _Ctx, params: dict[str, Any]
) -> tuple[list[RunRow], list[LoadRow], list[tuple[str, str, int]]]:
    """The week's runs, the rows its files brought per source, and the main quarantine reasons."""
    runs = [
        RunRow(str(r[0]), str(r[1]), r[2], r[3], r[4], str(r[5]), r[6])
        for r in ctx.rows(
            f"""
            select run_id, flow, as_of, started_at, finished_at, status, message
            from runs where run_id in ({_WEEK_RUNS}) order by started_at, run_id
            """,
            params,
        )
    ]
    loads = [
        LoadRow(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]))
        for r in ctx.rows(
            f"""
            select source, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined),
                sum(rows_duplicate)
            from loaded_files where run_id in ({_WEEK_RUNS})
            group by source order by source
            """,
            params,
        )
    ]
    reasons = [
        (str(r[0]), str(r[1]), int(r[2]))
        for r in ctx.rows(
            f"""
            select source, reason, count(*) from quarantine where run_id in ({_WEEK_RUNS})
            group by all order by 3 desc, 1, 2 limit 10
            """,
            params,
        )
    ]
    return runs, loads, reasons


def _held_batches(ctx: _Ctx, params: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """The week's batches held back: source, file name, why and rows read."""
    return [
        (str(src), str(path).rsplit("/", 1)[-1], str(why), int(n))
        for src, path, why, n in ctx.rows(
            f"""
            select source, path, reason, rows_read from held_batches
            where run_id in ({_WEEK_RUNS}) and status = 'held' order by source, path
            """,
            params,
        )
    ]


def _quality(ctx: _Ctx) -> Quality:
    params = {"start": ctx.period.start, "end": ctx.period.end, "end_x": ctx.period.end_exclusive}
    runs, loads, reasons = _runs_and_loads(ctx, params)
    checks, checks_run = _failed_checks(ctx, params)
    not_published, held_nights = _unpublished_nights(ctx, params)
    partial = ctx.one("select count(*), coalesce(sum(lines_quarantined), 0) from order_quarantined_lines", {})
    return Quality(
        partial_orders=(int(partial[0]), int(partial[1])) if partial else (0, 0),
        runs=runs,
        loads=loads,
        quarantine_reasons=reasons,
        failed_checks=checks,
        checks_run=checks_run,
        not_published=not_published,
        held_nights=held_nights,
        held_batches=_held_batches(ctx, params),
    )


def _observed_summary(value: Any) -> str:
    """The one-line summary a night check stores in `observed` (JSON), else empty."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return ""
    return str(parsed.get("summary") or "") if isinstance(parsed, dict) else ""


def held_night_sentence(
    night: date, reasons: Any, segment_run_id: str | None, kept_run_id: str | None, kept_as_of: date | None
) -> str:
    """What a night the gate did not publish did: held by a data check (named) or by the segment checks,
    and whether earlier segments stay in use or there were none to keep."""
    from segmint.quality.gate import CHECK_REASON

    try:
        parsed = json.loads(reasons) if isinstance(reasons, str) else reasons
    except ValueError:
        parsed = [str(reasons)]
    listed = [str(r) for r in parsed] if isinstance(parsed, list) else [str(parsed)]
    checks = [r.removeprefix(CHECK_REASON) for r in listed if r.startswith(CHECK_REASON)]
    computed = segment_run_id is not None and "no segmentation was computed tonight" not in listed
    when = _day(night)
    if checks:
        named = "; ".join(checks)
        check_word = "a data check" if len(checks) == 1 else f"{len(checks)} data checks"
        said = f"The night of {when} was held by {check_word} ({named})"
        said += (
            ", so its segments were not published"
            if computed
            else ", so no segments were computed that night"
        )
    elif computed:
        said = f"The segments computed on {when} did not pass the checks for reliable segments"
    else:
        said = f"No segments were computed on {when}"
    if kept_run_id:
        since = f" (from {_day(kept_as_of)})" if kept_as_of else ""
        return f"{said}; the earlier segments{since} stay in use."
    return (
        f"{said}; there are no earlier segments to keep, so segments appear once a night passes its checks."
    )


def _sentences(value: Any) -> str:
    """A JSON list of sentences (or plain text) as one line."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    if isinstance(parsed, list):
        return " ".join(str(x) for x in parsed)
    return str(parsed)


def _campaigns(ctx: _Ctx) -> Campaigns | Unavailable:
    built = [
        CampaignBuilt(str(r[0]), str(r[1]), str(r[2]), r[3], int(r[4]), int(r[5]), r[6])
        for r in ctx.rows(
            """
            select campaign_id, name, channel, offer, n_treatment, n_holdout, window_end
            from campaigns where as_of between $start and $end order by name
            """,
            {"start": ctx.period.start, "end": ctx.period.end},
        )
    ]
    results = _campaign_results(ctx)
    variants = _variant_tests(ctx)
    if not built and not results and not variants:
        return Unavailable(
            "No campaigns yet: build audiences from the playbook with `segmint campaigns build`, "
            "and results appear here once their attribution window has passed."
        )
    return Campaigns(built=built, results=results, variants=variants)


def _campaign_results(ctx: _Ctx) -> list[CampaignResult]:
    """The latest measurement of each campaign and segment, for the five most recent campaigns measured."""
    rows = ctx.rows(
        """
        with latest as (
            select * from campaign_results where measured_as_of <= $day
            qualify row_number() over (partition by campaign_id, segment_name order by measured_at desc) = 1
        ),
        recent as (
            select campaign_id from latest group by campaign_id
            order by max(window_end) desc, campaign_id limit 5
        )
        select l.campaign_id, c.name, l.segment_name, l.window_start, l.window_end, l.n_treatment,
            l.n_holdout, l.conversion_treatment, l.conversion_holdout, l.uplift_abs, l.uplift_ci_low,
            l.uplift_ci_high, l.p_value, l.revenue_uplift, l.revenue_ci_low, l.revenue_ci_high
        from latest as l
        join recent using (campaign_id)
        join campaigns as c on c.campaign_id = l.campaign_id
        order by l.window_end desc, l.campaign_id, l.segment_name <> 'all', l.segment_name
        """,
        {"day": ctx.day},
    )
    return [
        CampaignResult(
            campaign_id=str(r[0]),
            name=str(r[1]),
            segment_name=str(r[2]),
            window_start=r[3],
            window_end=r[4],
            n_treatment=int(r[5]),
            n_holdout=int(r[6]),
            conversion_treatment=_f(r[7]),
            conversion_holdout=_f(r[8]),
            uplift_abs=_f(r[9]),
            uplift_ci_low=_f(r[10]),
            uplift_ci_high=_f(r[11]),
            p_value=_f(r[12]),
            revenue_uplift=_f(r[13]),
            revenue_ci_low=_f(r[14]),
            revenue_ci_high=_f(r[15]),
        )
        for r in rows
    ]


def _variant_measurements(ctx: _Ctx) -> tuple[dict[tuple[str, str, str], VariantRow], dict[str, date]]:
    """Per campaign name, segment and variant: the latest stored posterior measured up to the report day
    (n_assigned and share come from the build); and the day each campaign was last measured."""
    measured: dict[tuple[str, str, str], VariantRow] = {}
    measured_on: dict[str, date] = {}
    for name, segment, variant, on, n, x, mean, low, high, best in ctx.rows(
        """
        select name, segment_name, variant, measured_as_of, n_treatment, conversions, posterior_mean,
            ci_low, ci_high, p_best
        from campaign_variant_posteriors where measured_as_of <= $day
        qualify measured_as_of = max(measured_as_of) over (partition by name)
        """,
        {"day": ctx.day},
    ):
        measured[(str(name), str(segment), str(variant))] = VariantRow(
            str(segment),
            str(variant),
            int(n),
            int(x),
            float(mean),
            float(low),
            float(high),
            float(best),
            0,
            None,
        )
        measured_on[str(name)] = on
    return measured, measured_on


def _variant_tests(ctx: _Ctx) -> list[VariantTest]:
    """Each campaign whose latest build up to the report day split its treatment across offer variants:
    per segment and variant, what the stored draws and posteriors say (nothing is recomputed here)."""
    # A campaign whose latest build has no draws no longer tests variants (or its treatment was empty).
    draws = ctx.rows(
        """
        with latest as (
            select campaign_id, name, as_of from campaigns where as_of <= $day
            qualify row_number() over (partition by name order by as_of desc, built_at desc) = 1
        )
        select l.name, l.campaign_id, l.as_of, d.segment_name, d.variant, d.alpha, d.beta, d.posterior_mean,
            d.ci_low, d.ci_high, d.p_best, d.n_assigned, d.share
        from latest as l
        join campaign_variant_draws as d using (campaign_id)
        order by l.name, sum(d.n_assigned) over (partition by l.name, d.segment_name) desc, d.segment_name,
            d.variant
        """,
        {"day": ctx.day},
    )
    measured, measured_on = _variant_measurements(ctx)
    built: dict[tuple[str, str], list[VariantRow]] = {}
    tests: dict[str, VariantTest] = {}
    for name, cid, as_of, segment, variant, alpha, beta, mean, low, high, best, n_assigned, share in draws:
        tests.setdefault(str(name), VariantTest(str(name), str(cid), as_of, measured_on.get(str(name)), []))
        # The build's draw row is Beta(1 + conversions, 1 + the rest) of the builds measured before it.
        built.setdefault((str(name), str(segment)), []).append(
            VariantRow(
                str(segment),
                str(variant),
                round(alpha + beta - 2),
                round(alpha - 1),
                float(mean),
                float(low),
                float(high),
                float(best),
                int(n_assigned),
                _f(share),
            )
        )
    for (name, _), rows in built.items():
        later = [measured.get((name, r.segment_name, r.variant)) for r in rows]
        # A later measurement replaces what the build knew, but only when it covers each of the segment's
        # variants: its chance of being best is then among all of them.
        if all(later):
            rows = [
                replace(m, n_assigned=r.n_assigned, share=r.share)
                for r, m in zip(rows, later, strict=True)
                if m
            ]
        tests[name].rows.extend(rows)
    return list(tests.values())


def _predictions(ctx: _Ctx) -> Predictions | Unavailable:
    latest = ctx.prediction_run
    if latest is None:
        return Unavailable("No predictions (lifetime value, churn, anomalies) computed up to this week yet.")
    run_id, as_of = latest
    auc = f1 = base_auc = precision = recall = None
    row = ctx.one(
        "select roc_auc, f1, baseline_roc_auc, precision, recall from churn_models where run_id = $run limit 1",
        {"run": run_id},
    )
    if row is not None:
        auc, f1, base_auc, precision, recall = (_f(v) for v in row)
    count = ctx.one(
        "select (select count(*) from anomalies where run_id = $run), "
        "exists (select 1 from customer_predictions where run_id = $run and anomaly_score is not null)",
        {"run": run_id},
    )
    n_anomalies = int(count[0]) if count else 0
    # Too few customers: nobody was scored, which is not the same as nobody being unusual.
    anomalies_checked = bool(count and (count[0] or count[1]))
    anomalies = [
        AnomalyRow(str(c), str(reason), float(score))
        for c, reason, score in ctx.rows(
            "select customer_id, reason, score from anomalies where run_id = $run "
            "order by score, customer_id limit 10",
            {"run": run_id},
        )
    ]
    return Predictions(
        run_id,
        as_of,
        auc,
        f1,
        base_auc,
        n_anomalies,
        anomalies,
        precision,
        recall,
        _churn_check(ctx),
        *_clv_check_and_message(ctx, run_id),
        recommendation_check=_recommendation_check(ctx),
        anomalies_checked=anomalies_checked,
    )


def _recommendation_check(ctx: _Ctx) -> RecommendationCheck | None:
    """The last stored recommendation evaluation up to the report day: the one in use and popularity."""
    rows = ctx.rows(
        "select as_of, train_end, horizon_days, k, customers_evaluated, method, is_default, hit_rate_at_5, "
        "precision_at_5, coverage from recommendation_evaluations "
        "where as_of = (select max(as_of) from recommendation_evaluations where as_of <= $day) "
        "and (is_default or method = 'popularity') order by is_default desc, method",
        {"day": ctx.day},
    )
    if not rows:
        return None
    first = rows[0]
    scores = [RecommenderScore(str(r[5]), bool(r[6]), float(r[7]), float(r[8]), float(r[9])) for r in rows]
    return RecommendationCheck(first[0], first[1], int(first[2]), int(first[3]), int(first[4]), scores)


def _clv_check_and_message(ctx: _Ctx, run_id: str) -> tuple[ClvCheck | None, str | None]:
    """The stored lifetime-value holdout check of the run and the run's message (both written by predict)."""
    check = None
    row = ctx.one(
        "select calibration_end, holdout_days, model, n_customers, actual_purchases, predicted_purchases, "
        "purchases_ratio, purchases_mae, baseline_ratio, baseline_mae, message, next_order_n_customers, "
        "next_order_predicted_share, next_order_ordered_share, next_order_auc, next_order_auc_recency, next_order_mae_days, "
        "next_order_mae_days_baseline from clv_validation where run_id = $run limit 1",
        {"run": run_id},
    )
    if row is not None:
        check = ClvCheck(
            row[0],
            int(row[1]),
            row[2],
            int(row[3]),
            float(row[4]),
            _f(row[5]),
            _f(row[6]),
            _f(row[7]),
            _f(row[8]),
            float(row[9]),
            row[10],
            _next_order_check(row[11:]),
        )
    found = ctx.one("select message from prediction_runs where run_id = $run limit 1", {"run": run_id})
    message = None if found is None or found[0] is None else str(found[0])
    return check, message


def _next_order_check(row: Sequence[Any]) -> NextOrderCheck | None:
    """clv_validation's next_order_* columns, from n_customers on (None: not checked that night)."""
    if row[0] is None:
        return None
    n, predicted, ordered, auc, auc_recency, mae, mae_baseline = row
    return NextOrderCheck(
        int(n), float(predicted), float(ordered), _f(auc), _f(auc_recency), mae, mae_baseline
    )


def _churn_check(ctx: _Ctx) -> ChurnCheck | None:
    """The churn scores of one horizon before the report day, against who then bought (stored by predict)."""
    row = ctx.one(
        "select predicted_as_of, outcome_as_of, n_customers, predicted_churn_rate, actual_churn_rate, precision, "
        "recall, f1, roc_auc from churn_backtests where as_of <= $day order by as_of desc, run_id desc limit 1",
        {"day": ctx.day},
    )
    return None if row is None else ChurnCheck(row[0], row[1], int(row[2]), *row[3:])
