"""How well segments predict what customers do next: eta squared of next-period revenue by segment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import numpy.typing as npt

from segmint.errors import SegmintError
from segmint.features import require_features
from segmint.warehouse import query_frame


@dataclass(frozen=True)
class RevenueEta:
    """Eta squared of log(1 + next-period revenue) for a grouping of one night's customers."""

    eta_squared: float
    groups: int
    customers: int


def eta_squared(values: npt.ArrayLike, groups: npt.ArrayLike) -> float:
    """Between-group sum of squares over total sum of squares (0 when the values do not vary)."""
    y = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups)
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    _, inverse = np.unique(g, return_inverse=True)
    sums = np.bincount(inverse, weights=y)
    counts = np.bincount(inverse)
    between = float((counts * (sums / counts - y.mean()) ** 2).sum())
    return between / total


_NEXT_REVENUE = """
    with customers as (
        select customer_id, rfm_segment from customer_features where as_of = $as_of
    ),
    later as (
        -- net revenue (cancellations negative) after the end of the as-of day, within the window
        select customer_id, sum(revenue)::double as revenue
        from orders
        where customer_id is not null
            and ordered_at >= $as_of::timestamp + interval 1 day
            and ordered_at < $as_of::timestamp + interval 1 day + to_days(cast($days as integer))
        group by customer_id
    ),
    final as (
        select c.customer_id, c.rfm_segment, ln(1 + greatest(coalesce(l.revenue, 0), 0)) as y
        from customers as c left join later as l using (customer_id)
    )
    select * from final
"""


def revenue_eta_squared(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date | None = None, days: int = 90
) -> RevenueEta:
    """How much of the next `days` days' log(1 + revenue) per customer the run's segments explain.

    Every customer of the night's features counts; one without a later order has revenue 0.
    """
    row = con.execute("select as_of from segment_runs where run_id = ?", [run_id]).fetchall()
    if not row:
        raise SegmintError(f"Segment run {run_id} does not exist; list runs with `segmint segments`.")
    night: date = as_of or row[0][0]
    require_features(con, night)
    frame = query_frame(
        con,
        f"""
        with revenue as ({_NEXT_REVENUE})
        select r.y, a.segment_id
        from revenue as r
        join segment_assignments as a on a.customer_id = r.customer_id and a.run_id = $run
        order by r.customer_id
        """,
        {"as_of": night, "days": days, "run": run_id},
    )
    if frame.height == 0:
        raise SegmintError(f"Segment run {run_id} assigned none of the customers with features for {night}.")
    return RevenueEta(
        eta_squared(frame["y"].to_numpy(), frame["segment_id"].to_numpy()),
        int(frame["segment_id"].n_unique()),
        frame.height,
    )


def rfm_eta_squared(con: duckdb.DuckDBPyConnection, as_of: date, days: int = 90) -> RevenueEta:
    """The same measure for the night's RFM groups (customer_features.rfm_segment; no group is one group)."""
    require_features(con, as_of)
    frame = query_frame(con, _NEXT_REVENUE, {"as_of": as_of, "days": days})
    groups = frame["rfm_segment"].fill_null("(none)").to_numpy()
    return RevenueEta(
        eta_squared(frame["y"].to_numpy(), groups), int(frame["rfm_segment"].n_unique()), frame.height
    )
