"""Two nightly runs started at once (real processes, real Prefect server): exactly one writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from segmint.synth.generate import generate
from segmint.warehouse import connect


@pytest.mark.slow
def test_two_nightly_runs_at_once_never_both_write(tmp_path: Path, prefect_api_url: str) -> None:
    shop = tmp_path / "shop"
    generate(shop, customers=1000, days=180, end=date(2026, 11, 8), seed=11)
    config = shop / "segmint.toml"
    source_files = sorted(p for p in shop.rglob("*.csv") if "truth" not in p.parts)
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    command = [sys.executable, "-c", "from segmint.cli import main; main()", "run", "nightly",
               "--config", str(config), "--as-of", "2026-11-08"]  # fmt: skip
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]  # fmt: skip
    ended: dict[int, float] = {}
    while len(ended) < 2:
        for i, p in enumerate(procs):
            if i not in ended and p.poll() is not None:
                ended[i] = time.monotonic()
        time.sleep(0.05)
    outputs = [p.communicate(timeout=60) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 3], outputs
    winner, loser = codes.index(0), codes.index(3)
    warehouse = shop / "warehouse.duckdb"
    # The command's last word is one sentence (Prefect logs the failed flow run above it).
    assert outputs[loser][1].strip().splitlines()[-1] == (
        f"error: Another segmint run is writing {warehouse}; "
        "this run exits without changes, try again when it has finished."
    )
    # The loser gave up while the winner was still writing: the two really ran at the same time.
    assert ended[loser] < ended[winner]
    assert (
        outputs[winner][0].strip().splitlines()[-1]
        == f"report: {shop / 'reports' / '2026-11-08' / 'report.html'}"
    )
    with connect(warehouse) as con:
        runs = con.execute("select flow, status from runs").fetchall()
        loads = con.execute(
            "select count(*), count(distinct path), count(distinct run_id) from loaded_files"
        ).fetchone()
        orders = con.execute("select count(*), count(distinct order_id) from orders").fetchone()
    assert runs == [("nightly", "completed")]
    assert loads == (len(source_files), len(source_files), 1)
    assert orders is not None and orders[0] == orders[1] > 0
