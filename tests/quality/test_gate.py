"""The publication gate on hand-made segmentation runs and check results."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

import duckdb
import pytest

from segmint.config import SegmentationSettings
from segmint.quality.gate import SegmentCandidate, decide, nightly_gate
from segmint.quality.results import CheckResult, record
from segmint.quality.suites import Severity
from segmint.runs import published_run

FLOORS = SegmentationSettings(min_silhouette=0.10, min_stability_ari=0.50, max_segment_share=0.90)


SOUND = SegmentCandidate("seg-2", 1000, silhouette=0.31, stability_ari=0.82, max_segment_share=0.35)


def candidate(**kw: Any) -> SegmentCandidate:
    return replace(SOUND, **kw)


def failed_check(severity: Severity = "critical") -> CheckResult:
    return CheckResult(
        "order_lines",
        "/in/orders_2026-11-20.csv",
        "unit_price_not_negative",
        "Unit prices are not negative",
        severity,
        False,
        14,
        88,
    )


def test_a_sound_night_publishes() -> None:
    assert decide([], candidate(), FLOORS).publish
    assert decide([failed_check("warning")], candidate(stability_ari=None), FLOORS).publish  # first run


@pytest.mark.parametrize(
    ("failures", "kw", "reason"),
    [
        (
            [failed_check()],
            {},
            "failed critical check: order_lines: Unit prices are not negative (14 of 88 rows, 15.9%)",
        ),
        ([], {"max_segment_share": 0.95}, "one segment holds 95% of customers (more than 90%)"),
        ([], {"silhouette": 0.04}, "silhouette 0.040 is below the floor 0.10"),
        ([], {"silhouette": None}, "fewer than two segments (no silhouette)"),
        (
            [],
            {"stability_ari": 0.2},
            "agreement with the last published run (ARI 0.20) is below the floor 0.50",
        ),
    ],
)
def test_each_reason_blocks_publication(
    failures: list[CheckResult], kw: dict[str, object], reason: str
) -> None:
    decision = decide(failures, candidate(**kw), FLOORS)
    assert not decision.publish
    assert len(decision.reasons) == 1 and reason in decision.reasons[0]


def insert_run(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: str, published: bool, max_segment_share: float = 0.4
) -> None:
    con.execute(
        """
        insert into segment_runs by name
        select $run as run_id, $day::date as as_of, $day::date + interval 3 hour as created_at,
            'kmeans' as algorithm, 'recluster' as mode, 4 as k, 0.3 as silhouette, 1000 as n_customers,
            0.8 as stability_ari, $share as max_segment_share, '[]' as features, '{}' as settings,
            $published as published, case when $published then $day::date + interval 3 hour end as published_at,
            '' as status_reason
        """,
        {"run": run_id, "day": as_of, "share": max_segment_share, "published": published},
    )


def test_gate_keeps_yesterdays_segments_published_and_records_why(duck: duckdb.DuckDBPyConnection) -> None:
    insert_run(duck, "seg-1", "2026-11-19", True)
    insert_run(duck, "seg-2", "2026-11-20", False, max_segment_share=0.97)
    record(duck, "night-2", [failed_check()])
    decision = nightly_gate(duck, FLOORS, "night-2", date(2026, 11, 20), "seg-2")
    assert not decision.publish
    assert (decision.kept_run_id, decision.kept_as_of) == ("seg-1", date(2026, 11, 19))
    assert len(decision.reasons) == 2
    assert "segments of 2026-11-19 (run seg-1) stay published" in decision.summary()
    stored = duck.execute(
        "select segment_run_id, published, reasons, kept_run_id from publication_decisions"
    ).fetchall()
    assert stored == [("seg-2", False, json.dumps(decision.reasons), "seg-1")]
    assert published_run(duck) == ("seg-1", date(2026, 11, 19))


def test_gate_without_a_segmentation_says_so(duck: duckdb.DuckDBPyConnection) -> None:
    decision = nightly_gate(duck, FLOORS, "night-1", date(2026, 11, 20), None)
    assert decision.reasons == ["no segmentation was computed tonight"] and decision.kept_run_id is None
