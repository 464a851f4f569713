"""`segmint status`: the last runs, held batches with their replay command, the data's age, the next runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli.conftest import Cli

HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def write_orders(path: Path, day: str, negative: int) -> None:
    lines = [HEADER] + [
        f"{day}-{i},1,C{i % 7},{day} 10:{i:02d}:00,P1,1,{-3.0 if i <= negative else 3.0},EUR"
        for i in range(1, 41)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_status_before_the_first_run(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "segmint.toml").write_text("[schedule]\ntimezone = 'Europe/Berlin'\n")
    done = cli("status")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[0]
        == f"no warehouse yet at {tmp_path / 'data' / 'warehouse.duckdb'}; `segmint run nightly` creates it"
    )
    assert "next nightly-refresh/nightly: " in done.stdout and "(0 2 * * *, Europe/Berlin)" in done.stdout
    state = json.loads(cli("status", "--json").stdout)
    assert state["warehouse_exists"] is False and state["runs"] == [] and state["data"] is None
    assert [s["deployment"] for s in state["schedules"]] == [
        "nightly-refresh/nightly",
        "weekly-report/weekly",
    ]
    assert state["schedules"][0]["next_run"].endswith(("+01:00", "+02:00"))  # ISO, in the shop's timezone


def test_status_shows_runs_held_batches_with_their_replay_command_and_the_data_age(
    cli: Cli, tmp_path: Path
) -> None:
    orders = tmp_path / "orders"
    orders.mkdir()
    write_orders(orders / "2026-11-19.csv", "2026-11-19", negative=0)
    (tmp_path / "segmint.toml").write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n"
        "[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'orders/*.csv'\n"
    )
    assert cli("ingest").returncode == 0
    write_orders(orders / "2026-11-20.csv", "2026-11-20", negative=10)  # a quarter negative: held
    held = cli("ingest")
    assert held.returncode == 1, held.stdout
    run_id = held.stdout.split("segmint replay ")[1].split("`")[0]

    done = cli("status", "--json")
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert [(r["flow"], r["status"]) for r in state["runs"]] == [("ingest", "held"), ("ingest", "completed")]
    assert state["runs"][0]["run_id"] == run_id
    [batch] = state["held_batches"]
    assert batch["run_id"] == run_id and batch["source"] == "shop"
    assert batch["path"].endswith("2026-11-20.csv")
    assert batch["replay"] == f"segmint replay {run_id} --config {tmp_path / 'segmint.toml'}"
    data = state["data"]
    assert (data["noun"], data["newest"], data["max_age_days"]) == ("order", "2026-11-19", 3)
    assert data["age_days"] > 3 and data["stale"] is True  # this data is from 2026-11-19

    text = cli("status").stdout
    assert f"held: 2026-11-20.csv (shop, run {run_id}): " in text
    assert f"  after fixing the export: segmint replay {run_id} --config {tmp_path / 'segmint.toml'}" in text
    assert "data: newest order 2026-11-19, " in text and "too old: the export may have stopped" in text


def test_status_while_a_run_writes_says_so_in_one_line(cli: Cli, tmp_path: Path) -> None:
    import duckdb

    from segmint.warehouse import connect

    (tmp_path / "segmint.toml").write_text("[warehouse]\npath = 'warehouse.duckdb'\n")
    connect(tmp_path / "warehouse.duckdb").close()
    writer = duckdb.connect(str(tmp_path / "warehouse.duckdb"))  # as a nightly run holds it
    try:
        done = cli("status")
    finally:
        writer.close()
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.strip().splitlines()
    # The warehouse's own sentence for a file another process holds (segmint.warehouse.connect).
    assert line.startswith(
        f"error: The warehouse {tmp_path / 'warehouse.duckdb'} is held by process {os.getpid()}"
    )
    assert line.endswith("and retry: this run exits without changes.")
