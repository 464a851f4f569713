"""Stage timings in the run ledger: one run_stages row per stage, written as the stage ends."""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import shops
from segmint.runs import end_stage, enter_stage, start_run
from segmint.warehouse import connect

# The stages a night with segments, predictions and a report goes through, in order.
NIGHT = ["ingest", "check_night", "features", "check_features", "segment", "publication_gate",
         "publish_segments", "conclude_quality", "predict", "report"]  # fmt: skip


def test_each_stage_is_written_when_it_ends_and_not_before(tmp_path: Path) -> None:
    with connect(tmp_path / "wh.duckdb") as con:
        run_id = start_run(con, "nightly", None)
        enter_stage(con, run_id, "ingest")
        assert con.execute("select count(*) from run_stages").fetchall() == [(0,)]
        enter_stage(con, run_id, "features")
        end_stage(con, run_id)
        end_stage(con, run_id)  # nothing open any more: no second row
        rows = con.execute(
            "select stage, finished_at >= started_at, seconds >= 0, peak_rss_mb from run_stages order by started_at"
        ).fetchall()
    assert [r[:3] for r in rows] == [("ingest", True, True), ("features", True, True)]
    # A Python process with DuckDB loaded holds tens of MB at least; a high-water mark never falls.
    assert rows[0][3] > 30 and rows[1][3] >= rows[0][3]


def test_a_real_nightly_records_every_stage_with_its_time_and_peak_memory(
    tmp_path: Path, prefect_api_url: str
) -> None:
    config = shops.write_shop(tmp_path, shops.ShopShape(customers=160, days=120, events=True))
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    command = [sys.executable, "-c", "from segmint.cli import main; main()", "run", "nightly"]
    done = subprocess.run(
        [*command, "--config", str(config), "--as-of", "2026-11-08"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with connect(tmp_path / "warehouse.duckdb") as con:
        run_id, run_seconds, run_finished = con.execute(
            "select run_id, epoch(finished_at - started_at), finished_at from runs where flow = 'nightly'"
        ).fetchall()[0]
        rows = con.execute(
            """
            select stage, run_id, seconds, epoch(finished_at - started_at), peak_rss_mb, started_at, finished_at
            from run_stages order by started_at
            """
        ).fetchall()
    assert [r[0] for r in rows] == NIGHT, done.stdout
    assert {r[1] for r in rows} == {run_id}
    for stage, _, seconds, wall, peak, _, _ in rows:
        assert 0 < seconds < 600 and abs(seconds - wall) < 0.5, (stage, seconds, wall)
        assert 30 < peak < 4096, (stage, peak)
    # Back to back: each stage starts where the one before ended, and the peak never falls.
    assert all(a[6] <= b[5] for a, b in pairwise(rows))
    assert [r[4] for r in rows] == sorted(r[4] for r in rows)
    # The stages cover the run, the report included: the run closes inside that last stage, which may go
    # on for a moment after it (how long depends on the machine's load), so it is bounded by its start.
    assert sum(r[2] for r in rows[:-1]) <= run_seconds + 0.5
    assert rows[-1][5] <= run_finished
