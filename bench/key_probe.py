"""How a file's already-loaded keys are found in the warehouse, with sequential ids and with random UUIDs.

    .venv/bin/python bench/key_probe.py --keys 10000000

An events table of `--keys` rows is loaded a million rows per transaction (as nightly files are), with
the ids of bench/ingest.py; a batch of a million keys repeats the last half million loaded and adds half a
million new ones (an overlapping daily export). Then, side by side:
  1. the probe segmint runs: the stored keys semi-joined with the batch's (DuckDB builds the hash table on
     the batch, the small side, and pushes the batch's min/max key into the scan of the stored keys);
  2. the same with the compared columns fetched, as the comparison with the stored rows does;
  3. an ART index on the key (what a primary key builds): its size and build time, whether the planner
     uses it for the probe, and what it costs the nightly insert of a million rows and an
     `insert ... on conflict do nothing` of the batch (the one statement that looks keys up in it).
For each probe DuckDB's detailed profile gives the row groups of the key column the scan read, of all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

_spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
assert _spec is not None and _spec.loader is not None
bench_ingest = importlib.util.module_from_spec(_spec)
sys.modules["bench_ingest"] = bench_ingest  # its dataclasses look their module up
_spec.loader.exec_module(bench_ingest)

STEP = 1_000_000


def _rows(ids: str, start: int, stop: int) -> str:
    key, customer = bench_ingest._ids("events", ids)
    return f"""
        select {key} as event_id, timestamp '2024-01-01' + to_seconds(i * 6) as occurred_at,
            {customer} as customer_id, round(1 + (hash(i * 7) % 9000) / 100.0, 2)::decimal(18, 4) as price
        from range({start}, {stop}) t(i)"""


def _scan(con: duckdb.DuckDBPyConnection, sql: str, profile: Path) -> tuple[float, str]:
    """Best of three seconds, and the row groups the scan of `events` read, from the detailed profile."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - started)
    con.execute("pragma enable_profiling = 'json'")
    con.execute(f"pragma profiling_output = '{profile}'")
    con.execute("set profiling_mode = 'detailed'")
    con.execute(sql).fetchall()
    con.execute("pragma disable_profiling")
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("type") == "TABLE_SCAN" and "events" in json.dumps(node.get("extra_info", {})):
            found.append(f"{node.get('row_groups_scanned')} of {node.get('total_row_groups_to_scan')}")
        for child in node.get("children", []):
            walk(child)

    document = json.loads(profile.read_text())
    for node in document.get("children") or document.get("operator") or []:
        walk(node)
    plan = str(con.execute(f"explain {sql}").fetchall()[0][1])
    uses = "index scan" if "Index Scan" in plan or "INDEX" in plan else "hash join"
    return best, f"{', '.join(found) or '?'} row groups ({uses})"


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - started


def _rolled_back(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """Best of two seconds of a statement run in a transaction that is rolled back."""
    best = float("inf")
    for _ in range(2):
        con.execute("begin")
        best = min(best, _timed(con, sql))
        con.execute("rollback")
    return best


def run(ids: str, keys: int, folder: Path) -> None:
    """Print the probes' rows of the table for `ids`."""
    database = folder / f"keys_{ids}.duckdb"
    con = duckdb.connect(str(database), config={"memory_limit": "2GB"})
    con.execute(
        "create table events (event_id varchar not null, occurred_at timestamp, customer_id varchar, "
        "price decimal(18, 4))"
    )
    started = time.perf_counter()
    for start in range(0, keys, STEP):
        con.execute(f"insert into events {_rows(ids, start, min(keys, start + STEP))}")
    load = time.perf_counter() - started
    con.execute("checkpoint")
    half = STEP // 2
    con.execute(f"create temp table batch as {_rows(ids, keys - half, keys + half)}")
    profile = folder / "profile.json"
    semi = "select count(*) from events where event_id in (select event_id from batch)"
    joined = (
        "select count(*), max(s.occurred_at), max(s.customer_id), max(s.price) "
        "from events s join batch b using (event_id)"
    )
    for name, sql in (("semi join (segmint's probe)", semi), ("join, compared columns fetched", joined)):
        seconds, scanned = _scan(con, sql, profile)
        print(f"| {ids} | {keys:,} | {name} | {seconds:.2f} | {scanned} | |")
    # The nightly insert of a million new rows without an index, then with one.
    fresh = _rows(ids, keys + STEP, keys + 2 * STEP)
    plain = _rolled_back(con, f"insert into events {fresh}")
    size = database.stat().st_size
    build = _timed(con, "create index events_key on events (event_id)")
    memory = con.execute(
        "select sum(memory_usage_bytes) from duckdb_memory() where tag = 'ART_INDEX'"
    ).fetchone()
    con.execute("checkpoint")
    art_mb = max((memory[0] or 0) if memory else 0, database.stat().st_size - size) / 1e6
    seconds, scanned = _scan(con, semi, profile)
    print(
        f"| {ids} | {keys:,} | semi join with an ART index on the key | {seconds:.2f} | {scanned} "
        f"| index built in {build:.1f} s, {art_mb:,.0f} MB (in memory, or added to the file) |"
    )
    indexed = _rolled_back(con, f"insert into events {fresh}")
    print(
        f"| {ids} | {keys:,} | insert of 1M new rows | {indexed:.2f} | | without the index {plain:.2f} s; "
        f"the {keys:,} rows loaded in {load:.1f} s |"
    )
    con.execute("drop index events_key")
    con.execute("create unique index events_unique on events (event_id)")
    conflict = _rolled_back(con, "insert into events select * from batch on conflict do nothing")
    print(
        f"| {ids} | {keys:,} | insert of the batch, on conflict do nothing (ART lookups) | {conflict:.2f} "
        "| none (the index) | |"
    )
    con.close()
    for leftover in folder.glob(f"keys_{ids}.duckdb*"):
        leftover.unlink()


def main() -> None:
    """Run both kinds of ids and print a Markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=10_000_000, help="keys loaded before the probe")
    parser.add_argument("--ids", choices=("seq", "uuid"), action="append", help="default: both")
    args = parser.parse_args()
    print(f"duckdb {duckdb.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("| ids | keys stored | probe of a 1M-key batch | s | key column read | note |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="key-probe-", dir=Path.cwd()) as folder:
        for ids in args.ids or ["seq", "uuid"]:
            run(ids, args.keys, Path(folder))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
