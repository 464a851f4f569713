"""Validation time per 1M-row batch and per 10M-row table, each beside a baseline run in the same process.

    .venv/bin/python bench/validate.py --batch-rows 1000000 --table-rows 10000000 --out bench/out/validate

Writes canonical CSV files with DuckDB (one per million rows). Two measurements:
  1. batch: one 1M-row file loaded into a warehouse that already holds the file before it, once with no
     audit (the baseline: typing, quarantine, merge) and once with write-audit-publish's audit (frames from
     DuckDB + the batch suites in Great Expectations); the audit's own time is reported too.
  2. table: `segmint validate`'s per-table work on a warehouse of 10M order lines and 10M events (the frame
     taken from DuckDB, then the table suite in GX), beside the same checks written as one DuckDB query.
Great Expectations' context is created before any timing (once per process, as in segmint).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from segmint.config import Settings, SourceSettings, WarehouseSettings
from segmint.ingest import load_file
from segmint.ingest.load import Batch, Verdict
from segmint.quality.audit import BatchAudit
from segmint.quality.engine import engine
from segmint.quality.frames import INDEX_COLUMNS, table_frame, table_parameters
from segmint.warehouse import connect

_spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
assert _spec is not None and _spec.loader is not None
bench_ingest: Any = importlib.util.module_from_spec(_spec)  # a script, untyped
_spec.loader.exec_module(bench_ingest)


def write_files(out: Path, kind: str, rows: int, per_file: int) -> list[Path]:
    """Canonical files of `kind` spread over two years, `per_file` rows each, skipped when already there.

    Events are bench/ingest.py's. Orders are written here: every line of an order shares its customer
    (1 in 13 orders is a guest's) and its time, as in a shop's export, so batches pass their suites.
    """
    if kind == "events":
        return list(bench_ingest.write_files(out, kind, rows, per_file))
    folder = out / kind
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, start in enumerate(range(0, rows, per_file)):
        path = folder / f"{kind}_{part:03d}.csv"
        paths.append(path)
        if not path.exists():
            select = f"""
                with lines as (
                    select i, i // 5 * 2 + (i % 5 > 2)::int as o from range({start}, {min(rows, start + per_file)}) t(i)
                )
                select 'O' || o as order_id, row_number() over (partition by o order by i) as line_no,
                       case when o % 13 = 0 then null else 'C' || (hash(o) % 1000000) end as customer_id,
                       (timestamp '2024-01-01' + to_seconds(o * 31536000 // {rows}))::varchar as ordered_at,
                       'P' || hash(i) % 2000 as product_id, 1 + hash(i) % 4 as quantity,
                       round(1 + (hash(i * 7) % 9000) / 100.0, 2) as unit_price, 'EUR' as currency
                from lines order by i"""
            duckdb.sql(f"copy ({select}) to '{path}' (header)")
    return paths


# The table suites' checks as one DuckDB query each: the baseline a hand-written SQL check would cost.
SQL_CHECKS = {
    "orders": """
        select count(*) filter (where order_id is null), count(*) - count(distinct order_id),
            count(*) filter (where ordered_at is null or ordered_at > now() + interval 1 day),
            count(*) filter (where customer_id is null), count(*) filter (where is_cancellation is null),
            count(*) filter (where revenue not between -100000 and 100000),
            count(*) filter (where not regexp_full_match(currency, '[A-Z]{3}')),
            (select count(*) from orders o where not exists (select 1 from order_lines l where l.order_id = o.order_id))
        from orders""",
    "order_lines": """
        select count(*) filter (where order_id is null),
            (select count(*) from (select order_id, line_no from order_lines group by all having count(*) > 1)),
            count(*) filter (where quantity is null), count(*) filter (where quantity = 0),
            count(*) filter (where quantity not between -10000 and 10000), count(*) filter (where unit_price is null),
            count(*) filter (where unit_price < 0), count(*) filter (where unit_price > 100000),
            (select count(*) from order_lines l where not exists (select 1 from orders o where o.order_id = l.order_id))
        from order_lines""",
    "events": """
        select count(*) filter (where event_id is null), count(*) - count(distinct event_id),
            count(*) filter (where occurred_at is null or occurred_at > now() + interval 1 day),
            count(*) filter (where event_type not in ('page_view', 'product_view', 'add_to_cart',
                'remove_from_cart', 'checkout', 'purchase')),
            count(*) filter (where event_type is null), count(*) filter (where price < 0),
            count(*) filter (where session_id is null),
            (select count(*) from events e where e.customer_id is not null
                and not exists (select 1 from customers c where c.customer_id = e.customer_id))
        from events""",
}


def settings_for(out: Path, name: str) -> Settings:
    kinds = ("orders", "events")
    return Settings(
        config_path=out / "segmint.toml",
        warehouse=WarehouseSettings(path=out / f"{name}.duckdb"),
        data_dir=out,
        sources=[SourceSettings(name=k, kind=k, path=f"{k}/*.csv") for k in kinds],  # type: ignore[arg-type]
    )


def fresh(settings: Settings) -> duckdb.DuckDBPyConnection:
    for leftover in settings.warehouse.path.parent.glob(settings.warehouse.path.name + "*"):
        leftover.unlink()
    return connect(settings.warehouse.path)


class Timed:
    """Wraps an audit and adds up the seconds the load spends in it: taking the frames, then waiting for
    the checks that run on GX's worker thread while DuckDB merges the batch."""

    def __init__(self, audit: BatchAudit) -> None:
        self.audit, self.seconds = audit, 0.0

    def __call__(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> Verdict:
        started = time.perf_counter()
        try:
            return TimedVerdict(self, self.audit(con, batch))
        finally:
            self.seconds += time.perf_counter() - started


class TimedVerdict:
    """A verdict whose wait is added to its audit's seconds."""

    def __init__(self, timed: Timed, verdict: Verdict) -> None:
        self.timed, self.verdict = timed, verdict

    def wait(self) -> str | None:
        started = time.perf_counter()
        try:
            return self.verdict.wait()
        finally:
            self.timed.seconds += time.perf_counter() - started

    def record(self, con: duckdb.DuckDBPyConnection) -> None:
        self.verdict.record(con)


def batch_run(out: Path, kind: str, rows: int) -> dict[str, Any]:
    """Load the second file of `kind` with and without the audit, after the first one."""
    first, second = write_files(out / f"batch-{rows}", kind, 2 * rows, rows)
    timings: dict[str, Any] = {"kind": kind, "rows": rows}
    for mode in ("baseline", "audited"):
        settings = settings_for(out, f"batch-{kind}-{mode}")
        source = next(s for s in settings.sources if s.kind == kind)
        with fresh(settings) as con:
            load_file(con, source, first, "history")
            audit = Timed(BatchAudit(settings)) if mode == "audited" else None
            started = time.perf_counter()
            result = load_file(con, source, second, "tonight", audit=audit)
            timings[mode] = time.perf_counter() - started
            assert result.status == "loaded", result.message
            if audit is not None:
                timings["audit"] = audit.seconds
                timings["checks"] = len(audit.audit.results)
    return timings


def table_run(out: Path, rows: int) -> list[dict[str, Any]]:
    """Validate orders, order_lines and events of a warehouse holding `rows` lines and `rows` events."""
    settings = settings_for(out, f"table-{rows}")
    with fresh(settings) as con:
        for kind in ("orders", "events"):
            source = next(s for s in settings.sources if s.kind == kind)
            for file in write_files(out / f"table-{rows}", kind, rows, min(rows, 1_000_000)):
                load_file(con, source, file, "history")
        gx = engine(out)
        now = datetime.now(UTC).replace(tzinfo=None)
        timings = []
        for table in ("orders", "order_lines", "events"):
            started = time.perf_counter()
            con.execute(SQL_CHECKS[table]).fetchall()
            sql = time.perf_counter() - started
            started = time.perf_counter()
            frame = table_frame(con, table)
            extract = time.perf_counter() - started
            started = time.perf_counter()
            results = gx.validate(
                table,
                "table",
                frame,
                table_parameters(settings.quality, now, None),
                batch="bench",
                run_id="bench",
                index_columns=INDEX_COLUMNS[table],
            )
            validate = time.perf_counter() - started
            timings.append(
                {
                    "table": table,
                    "rows": len(frame),
                    "sql": sql,
                    "extract": extract,
                    "gx": validate,
                    "checks": len(results),
                }
            )
            del frame
    return timings


def main() -> None:
    """Run both measurements and print Markdown tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-rows", type=int, default=1_000_000)
    parser.add_argument("--table-rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/validate"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    engine(args.out)
    print(
        f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}, load {os.getloadavg()}"
    )
    print(
        f"Great Expectations context and suites: {time.perf_counter() - started:.1f} s (once per process)\n"
    )
    print(
        "| batch (one file) | rows | load, no audit (baseline) | load with audit | audit alone | checks | audit / baseline |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in ("orders", "events"):
        t = batch_run(args.out, kind, args.batch_rows)
        print(
            f"| {kind} | {t['rows']:,} | {t['baseline']:.1f} s | {t['audited']:.1f} s | {t['audit']:.1f} s | "
            f"{t['checks']} | {t['audit'] / t['baseline']:.2f}x |"
        )
        sys.stdout.flush()
    print(
        "\n| warehouse table | rows | same checks in one DuckDB query (baseline) | frame from DuckDB | GX suite | checks | (frame + GX) / baseline |"
    )
    print("|---|---|---|---|---|---|---|")
    for t in table_run(args.out, args.table_rows):
        total = t["extract"] + t["gx"]
        print(
            f"| {t['table']} | {t['rows']:,} | {t['sql']:.1f} s | {t['extract']:.1f} s | {t['gx']:.1f} s | "
            f"{t['checks']} | {total / t['sql']:.0f}x |"
        )
        sys.stdout.flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\npeak RSS {peak:.1f} GB, load {os.getloadavg()}, total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
