"""Ingest throughput against DuckDB's raw read and typed insert of the same files, side by side in one run.

    .venv/bin/python bench/ingest.py --order-lines 10000000 --events 50000000 --out bench/out/ingest
    .venv/bin/python bench/ingest.py --ids uuid --src ../main/src --src src   # two checkouts side by side

Writes canonical CSV files (one per million rows) with DuckDB, then times
  1. raw read: `select count(*) from read_csv([...])` over the same files (typed auto-detect), the
     baseline the first target was set against;
  2. two floors that show what any ingest into a DuckDB file pays: parsing every value
     (`select sum(hash(columns(*)))`), and DuckDB's own typed insert of each file into a database
     file, one transaction per file, with no checks at all (the baseline of the 2x target);
  3. `segmint ingest` in a fresh subprocess per night (typing, validation, quarantine, de-duplication,
     merge), once per `--src` checkout, each into a warehouse of its own;
and prints rows per second, the ratios of ingest to each and the ingest process's peak memory (RSS).

Two nights per kind: the first loads every file into an empty warehouse; the second (`--night2` rows,
0 for none) is an overlapping daily export that starts `--overlap` rows before the first night's end, so
its opening rows repeat keys already loaded (identical rows: skipped as duplicates) and the rest are new.
DuckDB's insert of the second night goes into the database holding the first night's rows.

`--ids uuid` gives orders, customers and events random UUIDs instead of sequential ids, so that already
loaded keys cannot be found by the key's zone maps (min/max per row group): what a shop platform's
exports look like. "in files" is the sum of the per-file load times the ingest logs (the rest of the
process time is Python's start, reading the config and opening the warehouse). CPU seconds (DuckDB's
threads and the ingest's Python, user and system) are steadier than seconds on a machine shared with
other work; on an otherwise idle one the two ratios agree roughly.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

ROWS_PER_FILE = 1_000_000
# Orders are five-line blocks of two orders (three lines and two): a night starts on a block.
_ORDER_BLOCK = 5
_LOADED = re.compile(r"loaded .* \((\d+) rows read\) in ([0-9.]+) s")


def _uuid(text: str) -> str:
    """A random-looking version 4 UUID derived from `text`, the same each time the text is the same."""
    h = f"md5({text})"
    return f"(left({h}, 12) || '4' || substr({h}, 14, 3) || '8' || substr({h}, 18))::uuid::varchar"


def _ids(kind: str, ids: str) -> tuple[str, str]:
    """The SQL of the row's key and customer id (before the guest/anonymous null) for `ids`."""
    if kind == "orders":
        key, customer = "'O' || (i // 5 * 2 + (i % 5 > 2)::int)", "'C' || (hash(i // 5) % 1000000)"
    else:
        key, customer = "'E' || i", "'C' || (hash(i // 40) % 1000000)"
    return (key, customer) if ids == "seq" else (_uuid(key), _uuid(customer))


def _select(kind: str, start: int, stop: int, scale: int, ids: str) -> str:
    """Rows start..stop of `kind`; `scale` rows span two years, so a row's content depends on i alone."""
    key, customer = _ids(kind, ids)
    if kind == "orders":
        # About 2.5 lines per order, 1M customers, 2 years, a few bad rows.
        return f"""
            select {key} as order_id, (i % 5 % 3) + 1 as line_no,
                   case when (i // 5) % 13 = 0 then null else {customer} end as customer_id,
                   (timestamp '2024-01-01' + to_seconds(i * 63072000 // {scale}))::varchar as ordered_at,
                   'P' || hash(i) % 2000 as product_id, 'product ' || hash(i) % 2000 as product_name,
                   'cat' || hash(i) % 12 as category,
                   case when i % 1000003 = 7 then 0 else 1 + hash(i) % 4 end as quantity,
                   round(1 + (hash(i * 7) % 9000) / 100.0, 2) as unit_price, 'EUR' as currency,
                   false as is_cancellation
            from range({start}, {stop}) t(i)"""
    kinds = "['page_view', 'product_view', 'product_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase']"
    return f"""
        select {key} as event_id,
               (timestamp '2024-01-01' + to_seconds(i * 63072000 // {scale}))::varchar as occurred_at,
               case when (i // 8) % 3 = 0 then null else {customer} end as customer_id,
               'S' || i // 8 as session_id, {kinds}[1 + (hash(i) % 8)::bigint] as event_type,
               'P' || hash(i) % 2000 as product_id, round(1 + (hash(i * 7) % 9000) / 100.0, 2) as price
        from range({start}, {stop}) t(i)"""


def write_files(
    folder: Path, kind: str, start: int, stop: int, scale: int, ids: str, per_file: int = ROWS_PER_FILE
) -> list[Path]:
    """Canonical files of rows start..stop of `kind`, `per_file` rows each, skipped when already there."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, first in enumerate(range(start, stop, per_file)):
        last = min(stop, first + per_file)
        # The name says which rows it holds: a file of another run's size is never taken for this one's.
        path = folder / f"{kind}_{part:03d}_{first}_{last}_{scale}.csv"
        paths.append(path)
        if not path.exists():
            duckdb.sql(f"copy ({_select(kind, first, last, scale, ids)}) to '{path}' (header)")
    # Files of an earlier, other run would be ingested too (the source is a glob): remove them.
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


def insert_seconds(out: Path, nights: list[list[Path]]) -> list[tuple[float, float]]:
    """DuckDB's own typed insert of each file into one database file, one transaction per file: the
    seconds and CPU seconds of each night, later nights inserted into the database holding the earlier ones."""
    database = out / "floor.duckdb"
    for leftover in out.glob("floor.duckdb*"):
        leftover.unlink()
    con = duckdb.connect(str(database), config={"memory_limit": "2GB"})
    times = []
    first = True
    for paths in nights:
        started, cpu = time.perf_counter(), time.process_time()
        for path in paths:
            scan = f"select * from read_csv('{path}', header = true)"
            con.execute(f"create table t as {scan}" if first else f"insert into t {scan}")
            first = False
        con.execute("checkpoint")
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    con.close()
    for leftover in out.glob("floor.duckdb*"):
        leftover.unlink()
    return times


@dataclass(frozen=True)
class Run:
    """One `segmint ingest` process: its seconds and CPU seconds, the seconds its files took (as logged),
    its peak RSS, the rows it read."""

    seconds: float
    cpu: float
    in_files: float
    peak_gb: float
    rows_read: int


def ingest_run(out: Path, warehouse: Path, kind: str, folder: str, src: Path | None) -> Run:
    """`segmint ingest` of the files in `folder` in a fresh process, into `warehouse` as it is."""
    config = out / f"{warehouse.stem}.toml"
    source = f"[[sources]]\nname = '{kind}'\nkind = '{kind}'\npath = '{folder}/*.csv'\npreset = 'canonical'\n"
    # The files were written before the run, whole: no wait for them to settle.
    # Great Expectations' results and docs beside the warehouse, begun afresh with it (main): a store
    # holding weeks of results makes every validation that renders the docs index slower.
    config.write_text(
        f"data_dir = '{warehouse.stem}-out'\n[warehouse]\npath = '{warehouse.name}'\n[ingest]\nsettle_seconds = 0\n"
        f"{source}",
        encoding="utf-8",
    )
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", "from segmint.cli import main; main()", "ingest", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stderr is not None
    log = child.stderr.read()
    # This child's own peak (RUSAGE_CHILDREN would be the largest of every child so far).
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(log)
        raise SystemExit(f"segmint ingest failed with exit code {os.waitstatus_to_exitcode(status)}")
    loaded = [(int(rows), float(s)) for rows, s in _LOADED.findall(log)]
    return Run(
        seconds,
        usage.ru_utime + usage.ru_stime,
        sum(s for _, s in loaded),
        usage.ru_maxrss / 1024**2,
        sum(r for r, _ in loaded),
    )


def main() -> None:
    """Run the benchmark and print a Markdown table row per kind, night and checkout."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--order-lines", type=int, default=10_000_000, help="order lines of the first night")
    parser.add_argument("--events", type=int, default=50_000_000, help="events of the first night")
    parser.add_argument(
        "--ids", choices=("seq", "uuid"), default="seq", help="sequential ids or random UUIDs"
    )
    parser.add_argument(
        "--night2", type=int, default=ROWS_PER_FILE, help="rows of the overlapping second night (0: none)"
    )
    parser.add_argument(
        "--overlap", type=int, default=ROWS_PER_FILE // 2, help="rows of the first night the second repeats"
    )
    parser.add_argument(
        "--src",
        type=Path,
        action="append",
        help="a checkout's src folder whose segmint is run (repeat to compare; default: the installed one)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/ingest"))
    args = parser.parse_args()
    out: Path = args.out.resolve() / args.ids
    out.mkdir(parents=True, exist_ok=True)
    sources: list[Path | None] = list(args.src) if args.src else [None]
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, ids {args.ids}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| kind | night | checkout | rows | raw read s | parse s | DuckDB insert s | ingest s | in files s "
        "| rows/s | to raw read | to parse | to insert | insert CPU s | ingest CPU s | CPU to insert | peak RSS GB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, rows in (("orders", args.order_lines), ("events", args.events)):
        if not rows:
            continue
        overlap = min(args.overlap, rows)
        if kind == "orders":
            overlap -= overlap % _ORDER_BLOCK
        nights = [write_files(out / kind, kind, 0, rows, rows, args.ids)]
        if args.night2:
            start = rows - overlap
            nights.append(
                write_files(out / f"{kind}_night2", kind, start, start + args.night2, rows, args.ids)
            )
        floors = [(raw_read_seconds(p), parse_seconds(p)) for p in nights]
        inserts = insert_seconds(out, nights)
        warehouses = [out / f"warehouse{n}.duckdb" for n in range(len(sources))]
        for warehouse in warehouses:
            for leftover in out.glob(f"{warehouse.name}*"):
                leftover.unlink()
            shutil.rmtree(out / f"{warehouse.stem}-out", ignore_errors=True)
        # Night by night, the checkouts one after the other: a busier minute shifts them alike.
        for night, folder in enumerate((kind, f"{kind}_night2")[: len(nights)]):
            for src, warehouse in zip(sources, warehouses, strict=True):
                label = str(src.resolve().parent.name) if src is not None else "installed"
                run = ingest_run(out, warehouse, kind, folder, src)
                raw, parse = floors[night]
                insert, insert_cpu = inserts[night]
                night_rows = rows if night == 0 else args.night2
                if run.rows_read != night_rows:
                    raise SystemExit(
                        f"{label} read {run.rows_read:,} rows of night {night + 1}, not {night_rows:,}"
                    )
                print(
                    f"| {kind} | {night + 1} | {label} | {night_rows:,} | {raw:.1f} | {parse:.1f} | {insert:.1f} "
                    f"| {run.seconds:.1f} | {run.in_files:.1f} | {night_rows / run.seconds:,.0f} "
                    f"| {run.seconds / raw:.1f}x | {run.seconds / parse:.1f}x | {run.seconds / insert:.2f}x "
                    f"| {insert_cpu:.1f} | {run.cpu:.1f} | {run.cpu / insert_cpu:.2f}x | {run.peak_gb:.2f} |"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
