"""The `segmint segments` view: a run's segments as a terminal table, with who moved since the last run."""

from __future__ import annotations

import json
import re

import duckdb
import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from segmint.errors import SegmintError
from segmint.segment.history import current_run, segment_migration
from segmint.segment.profile import LABELS, demographics_line
from segmint.segment.scaling import DroppedFeature, dropped_message
from segmint.warehouse import query_frame, query_one, table_columns


def _num(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "n/a"


# A segment is defined by its defining features (segment_profiles.defining_features: the largest z-scores,
# strongest first), at most this many: the weekly report names the same ones.
DEFINED_BY = 3


def defined_by(defining_json: str | None) -> list[str]:
    """The features a profile's defining_features names first: the ones `segments` and the report show."""
    return [str(item["feature"]) for item in json.loads(defining_json or "[]")[:DEFINED_BY]]


def not_published(con: duckdb.DuckDBPyConnection) -> str:
    """Why there is no published segmentation: the latest nightly's own reason, else that none ran."""
    row = con.execute(
        "select as_of, status, message from runs where flow = 'nightly' and as_of is not null "
        "order by started_at desc limit 1"
    ).fetchone()
    if row is None:
        return "No segmentation has been published yet; run `segmint run nightly` first."
    as_of, status, message = row
    found = re.search(r"segments not computed: (.*?)(?:; [a-z ]+: |$)", str(message or ""))
    why = found.group(1).rstrip(".") if found else f"the nightly of {as_of} ended {status}"
    held = con.execute(
        "select as_of, status_reason from segment_runs where not published order by created_at desc limit 1"
    ).fetchone()
    if held is not None and held[1]:
        why = f"the segments computed for {held[0]} were held back ({held[1]})"
    return f"No segmentation has been published yet: {why} (see `segmint status`)."


def print_segments(console: Console, con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> str:
    """Print a run's segments (default: the published run in force); return the run id shown."""
    run_id = run_id or current_run(con)
    if run_id is None:
        raise SegmintError(not_published(con))
    run = query_one(
        con,
        """
        select as_of, algorithm, mode, k, k_criterion, silhouette, davies_bouldin, calinski_harabasz,
            n_customers, previous_run_id, stability_ari, kept_segment_share, published, status_reason
        from segment_runs where run_id = ?
        """,
        [run_id],
    )
    if run is None:
        raise SegmintError(
            f"Segment run {run_id} does not exist; run `segmint segments` to see the current one."
        )
    (as_of, algorithm, mode, k, criterion, sil, db, ch, n, previous, ari, kept, published, reason) = run
    state = ("published", "green") if published else (str(reason), "yellow")
    console.print(
        Text.assemble(f"Segments of run {run_id} for {as_of}: {n:,} customers, ", state), highlight=False
    )
    console.print(
        f"{algorithm} ({mode}), k={k}: {criterion}; silhouette {_num(sil)}, Davies-Bouldin {_num(db)}, "
        f"Calinski-Harabasz {_num(ch, 0)}",
        highlight=False,
    )
    dropped = query_one(con, "select dropped_features from segment_runs where run_id = ?", [run_id])
    if dropped and dropped[0]:
        left_out = [DroppedFeature(str(d["feature"]), str(d["reason"])) for d in json.loads(str(dropped[0]))]
        if left_out:
            console.print(dropped_message(left_out), highlight=False)
    if previous:
        console.print(
            f"against run {previous}: adjusted Rand index {_num(ari)}, "
            f"{_num((kept or 0) * 100, 1)}% of customers kept their segment",
            highlight=False,
        )
    profiles = query_frame(
        con,
        f"""
        select segment_id, segment_name, size, share, revenue_share, description, defining_features,
            top_features, rf_f1, lineage,
            {_optional(con, "mean_rating_mean", "mean_is_detractor", "median_age", "demographics")}
        from segment_profiles where run_id = ? order by size desc, segment_id
        """,
        [run_id],
    )
    console.print(_profile_table(profiles, new_marks=bool(previous)))
    for row in profiles.iter_rows(named=True):
        console.print(
            Text.assemble((row["segment_name"], "bold"), f": {row['description']}"), highlight=False
        )
        if mix := demographics_line(row["median_age"], row["demographics"]):
            console.print(f"  who: {mix}", highlight=False)
    if previous:
        _print_moves(console, con, previous, run_id)
    return run_id


def _profile_table(profiles: pl.DataFrame, *, new_marks: bool) -> Table:
    """The segments as a table; `new_marks` flags segments that appeared since the previous run."""
    table = Table(title="Segments", title_justify="left")
    # Satisfaction only for a shop with feedback: the profiles' mean rating and detractor share of raters.
    rated = profiles["mean_rating_mean"].drop_nulls().len() > 0
    columns = [
        ("id", "right"),
        ("segment", "left"),
        ("customers", "right"),
        ("share", "right"),
        ("revenue", "right"),
        ("forest F1", "right"),
        ("defined by", "left"),
    ]
    if rated:
        columns[5:5] = [("mean rating", "right"), ("detractors", "right")]
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in profiles.iter_rows(named=True):
        revenue = row["revenue_share"]
        detractors = row["mean_is_detractor"]
        satisfaction = (
            [_num(row["mean_rating_mean"], 1), f"{detractors:.0%}" if detractors is not None else "n/a"]
            if rated
            else []
        )
        table.add_row(
            str(row["segment_id"]),
            row["segment_name"] + (" (new)" if row["lineage"] == "appeared" and new_marks else ""),
            f"{row['size']:,}",
            f"{row['share']:.1%}",
            f"{revenue:.1%}" if revenue is not None else "n/a",
            *satisfaction,
            _num(row["rf_f1"], 2),
            ", ".join(LABELS.get(f, f) for f in defined_by(row["defining_features"])),
        )
    return table


def _optional(con: duckdb.DuckDBPyConnection, *columns: str) -> str:
    # A warehouse opened read-only before migration 014 (feedback) or 019 (demographics) lacks them.
    present = table_columns(con, "segment_profiles")
    return ", ".join(c if c in present else f"null as {c}" for c in columns)


def _print_moves(console: Console, con: duckdb.DuckDBPyConnection, previous: str, run_id: str) -> None:
    moves = segment_migration(con, previous, run_id).filter(~pl.col("stayed"))
    if moves.height == 0:
        console.print("Nobody changed segment since the previous run.")
        return
    table = Table(title="Moves since the previous run", title_justify="left")
    for column in ("from", "to", "customers", "their revenue"):
        table.add_column(column, justify="right" if column in {"customers", "their revenue"} else "left")
    for row in moves.sort("customers", descending=True).head(10).iter_rows(named=True):
        table.add_row(
            row["from_segment_name"] or "(new customer)",
            row["to_segment_name"] or "(gone)",
            f"{row['customers']:,}",
            f"{float(row['revenue_after'] or row['revenue_before'] or 0):,.2f}",
        )
    console.print(table)


def segments_summary(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> dict[str, object]:
    """A run's segments as plain data (default: the published run in force), for `segmint segments --json`."""
    run_id = run_id or current_run(con)
    if run_id is None:
        raise SegmintError(not_published(con))
    runs = query_frame(
        con,
        """
        select run_id, as_of, algorithm, mode, k, k_criterion, silhouette, davies_bouldin, calinski_harabasz,
            n_customers, previous_run_id, stability_ari, kept_segment_share, published, status_reason
        from segment_runs where run_id = ?
        """,
        [run_id],
    )
    if runs.height == 0:
        raise SegmintError(
            f"Segment run {run_id} does not exist; run `segmint segments` to see the current one."
        )
    profiles = query_frame(
        con,
        f"""
        select segment_id, segment_name, size, share, revenue_share, description, defining_features,
            top_features, rf_f1, lineage, {_optional(con, "median_age", "demographics")}
        from segment_profiles where run_id = ? order by size desc, segment_id
        """,
        [run_id],
    )
    segments = []
    for row in profiles.iter_rows(named=True):
        top = json.loads(row.pop("top_features") or "[]")
        defining = defined_by(row.pop("defining_features"))
        row["demographics"] = json.loads(row["demographics"]) if row["demographics"] else None
        # defined_by: what sets the segment apart (as the report says); the forest's: what tells it apart.
        segments.append(
            {**row, "defined_by": defining, "forest_top_features": [str(item["feature"]) for item in top[:3]]}
        )
    return {**runs.row(0, named=True), "segments": segments}
