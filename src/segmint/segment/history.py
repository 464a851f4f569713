"""Segment history in the warehouse: read the last published run, write a run, the migration query."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl

from segmint.errors import SegmintError
from segmint.resources import sql_file
from segmint.runs import published_run
from segmint.segment.scaling import FeatureTransform, Matrix
from segmint.warehouse import query_frame, query_one


@dataclass(frozen=True)
class RunRef:
    """A segmentation run as history knows it."""

    run_id: str
    as_of: date
    mode: str
    model_run_id: str


@dataclass(frozen=True)
class StoredModel:
    """What a run left for later nights: its transform, centroids (its scaled space) and forest."""

    transform: FeatureTransform
    centroids: dict[int, Matrix]
    forest: bytes | None


def _ref(row: tuple[object, ...] | None) -> RunRef | None:
    if row is None:
        return None
    run_id, as_of, mode, model_run_id = row
    assert isinstance(as_of, date)
    return RunRef(str(run_id), as_of, str(mode), str(model_run_id or run_id))


def previous_published(con: duckdb.DuckDBPyConnection, as_of: date) -> RunRef | None:
    """The latest published run of a night before `as_of` (what tonight is aligned to)."""
    found = published_run(con, before=as_of)
    if found is None:
        return None
    return _ref(
        query_one(
            con, "select run_id, as_of, mode, model_run_id from segment_runs where run_id = ?", [found[0]]
        )
    )


def current_run(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> str | None:
    """The published run in force: the latest published one (of `as_of` itself if given)."""
    found = published_run(con, on=as_of)
    return found[0] if found else None


def load_model(con: duckdb.DuckDBPyConnection, run_id: str) -> StoredModel:
    """The stored transform, centroids and forest of a run."""
    row = query_one(con, "select transform, centroids, forest from segment_models where run_id = ?", [run_id])
    if row is None:
        raise SegmintError(
            f"Segment run {run_id} has no stored model; re-run the segmentation for its night."
        )
    transform = FeatureTransform.from_json(str(row[0]))
    centroids = {int(k): np.asarray(v, dtype=np.float64) for k, v in json.loads(str(row[1])).items()}
    forest = bytes(row[2]) if row[2] is not None else None
    return StoredModel(transform, centroids, forest)


def segment_names(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[int, str]:
    """segment id -> name in a run."""
    rows = con.execute(
        "select segment_id, segment_name from segment_profiles where run_id = ?", [run_id]
    ).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


def next_segment_id(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """An id no segment of an earlier night has carried (ids are not reused, so history stays unambiguous).

    Only earlier nights count, so re-running a night gives its new segments the same ids again.
    """
    row = query_one(
        con,
        """
        select coalesce(max(p.segment_id), 0) + 1 from segment_profiles p
        join segment_runs r using (run_id) where r.as_of < ?
        """,
        [as_of],
    )
    return int(row[0]) if row else 1


def assignments(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """customer_id, segment_id of a run."""
    return query_frame(
        con, "select customer_id, segment_id from segment_assignments where run_id = ?", [run_id]
    )


def run_exists(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Whether segment_runs has this run."""
    return query_one(con, "select 1 from segment_runs where run_id = ?", [run_id]) is not None


def segment_migration(con: duckdb.DuckDBPyConnection, from_run: str, to_run: str) -> pl.DataFrame:
    """Customers and revenue moving between segments from one run to another (sql/analysis)."""
    for run_id in (from_run, to_run):
        if not run_exists(con, run_id):
            raise SegmintError(f"Segment run {run_id} does not exist; list runs with `segmint segments`.")
    con.execute("set variable from_run_id = ?", [from_run])
    con.execute("set variable to_run_id = ?", [to_run])
    return query_frame(con, sql_file("analysis/segment_migration.sql"))
