"""Ingest throughput against DuckDB's raw read of the same files, side by side in one run.

    .venv/bin/python bench/ingest.py --order-lines 10000000 --events 50000000 --out bench/out

Writes canonical CSV files (one per million rows) with DuckDB, then times
  1. raw read: `select count(*) from read_csv([...])` over the same files (typed auto-detect), the
     baseline the target is set against;
  2. two floors that show what any ingest into a DuckDB file pays: parsing every value
     (`select sum(hash(columns(*)))`), and DuckDB's own typed insert of each file into a new
     database file, one transaction per file, with no checks at all;
  3. `segmint ingest` in a fresh subprocess (typing, validation, quarantine, de-duplication, merge),
and prints rows per second, the ratios of ingest to each and the ingest process's peak memory (RSS).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROWS_PER_FILE = 1_000_000


def write_files(out: Path, kind: str, rows: int, per_file: int = ROWS_PER_FILE) -> list[Path]:
    """Canonical files of `kind`, `per_file` rows each, skipped when already there."""
    folder = out / kind
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, start in enumerate(range(0, rows, per_file)):
        stop = min(rows, start + per_file)
        path = folder / f"{kind}_{part:03d}.csv"
        paths.append(path)
        if path.exists():
            continue
        if kind == "orders":
            # About 2.5 lines per order, 1M customers, 2 years, a few bad rows.
            select = f"""
                select 'O' || (i // 5 * 2 + (i % 5 > 2)::int) as order_id, (i % 5 % 3) + 1 as line_no,
                       case when (i // 5) % 13 = 0 then null else 'C' || (hash(i // 5) % 1000000) end as customer_id,
                       (timestamp '2024-01-01' + to_seconds(i * 63072000 // {rows}))::varchar as ordered_at,
                       'P' || hash(i) % 2000 as product_id, 'product ' || hash(i) % 2000 as product_name,
                       'cat' || hash(i) % 12 as category,
                       case when i % 1000003 = 7 then 0 else 1 + hash(i) % 4 end as quantity,
                       round(1 + (hash(i * 7) % 9000) / 100.0, 2) as unit_price, 'EUR' as currency,
                       false as is_cancellation
                from range({start}, {stop}) t(i)"""
        else:
            kinds = "['page_view', 'product_view', 'product_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase']"
            select = f"""
                select 'E' || i as event_id,
                       (timestamp '2024-01-01' + to_seconds(i * 63072000 // {rows}))::varchar as occurred_at,
                       case when (i // 8) % 3 = 0 then null else 'C' || (hash(i // 40) % 1000000) end as customer_id,
                       'S' || i // 8 as session_id, {kinds}[1 + (hash(i) % 8)::bigint] as event_type,
                       'P' || hash(i) % 2000 as product_id, round(1 + (hash(i * 7) % 9000) / 100.0, 2) as price
                from range({start}, {stop}) t(i)"""
        duckdb.sql(f"copy ({select}) to '{path}' (header)")
    # Files of an earlier, larger run would be ingested too (the source is a glob): remove them.
    for stale in set(folder.glob(f"{kind}_*.csv")) - set(paths):
        stale.unlink()
    return paths


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - started


def raw_read_seconds(paths: list[Path]) -> float:
    """DuckDB's time only to read the files: count(*), which converts no values."""
    files = ", ".join(f"'{p}'" for p in paths)
    return _timed(duckdb.connect(), f"select count(*) from read_csv([{files}], header = true)")


def parse_seconds(paths: list[Path]) -> float:
    """DuckDB's time to read the files and convert every value to its detected type."""
    files = ", ".join(f"'{p}'" for p in paths)
    return _timed(duckdb.connect(), f"select sum(hash(columns(*))) from read_csv([{files}], header = true)")


def insert_seconds(out: Path, paths: list[Path]) -> float:
    """DuckDB's own typed insert of each file into a new database file, one transaction per file."""
    database = out / "floor.duckdb"
    for leftover in out.glob("floor.duckdb*"):
        leftover.unlink()
    con = duckdb.connect(str(database), config={"memory_limit": "2GB"})
    started = time.perf_counter()
    for i, path in enumerate(paths):
        scan = f"select * from read_csv('{path}', header = true)"
        con.execute(f"create table t as {scan}" if i == 0 else f"insert into t {scan}")
    con.close()
    seconds = time.perf_counter() - started
    for leftover in out.glob("floor.duckdb*"):
        leftover.unlink()
    return seconds


def ingest_run(out: Path, kinds: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (GB) of `segmint ingest` over the files, in a fresh process and warehouse."""
    warehouse = out / "warehouse.duckdb"
    for leftover in out.glob("warehouse.duckdb*"):
        leftover.unlink()
    config = out / "segmint.toml"
    sources = "".join(
        f"[[sources]]\nname = '{k}'\nkind = '{k}'\npath = '{k}/*.csv'\npreset = 'canonical'\n" for k in kinds
    )
    # The files were written just now, whole: no wait for them to settle.
    config.write_text(
        f"[warehouse]\npath = '{warehouse.name}'\n[ingest]\nsettle_seconds = 0\n{sources}", encoding="utf-8"
    )
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", "from segmint.cli import main; main()", "ingest", "--config", str(config)],
        stdout=subprocess.DEVNULL,
    )
    # This child's own peak (RUSAGE_CHILDREN would be the largest of every child so far).
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"segmint ingest failed with exit code {os.waitstatus_to_exitcode(status)}")
    peak_gb = usage.ru_maxrss / 1024**2
    return seconds, peak_gb


def main() -> None:
    """Run the benchmark and print a Markdown table row per kind."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--order-lines", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/ingest"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.node()} {platform.machine()}, {platform.python_version()}, duckdb {duckdb.__version__}"
    )
    print(
        "| kind | rows | raw read s | parse s | DuckDB insert s | ingest s | rows/s ingest "
        "| ratio to raw read | to parse | to insert | peak RSS GB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, rows in (("orders", args.order_lines), ("events", args.events)):
        if not rows:
            continue
        paths = write_files(args.out, kind, rows)
        raw, parse, insert = raw_read_seconds(paths), parse_seconds(paths), insert_seconds(args.out, paths)
        seconds, peak = ingest_run(args.out, [kind])
        print(
            f"| {kind} | {rows:,} | {raw:.1f} | {parse:.1f} | {insert:.1f} | {seconds:.1f} | {rows / seconds:,.0f} "
            f"| {seconds / raw:.1f}x | {seconds / parse:.1f}x | {seconds / insert:.1f}x | {peak:.2f} |"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
