"""The segmentation gate: whether a run becomes the current segmentation (shape and stability only).

Used by `segmint segment` and inside the nightly, whose own gate (quality.gate.nightly_gate) adds the
data checks; both word a flaw through quality.gate.segmentation_reasons. The last good run stays otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from segmint.config import SegmentationSettings
from segmint.errors import SegmintError
from segmint.quality.gate import Flaw, SegmentationFacts, segmentation_reasons
from segmint.warehouse import query_one

# A further check (data quality, campaign rules): returns None to allow, or one line saying why not.
GateCheck = Callable[[duckdb.DuckDBPyConnection, str], str | None]

# The built-in gate's wording (stored in segment_runs.status_reason), in the order its reasons are listed.
WORDING: dict[Flaw, str] = {
    "too_few_segments": "only {value} segment",
    "low_silhouette": "silhouette {value:.3f} below min_silhouette {limit}",
    "unstable": "stability ARI {value:.3f} below min_stability_ari {limit}",
    "dominant_segment": "largest segment holds {value:.1%} of customers, above max_segment_share {limit:.0%}",
}


@dataclass(frozen=True)
class Publication:
    """The gate's verdict on one run."""

    run_id: str
    published: bool
    reasons: tuple[str, ...]

    @property
    def status_reason(self) -> str:
        """The text stored in segment_runs.status_reason."""
        return "published" if self.published else "held: " + "; ".join(self.reasons)


def gate_reasons(facts: SegmentationFacts, settings: SegmentationSettings) -> list[str]:
    """Why a run must not be published (empty when it may): degenerate or unstable segmentations."""
    return segmentation_reasons(facts, settings, WORDING)


def run_facts(con: duckdb.DuckDBPyConnection, run_id: str) -> SegmentationFacts:
    """Read the gate's inputs for a stored run."""
    row = query_one(
        con,
        "select k, silhouette, stability_ari, max_segment_share from segment_runs where run_id = ?",
        [run_id],
    )
    if row is None:
        raise SegmintError(f"Segment run {run_id} does not exist; list runs with `segmint segments`.")
    return SegmentationFacts(int(row[0]), row[1], row[2], float(row[3]))


def publish_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Make `run_id` the published run of its night; an earlier published run of that night is superseded."""
    con.execute(
        """
        update segment_runs set published = false, status_reason = 'superseded by ' || ?
        where published and run_id <> ? and as_of = (select as_of from segment_runs where run_id = ?)
        """,
        [run_id, run_id, run_id],
    )
    con.execute(
        """
        update segment_runs set published = true, published_at = current_localtimestamp(),
            status_reason = 'published'
        where run_id = ?
        """,
        [run_id],
    )


def hold_run(con: duckdb.DuckDBPyConnection, run_id: str, reasons: Sequence[str]) -> None:
    """Record why a run is not published (it stays in history; the last published run stays current)."""
    con.execute(
        "update segment_runs set published = false, status_reason = ? where run_id = ?",
        [Publication(run_id, False, tuple(reasons)).status_reason, run_id],
    )


def decide_publication(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    settings: SegmentationSettings,
    checks: Sequence[GateCheck] = (),
) -> Publication:
    """Run the built-in gate and any further checks on a stored run, then publish it or hold it."""
    reasons = gate_reasons(run_facts(con, run_id), settings)
    for check in checks:
        reason = check(con, run_id)
        if reason:
            reasons.append(reason)
    if reasons:
        hold_run(con, run_id, reasons)
    else:
        publish_run(con, run_id)
    return Publication(run_id, not reasons, tuple(reasons))
