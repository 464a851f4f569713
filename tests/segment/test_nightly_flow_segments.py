"""The nightly flow as a real Prefect run: features and segments are computed, gated and published."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from segmint.cli import load_flow_module
from segmint.synth.generate import generate
from segmint.warehouse import connect


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_the_nightly_flow_publishes_segments(tmp_path: Path) -> None:
    generate(tmp_path, customers=800, days=120, end=date(2026, 6, 30), seed=5, fmt="parquet", split="none")
    config = tmp_path / "segmint.toml"
    nightly = load_flow_module("nightly").nightly
    outcome = nightly(config=str(config), as_of="2026-06-30")
    assert outcome.status == "completed", outcome.messages
    assert outcome.features is not None and outcome.features.customers == 800
    assert outcome.segmentation is not None and outcome.segments is not None and outcome.segments.publish
    with connect(tmp_path / "warehouse.duckdb") as con:
        runs = con.execute("select run_id, as_of, published, status_reason from segment_runs").fetchall()
    # the segmentation carries the nightly run's id, so runs and segment_runs join
    assert runs == [(outcome.run_id, date(2026, 6, 30), True, "published")]
    # In a subprocess: capturing stdout here would leave Prefect's log handler on a closed stream.
    shown = subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", "segments", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"Segments of run {outcome.run_id} for 2026-06-30: 800 customers, published" in shown.stdout
