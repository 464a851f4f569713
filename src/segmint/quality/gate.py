"""The nightly gate: tonight's segments are published only on sound data and a sound segmentation.

It runs in the nightly flow after validation and segmentation; segment.publish is the segmentation's own
gate (shape and stability only), which the nightly gate includes through segmentation_reasons.

Failed critical checks on tonight's data or features, one segment holding nearly everyone, a silhouette
or a stability below their floors: the run is stored but not published, and the last good run stays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import duckdb

from segmint.config import SegmentationSettings
from segmint.quality.results import CheckResult, stored
from segmint.runs import published_run

CHECK_REASON = "failed critical check: "

# The degenerate-segmentation rules. Both the nightly gate (here) and the gate of a stand-alone
# `segment_customers` run (segment.publish) apply them; each words the reasons its own way.
Flaw = Literal["dominant_segment", "too_few_segments", "low_silhouette", "unstable"]


@dataclass(frozen=True)
class SegmentationFacts:
    """What the degenerate-segmentation rules look at (from a segment_runs row)."""

    k: int | None  # None when not read: a missing silhouette (k < 2, see cluster.scores) stands for it
    silhouette: float | None
    stability_ari: float | None  # None for the first run: nothing to be stable against
    max_segment_share: float | None


def segmentation_reasons(
    facts: SegmentationFacts, settings: SegmentationSettings, wording: Mapping[Flaw, str]
) -> list[str]:
    """Why a segmentation is degenerate or unstable, worded by `wording` and in its order (empty if sound).

    Each template is formatted with `value` (the measured k, share, silhouette or ARI) and `limit`
    (the setting it breaks).
    """
    flaws: dict[Flaw, tuple[float | None, float]] = {}
    share = facts.max_segment_share
    if share is not None and share > settings.max_segment_share:
        flaws["dominant_segment"] = (share, settings.max_segment_share)
    too_few = facts.silhouette is None if facts.k is None else facts.k < 2
    if too_few:
        flaws["too_few_segments"] = (facts.k, 2)
    if facts.silhouette is not None and facts.silhouette < settings.min_silhouette:
        flaws["low_silhouette"] = (facts.silhouette, settings.min_silhouette)
    ari = facts.stability_ari
    if ari is not None and ari < settings.min_stability_ari:
        flaws["unstable"] = (ari, settings.min_stability_ari)
    return [
        template.format(value=flaws[flaw][0], limit=flaws[flaw][1])
        for flaw, template in wording.items()
        if flaw in flaws
    ]


# The nightly gate's wording, in the order its reasons are listed.
NIGHTLY_WORDING: dict[Flaw, str] = {
    "dominant_segment": "degenerate segmentation: one segment holds {value:.0%} of customers "
    "(more than {limit:.0%})",
    "too_few_segments": "degenerate segmentation: fewer than two segments (no silhouette)",
    "low_silhouette": "weak segmentation: silhouette {value:.3f} is below the floor {limit:.2f}",
    "unstable": "unstable segmentation: agreement with the last published run (ARI {value:.2f}) is below "
    "the floor {limit:.2f}",
}


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

    @property
    def facts(self) -> SegmentationFacts:
        """The inputs of the degenerate-segmentation rules (k is not read: no silhouette means k < 2)."""
        return SegmentationFacts(None, self.silhouette, self.stability_ari, self.max_segment_share)


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
        reasons += segmentation_reasons(candidate.facts, settings, NIGHTLY_WORDING)
    return GateDecision(publish=not reasons, reasons=reasons)


def nightly_gate(
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
        kept = published_run(con)
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
        "insert into publication_decisions (run_id, as_of, segment_run_id, published, reasons, kept_run_id, decided_at) "
        "values (?, ?, ?, ?, ?, ?, current_localtimestamp())",
        [run_id, as_of, segment_run_id, decision.publish, json.dumps(decision.reasons), decision.kept_run_id],
    )
