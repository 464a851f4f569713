"""The publication gate: tonight's segments are published only on sound data and a sound segmentation.

Failed critical checks on tonight's data or features, one segment holding nearly everyone, a silhouette
or a stability below their floors: the run is stored but not published, and the last good run stays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import duckdb

from segmint.config import SegmentationSettings
from segmint.quality.results import CheckResult, stored

CHECK_REASON = "failed critical check: "


@dataclass(frozen=True)
class SegmentCandidate:
    """Tonight's segmentation as the gate judges it (a segment_runs row)."""

    run_id: str
    n_customers: int
    silhouette: float | None
    stability_ari: float | None  # None for the first run: nothing to be stable against
    max_segment_share: float | None

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, run_id: str) -> SegmentCandidate:
        """Read a segmentation run from segment_runs."""
        row = con.execute(
            "select run_id, n_customers, silhouette, stability_ari, max_segment_share "
            "from segment_runs where run_id = ?",
            [run_id],
        ).fetchone()
        if row is None:
            raise LookupError(f"segment run {run_id} is not in segment_runs")
        return cls(str(row[0]), int(row[1]), row[2], row[3], row[4])


@dataclass
class GateDecision:
    """Publish or not, and why not (each reason one sentence)."""

    publish: bool
    reasons: list[str] = field(default_factory=list)
    kept_run_id: str | None = None  # the published segmentation that stays current
    kept_as_of: date | None = None

    @property
    def segmentation_reasons(self) -> list[str]:
        """The reasons about the segmentation itself, not about tonight's data."""
        return [r for r in self.reasons if not r.startswith(CHECK_REASON)]

    @property
    def failed_checks(self) -> int:
        """How many failed critical checks on tonight's data or features block publication."""
        return sum(r.startswith(CHECK_REASON) for r in self.reasons)

    def summary(self) -> str:
        """One line for logs and the runs ledger."""
        if self.publish:
            return "segments published"
        kept = (
            f"; segments of {self.kept_as_of} (run {self.kept_run_id}) stay published"
            if self.kept_run_id
            else ""
        )
        return "segments not published: " + "; ".join(self.reasons) + kept


def decide(
    failures: list[CheckResult], candidate: SegmentCandidate | None, settings: SegmentationSettings
) -> GateDecision:
    """Judge tonight: failed critical checks and a degenerate segmentation block publication."""
    reasons = [f"{CHECK_REASON}{r.describe()}" for r in failures if r.blocking]
    if candidate is None:
        reasons.append("no segmentation was computed tonight")
    else:
        share = candidate.max_segment_share
        if share is not None and share > settings.max_segment_share:
            reasons.append(
                f"degenerate segmentation: one segment holds {share:.0%} of customers "
                f"(more than {settings.max_segment_share:.0%})"
            )
        if candidate.silhouette is None:
            reasons.append("degenerate segmentation: fewer than two segments (no silhouette)")
        elif candidate.silhouette < settings.min_silhouette:
            reasons.append(
                f"weak segmentation: silhouette {candidate.silhouette:.3f} is below the floor "
                f"{settings.min_silhouette:.2f}"
            )
        ari = candidate.stability_ari
        if ari is not None and ari < settings.min_stability_ari:
            reasons.append(
                f"unstable segmentation: agreement with the last published run (ARI {ari:.2f}) is below "
                f"the floor {settings.min_stability_ari:.2f}"
            )
    return GateDecision(publish=not reasons, reasons=reasons)


def current_published(con: duckdb.DuckDBPyConnection) -> tuple[str, date] | None:
    """The published segmentation that is current: the latest as-of among published runs."""
    row = con.execute(
        """
        select run_id, as_of from segment_runs where published
        order by as_of desc, published_at desc nulls last, created_at desc limit 1
        """
    ).fetchone()
    return (str(row[0]), row[1]) if row else None


def gate(
    con: duckdb.DuckDBPyConnection,
    settings: SegmentationSettings,
    run_id: str,
    as_of: date,
    segment_run_id: str | None,
) -> GateDecision:
    """Decide for tonight's segmentation from the run's stored results, and record the decision."""
    failures = [r for r in stored(con, run_id) if r.blocking]
    candidate = SegmentCandidate.load(con, segment_run_id) if segment_run_id else None
    decision = decide(failures, candidate, settings)
    if not decision.publish:
        kept = current_published(con)
        if kept is not None:
            decision.kept_run_id, decision.kept_as_of = kept
    record_decision(con, run_id, as_of, segment_run_id, decision)
    return decision


def record_decision(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    segment_run_id: str | None,
    decision: GateDecision,
) -> None:
    """Store the decision in publication_decisions."""
    con.execute(
        "insert into publication_decisions values (?, ?, ?, ?, ?, ?, current_localtimestamp())",
        [run_id, as_of, segment_run_id, decision.publish, json.dumps(decision.reasons), decision.kept_run_id],
    )
