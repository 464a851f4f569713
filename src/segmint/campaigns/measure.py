"""Measure campaigns after their attribution window: conversion and revenue of treatment against holdout."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl

from segmint.campaigns.bandit import UNASSIGNED, Posterior, p_best, segment_seed
from segmint.campaigns.stats import bootstrap_mean_difference, two_proportion
from segmint.config import Settings
from segmint.warehouse import insert_frame, query_frame, query_one, transaction

ALL_SEGMENTS = "all"


@dataclass(frozen=True)
class Measurement:
    """What `measure_campaigns` did with one campaign."""

    campaign_id: str
    window_end: date
    status: str  # measured | open
    rows: int = 0


def data_through(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last day with an order in the warehouse: a window is over once the data reaches its end."""
    row = query_one(con, "select cast(max(ordered_at) as date) from orders")
    return row[0] if row and isinstance(row[0], date) else None


def outcomes(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pl.DataFrame:
    """Per audience member: segment, group, converted (any non-cancelled order in the window), net revenue."""
    return query_frame(
        con,
        """
        with window_orders as (
            select o.customer_id, o.is_cancellation, cast(o.revenue as double) as revenue
            from orders as o
            join campaigns as c on c.campaign_id = $campaign_id
            where o.customer_id is not null
                and o.ordered_at >= c.window_start
                and o.ordered_at < c.window_end + interval 1 day
        ),
        per_customer as (
            select customer_id, bool_or(not is_cancellation) as converted, sum(revenue) as revenue
            from window_orders
            group by customer_id
        )
        select
            coalesce(a.segment_name, $unassigned) as segment_name,
            a."group",
            a.variant,
            coalesce(p.converted, false) as converted,
            coalesce(p.revenue, 0.0) as revenue
        from campaign_audiences as a
        left join per_customer as p on p.customer_id = a.customer_id
        where a.campaign_id = $campaign_id
        """,
        {"campaign_id": campaign_id, "unassigned": UNASSIGNED},
    )


def summarise(
    rows: pl.DataFrame, *, samples: int = 2000, seed: int = 42, label: str = ALL_SEGMENTS
) -> dict[str, object]:
    """Treatment against holdout for one group of audience rows: rates, uplift, intervals, p-values."""
    treatment = rows.filter(pl.col("group") == "treatment")
    holdout = rows.filter(pl.col("group") == "holdout")
    n_t, n_h = treatment.height, holdout.height
    x_t, x_h = int(treatment["converted"].sum()), int(holdout["converted"].sum())
    conversion = two_proportion(x_t, n_t, x_h, n_h)
    rev_t = treatment["revenue"].to_numpy().astype(np.float64)
    rev_h = holdout["revenue"].to_numpy().astype(np.float64)
    # The seed mixes in the segment so each segment's resamples are independent yet reproducible.
    revenue = bootstrap_mean_difference(rev_t, rev_h, samples=samples, seed=seed + zlib.crc32(label.encode()))
    rate_t = x_t / n_t if n_t else None
    rate_h = x_h / n_h if n_h else None
    return {
        "n_treatment": n_t,
        "n_holdout": n_h,
        "conversions_treatment": x_t,
        "conversions_holdout": x_h,
        "conversion_treatment": rate_t,
        "conversion_holdout": rate_h,
        "uplift_abs": _finite(conversion.estimate),
        "uplift_ci_low": _finite(conversion.low),
        "uplift_ci_high": _finite(conversion.high),
        "uplift_rel": conversion.estimate / rate_h if rate_h else None,
        "p_value": _finite(conversion.p_value),
        "revenue_per_customer_treatment": float(rev_t.mean()) if n_t else None,
        "revenue_per_customer_holdout": float(rev_h.mean()) if n_h else None,
        "revenue_uplift": _finite(revenue.estimate),
        "revenue_ci_low": _finite(revenue.low),
        "revenue_ci_high": _finite(revenue.high),
        "revenue_p_value": _finite(revenue.p_value),
    }


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def measure_campaign(
    con: duckdb.DuckDBPyConnection, settings: Settings, campaign_id: str, as_of: date
) -> int:
    """Compute and store campaign_results for one campaign (per segment and 'all'); return the row count."""
    rows = outcomes(con, campaign_id)
    window = con.execute(
        "select window_start, window_end from campaigns where campaign_id = ?", [campaign_id]
    ).fetchall()[0]
    samples, seed = settings.campaigns.bootstrap_samples, settings.campaigns.seed
    results = [{"segment_name": ALL_SEGMENTS, **summarise(rows, samples=samples, seed=seed)}]
    for segment in sorted(set(rows["segment_name"].to_list())):
        subset = rows.filter(pl.col("segment_name") == segment)
        results.append(
            {"segment_name": segment, **summarise(subset, samples=samples, seed=seed, label=segment)}
        )
    measured_at = datetime.now().replace(microsecond=0)
    table = pl.DataFrame(results, infer_schema_length=None).with_columns(
        campaign_id=pl.lit(campaign_id),
        measured_at=pl.lit(measured_at),
        measured_as_of=pl.lit(as_of),
        window_start=pl.lit(window[0]),
        window_end=pl.lit(window[1]),
    )
    # Treatment members who converted, per segment and variant: the evidence the next build samples from.
    by_variant = (
        rows.filter((pl.col("group") == "treatment") & pl.col("variant").is_not_null())
        .group_by("segment_name", "variant")
        .agg(n_treatment=pl.len(), conversions=pl.col("converted").sum())
        .with_columns(
            campaign_id=pl.lit(campaign_id), measured_at=pl.lit(measured_at), measured_as_of=pl.lit(as_of)
        )
    )
    with transaction(con):
        # Replacing the campaign's rows (not adding to them) keeps a re-measure from counting twice.
        con.execute("delete from campaign_results where campaign_id = ?", [campaign_id])
        con.execute("delete from campaign_variant_results where campaign_id = ?", [campaign_id])
        insert_frame(con, "campaign_results", table)
        if by_variant.height:
            con.register("variant_rows", by_variant)
            con.execute(
                "insert into campaign_variant_results by name select v.*, c.name from variant_rows as v "
                "join campaigns as c using (campaign_id)"
            )
            con.unregister("variant_rows")
            update_posteriors(con, campaign_id, as_of, measured_at)
    return table.height


def update_posteriors(
    con: duckdb.DuckDBPyConnection, campaign_id: str, as_of: date, updated_at: datetime
) -> int:
    """Recompute the stored posteriors of `campaign_id`'s campaign from all its measured builds; return rows.

    Beta(1 + conversions, 1 + non-conversions) per segment and variant, summed over the builds in
    campaign_variant_results, so running this again gives the same numbers.
    """
    totals = query_frame(
        con,
        """
        -- DuckDB sums bigints to a hugeint, which reaches Python as a Decimal: cast back to count with it.
        select r.name, r.segment_name, r.variant, count(*) as n_builds,
            sum(r.n_treatment)::bigint as n_treatment, sum(r.conversions)::bigint as conversions,
            arg_max(r.campaign_id, c.as_of) as last_campaign_id
        from campaign_variant_results as r
        join campaigns as c using (campaign_id)
        where r.name = (select name from campaigns where campaign_id = $campaign_id)
        group by all
        order by r.segment_name, r.variant
        """,
        {"campaign_id": campaign_id},
    )
    rows = []
    for (segment,), group in totals.group_by("segment_name", maintain_order=True):
        post = [
            Posterior(1.0 + x, 1.0 + n - x, b)
            for n, x, b in group.select("n_treatment", "conversions", "n_builds").iter_rows()
        ]
        best = p_best(post, seed=segment_seed(str(group["name"][0]), str(segment)))
        for r, p, chance in zip(group.iter_rows(named=True), post, best, strict=True):
            low, high = p.interval()
            rows.append(
                r
                | {"alpha": p.alpha, "beta": p.beta, "posterior_mean": p.mean, "ci_low": low, "ci_high": high}
                | {"p_best": chance, "measured_as_of": as_of, "updated_at": updated_at}
            )
    if not rows:
        return 0
    table = pl.DataFrame(rows, infer_schema_length=None)
    con.execute(
        "delete from campaign_variant_posteriors where name = ? and measured_as_of = ?",
        [table["name"][0], as_of],
    )
    insert_frame(con, "campaign_variant_posteriors", table)
    return table.height


def measure_campaigns(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None
) -> list[Measurement]:
    """Measure every campaign whose attribution window ended by `as_of` (default: the last day with orders)."""
    through = as_of or data_through(con)
    done = []
    campaigns = con.execute(
        "select campaign_id, window_end from campaigns order by as_of, campaign_id"
    ).fetchall()
    for cid, window_end in campaigns:
        if through is None or window_end > through:
            done.append(Measurement(str(cid), window_end, "open"))
            continue
        done.append(
            Measurement(str(cid), window_end, "measured", measure_campaign(con, settings, str(cid), through))
        )
    return done


def results(con: duckdb.DuckDBPyConnection, campaign_id: str | None = None) -> pl.DataFrame:
    """Stored campaign results with the campaign's name and channel, for the CLI and the weekly report."""
    return query_frame(
        con,
        """
        select c.name, c.as_of, c.channel, c.offer, r.*
        from campaign_results as r
        join campaigns as c using (campaign_id)
        where $campaign_id is null or r.campaign_id = $campaign_id
        order by c.as_of desc, c.name, r.segment_name = 'all' desc, r.segment_name
        """,
        {"campaign_id": campaign_id},
    )
