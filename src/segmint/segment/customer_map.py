"""The customer map of a segment run: a deterministic sample of its members, stratified by segment, drawn
along the first two principal components of the space they were clustered in, and stored
(`segment_maps`, `segment_map_points`) for the report to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl
from sklearn.decomposition import PCA

from segmint.segment.scaling import FeatureTransform
from segmint.warehouse import insert_frame, insert_row, query_frame, query_one

# The map draws at most this many customers (segmentation.map_sample) beside each segment's floor: each
# segment keeps its share of the sample, and at least MIN_SEGMENT_POINTS.
MAP_SAMPLE = 4000
MIN_SEGMENT_POINTS = 30
# The order points are sampled in within a segment, and read back in: deterministic, and unrelated to the ids.
POINT_ORDER = "segment_id, hash(customer_id), customer_id"

_POINTS_SCHEMA = {"customer_id": pl.String, "segment_id": pl.Int32, "x": pl.Float64, "y": pl.Float64}


@dataclass(frozen=True)
class CustomerMap:
    """A run's map: the sampled customers' coordinates, or the reason it could not be drawn."""

    n_total: int
    points: pl.DataFrame  # customer_id, segment_id, x, y, in POINT_ORDER; empty when not drawn
    explained: tuple[float, float] = (0.0, 0.0)  # share of the sample's variance along each axis
    unavailable_reason: str | None = None

    @property
    def n_sampled(self) -> int:
        """How many customers the map draws."""
        return self.points.height


def _not_drawn(n_total: int, reason: str) -> CustomerMap:
    return CustomerMap(n_total, pl.DataFrame(schema=_POINTS_SCHEMA), unavailable_reason=reason)


def _sample(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    features: tuple[str, ...],
    sample: int,
    total: int,
) -> pl.DataFrame:
    """The sampled members with their features of `as_of`, in POINT_ORDER."""
    cols = ", ".join(f'f."{x}"::double as "{x}"' for x in features)
    return query_frame(
        con,
        f"""
        with members as (
            select a.customer_id, a.segment_id,
                row_number() over (partition by a.segment_id order by hash(a.customer_id), a.customer_id) as rn,
                count(*) over (partition by a.segment_id) as seg_size
            from segment_assignments as a where a.run_id = $run
        )
        select m.customer_id, m.segment_id::integer as segment_id, {cols}
        from members as m
        join customer_features as f on f.customer_id = m.customer_id and f.as_of = $as_of
        where m.rn <= greatest($floor, ceil($sample * m.seg_size / $total))
        order by m.segment_id, m.rn
        """,
        {"run": run_id, "as_of": as_of, "sample": sample, "total": total, "floor": MIN_SEGMENT_POINTS},
    )


def compute_map(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    transform: FeatureTransform,
    sample: int = MAP_SAMPLE,
) -> CustomerMap:
    """Draw the map of a stored run's members in the space `transform` clustered them in (its features,
    fills for missing values, logs and scales), so a customer who never ordered is not drawn as the most
    recent one."""
    features = transform.features
    row = query_one(con, "select count(*) from segment_assignments where run_id = ?", [run_id])
    total = int(row[0]) if row else 0
    if len(features) < 2:
        return _not_drawn(total, "Not enough customer features to draw the customer map.")
    if total < 3:
        return _not_drawn(total, "Too few customers to draw the customer map.")
    members = _sample(con, run_id, as_of, features, sample, total)
    if members.height < 3:
        return _not_drawn(total, "Customer features for the segmented night are missing.")
    scaled = transform.apply(members)
    # A feature that does not vary (no clickstream: every visit count 0) carries nothing to draw, and
    # PCA over only such columns divides by zero: those columns are left out of the map.
    varying = np.nan_to_num(scaled).std(axis=0) > 1e-12
    if not varying.any():
        return _not_drawn(
            total, "The customer map needs features that vary between customers; here none does."
        )
    pca = PCA(n_components=min(2, int(varying.sum())), random_state=0)
    xy = pca.fit_transform(np.nan_to_num(scaled[:, varying]))
    if xy.shape[1] < 2:  # one varying feature: drawn along the first axis
        xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])
    ratio = pca.explained_variance_ratio_
    points = members.select("customer_id", "segment_id").with_columns(
        pl.Series("x", xy[:, 0], dtype=pl.Float64), pl.Series("y", xy[:, 1], dtype=pl.Float64)
    )
    return CustomerMap(total, points, (float(ratio[0]), float(ratio[1]) if len(ratio) > 1 else 0.0))


def store_map(con: duckdb.DuckDBPyConnection, run_id: str, drawn: CustomerMap) -> None:
    """Store a run's map (replacing one stored before for the run)."""
    con.execute("delete from segment_map_points where run_id = ?", [run_id])
    con.execute("delete from segment_maps where run_id = ?", [run_id])
    insert_row(
        con,
        "segment_maps",
        {
            "run_id": run_id,
            "n_sampled": drawn.n_sampled,
            "n_total": drawn.n_total,
            "explained_x": None if drawn.unavailable_reason else drawn.explained[0],
            "explained_y": None if drawn.unavailable_reason else drawn.explained[1],
            "unavailable_reason": drawn.unavailable_reason,
        },
    )
    if drawn.n_sampled:
        insert_frame(con, "segment_map_points", drawn.points.with_columns(pl.lit(run_id).alias("run_id")))


def draw_stored_run(con: duckdb.DuckDBPyConnection, run_id: str, sample: int = MAP_SAMPLE) -> CustomerMap:
    """Draw and store the map of a run already stored, with its clustering's transform (its own, or the
    re-cluster's it was assigned by); a run without a stored model gets the reason instead."""
    row = query_one(
        con,
        """
        select r.as_of, m.transform from segment_runs as r
        left join segment_models as m on m.run_id = coalesce(r.model_run_id, r.run_id)
        where r.run_id = ?
        """,
        [run_id],
    )
    if row is None:
        raise ValueError(f"no segment run {run_id}")
    if row[1] is None:
        total = query_one(con, "select count(*) from segment_assignments where run_id = ?", [run_id])
        drawn = _not_drawn(int(total[0]) if total else 0, "The segments' model was not stored.")
    else:
        drawn = compute_map(con, run_id, row[0], FeatureTransform.from_json(str(row[1])), sample)
    store_map(con, run_id, drawn)
    return drawn
