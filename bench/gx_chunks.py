"""Peak memory of `segmint validate`'s check of a 10M-row events table: whole frame against chunks.

    .venv/bin/python bench/gx_chunks.py --rows 10000000 --out bench/out/gx-chunks

Builds a warehouse with DuckDB SQL only (10M events, 1M customers; a few duplicated event ids far apart,
missing sessions and negative prices, so failing counts and cross-chunk uniqueness are exercised), then
validates the events table suite in a fresh process per mode, each reporting its own peak RSS:
  * whole: the table as one pandas frame handed to Great Expectations (as before [quality] chunk_rows);
  * chunked: the table in Arrow, GX on `--chunk-rows` rows at a time (segmint's default 1,000,000).
Both modes must give the same result per expectation (success, failing and element counts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WAREHOUSE_MEMORY = "2GB"  # DuckDB's cache kept small, so RSS measures the frames


def build(path: Path, rows: int) -> None:
    """The warehouse's customers and events, written by DuckDB (skipped when already there)."""
    from segmint.warehouse import connect

    if path.exists():
        return
    customers = max(1, rows // 10)
    with connect(path, memory_limit=WAREHOUSE_MEMORY) as con:
        con.execute(f"""
            insert into customers (customer_id, email, country, first_seen_at, marketing_consent, source_file)
            select 'C' || i, 'c' || i || '@example.com', 'DE', timestamp '2024-01-01' + to_seconds(i),
                i % 2 = 0, 'bench' from range({customers}) t(i)
        """)
        con.execute(f"""
            insert into events (event_id, occurred_at, customer_id, session_id, event_type, product_id, price,
                source_file)
            select
                -- every 2,000,001st row repeats the id of a row ~5M rows earlier: duplicates chunks apart
                'E' || case when i % 2000001 = 2000000 and i > {rows // 2} then i - {rows // 2} else i end,
                timestamp '2024-01-01' + to_seconds(i * 63072000 // {rows}),
                case when i % 3 = 0 then null else 'C' || (hash(i) % {customers}) end,
                case when i % 100003 = 7 then null else 'S' || i // 8 end,
                ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'][(1 + hash(i * 3) % 5)::bigint],
                'P' || hash(i) % 5000,
                case when i % 250007 = 11 then -1 else round(1 + (hash(i * 7) % 9000) / 100.0, 2) end,
                'bench'
            from range({rows}) t(i)
        """)


def measure(path: Path, out: Path, mode: str, chunk_rows: int) -> dict[str, Any]:
    """Validate the events table in this process; its results and peak RSS."""
    from segmint.config import QualitySettings
    from segmint.quality.engine import engine
    from segmint.quality.frames import INDEX_COLUMNS, arrow_frame, table_parameters, warehouse_table
    from segmint.warehouse import connect

    gx = engine(out)
    now = datetime.now(UTC).replace(tzinfo=None)
    with connect(path, memory_limit=WAREHOUSE_MEMORY) as con:
        started = time.perf_counter()
        rows: Any = warehouse_table(con, "events")
        if mode == "whole":
            rows = arrow_frame(rows)  # what segmint did before: one pandas frame of the whole table
        results = gx.validate(
            "events",
            "table",
            rows,
            table_parameters(QualitySettings(), now, None),
            batch="bench",
            run_id=f"bench {mode}",
            index_columns=INDEX_COLUMNS["events"],
            chunk_rows=chunk_rows if mode == "chunked" else None,
        )
        seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "rows": len(rows),
        "seconds": seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "results": {
            r.key: [r.success, r.unexpected_count, r.element_count, r.observed.get("observed_value")]
            for r in results
        },
    }


def main() -> None:
    """Build the table, measure both modes in fresh processes, print a Markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/gx-chunks"))
    parser.add_argument("--measure", choices=("whole", "chunked"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"events-{args.rows}.duckdb"
    if args.measure:
        print(json.dumps(measure(path, args.out, args.measure, args.chunk_rows)))
        return
    started = time.perf_counter()
    build(path, args.rows)
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"warehouse built in {time.perf_counter() - started:.0f} s, load {os.getloadavg()}\n")
    measured = {}
    for mode in ("chunked", "whole"):
        command = [sys.executable, __file__, "--rows", str(args.rows), "--chunk-rows", str(args.chunk_rows)]
        done = subprocess.run(
            [*command, "--out", str(args.out), "--measure", mode], capture_output=True, text=True, check=True
        )
        measured[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    print("| mode | rows | chunk rows | validate (frame + GX) | peak RSS of the process |")
    print("|---|---|---|---|---|")
    for mode, m in measured.items():
        chunk = f"{args.chunk_rows:,}" if mode == "chunked" else "-"
        print(f"| {mode} | {m['rows']:,} | {chunk} | {m['seconds']:.1f} s | {m['peak_rss_gb']:.2f} GB |")
    same = measured["whole"]["results"] == measured["chunked"]["results"]
    print(f"\nsame result per expectation in both modes: {same}")
    for key, value in measured["chunked"]["results"].items():
        whole = measured["whole"]["results"][key]
        print(f"  {key}: chunked {value}" + ("" if value == whole else f", whole {whole}"))
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
