"""Benchmark: the whole nightly on a warehouse of N customers, against the tutorial baseline.

    python bench/nightly.py                       # 1M customers, 10M order lines, 50M events
    python bench/nightly.py --customers 100000    # 100k customers, 1M lines, 5M events

Builds a warehouse with DuckDB SQL (range() and random(), not `segmint generate`, which is too slow at
this size): N customers, 10 order lines and 50 events per customer over two years, with order revenue
from each customer's own price level so that the lifetime-value models have spend to fit; and one
night's increment as canonical CSV files (that day's orders, events and new customers). Then, in the
same invocation, on the same warehouse:
  1. `segmint run nightly` for that night in a fresh process (with its temporary Prefect server), and
     each stage's time and peak memory from the run ledger's `run_stages`;
  2. the tutorial way in a fresh process: pandas RFM + KMeans over 3 features, no clickstream, no
     validation (bench/segment.py's `run_baseline`), on the warehouse after the night.
Prints a table per stage and the ratios. The data are written under /tmp (never into the repository).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

import duckdb

START = "2024-07-01"
DAYS = 730  # the history ends the day before NIGHT
NIGHT = date(2026, 7, 1)
LINES_PER_CUSTOMER = 10
EVENTS_PER_CUSTOMER = 50
LINES_PER_ORDER = 3


def _first_day(i: str) -> str:
    # Customer i's first day (days after START): the same expression for the customer and their orders.
    return f"(hash({i}) % {DAYS - 30})::integer"


def _active_days(i: str) -> str:
    # How long customer i keeps buying, within the history.
    return f"least({DAYS} - {_first_day(i)}, 30 + hash({i} + 1) % 400)"


def _segment_bench() -> ModuleType:
    # bench/ is not a package: load the segmentation bench (its tutorial baseline) by path.
    spec = importlib.util.spec_from_file_location("bench_segment", Path(__file__).with_name("segment.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_warehouse(path: Path, customers: int) -> None:
    """The history up to the day before NIGHT: customers, orders with lines and revenue, events."""
    from segmint.warehouse import connect

    path.parent.mkdir(parents=True, exist_ok=True)
    orders = customers * LINES_PER_CUSTOMER // LINES_PER_ORDER
    events = customers * EVENTS_PER_CUSTOMER
    buyers = int(customers * 0.8)
    con = connect(path, memory_limit="2GB", threads=2)
    con.execute("set enable_progress_bar = false")
    con.execute("select setseed(0.42)")
    con.execute(
        f"""
        insert into customers (customer_id, email, country, first_seen_at, marketing_consent, source_file)
        select 'C' || lpad(i::varchar, 8, '0'), 'c' || i || '@example.com', 'DE',
            timestamp '{START}' + to_days({_first_day("i")}) + to_seconds(cast(random() * 86399 as bigint)),
            i % 3 > 0, 'bench'
        from range({customers}) t(i)
        """
    )
    # Order j belongs to buyer b = floor(buyers * u^2) (a few buyers order often, most rarely), at a
    # random time within b's active span: from b's first day for 30-430 days, so that buyers drop out
    # (the lifetime models fit a dropout rate; a guest's order is anywhere in the history).
    con.execute(
        f"""
        insert into orders
        select 'O' || j, case when j % 20 = 0 then null else 'C' || lpad(b::varchar, 8, '0') end,
            timestamp '{START}' + to_seconds(cast(86400 * case when j % 20 = 0 then random() * {DAYS}
                else {_first_day("b")} + random() * {_active_days("b")} end as bigint)),
            j % 33 = 0, 0, 'EUR', 'bench', 'DE', null, false
        from (select j, cast(floor({buyers} * pow(random(), 2)) as bigint) as b from range({orders}) t(j))
        """
    )
    # Each customer has a price level (5-65 EUR a unit, from a hash of the id), each line varies around
    # it: spend per order differs between customers and varies within each, as Gamma-Gamma expects.
    con.execute(
        f"""
        insert into order_lines
        select o.order_id, l.n + 1, 'P' || (hash(o.order_id, l.n) % 5000), null,
            'cat' || (hash(o.order_id, l.n) % 5000 % 20),
            case when o.is_cancellation then -1 else 1 end * (1 + hash(o.order_id, l.n) % 3)::integer,
            cast((5 + hash(coalesce(o.customer_id, o.order_id)) % 61) * (0.5 + random()) as decimal(18, 4)), 0
        from orders o, range({LINES_PER_ORDER}) l(n)
        """
    )
    con.execute("update order_lines set line_revenue = quantity * unit_price")
    con.execute(
        """
        update orders set revenue = l.revenue
        from (select order_id, sum(line_revenue) as revenue from order_lines group by all) l
        where orders.order_id = l.order_id
        """
    )
    # Session s belongs to a fixed customer (30 % anonymous); five events per session.
    con.execute(
        f"""
        insert into events
        select 'E' || e,
            timestamp '{START}' + to_seconds(cast({DAYS} * 86400 * sqrt(hash(e // 5) % 1000003 / 1000003.0) as bigint)
                + e % 5 * 30),
            case when hash(e // 5) % 10 < 3 then null
                 else 'C' || lpad((hash(e // 5 + 17) % {customers})::varchar, 8, '0') end,
            'S' || (e // 5),
            case e % 5 when 0 then 'page_view' when 1 then 'product_view' when 2 then 'product_view'
                 when 3 then (case when hash(e) % 3 = 0 then 'add_to_cart' else 'page_view' end)
                 else (case when hash(e) % 4 = 0 then 'purchase' else 'product_view' end) end,
            'P' || (e % 5000), 9.99, 'bench', null
        from range({events}) t(e)
        """
    )
    con.execute("checkpoint")
    con.close()


def write_increment(folder: Path, customers: int) -> dict[str, int]:
    """NIGHT's export files (canonical columns): its orders, events and new customers; rows per kind."""
    orders = customers * LINES_PER_CUSTOMER // LINES_PER_ORDER
    events = customers * EVENTS_PER_CUSTOMER
    # Orders spread about evenly over the history (see build_warehouse), events grow towards its end
    # (sqrt): NIGHT has the average day's orders and twice the average day's events.
    night_orders = max(1, orders // DAYS)
    night_events = max(5, 2 * events // DAYS) // 5 * 5
    new_customers = max(1, customers // DAYS)
    buyers = int(customers * 0.8)
    for kind in ("orders", "events", "customers"):
        shutil.rmtree(folder / kind, ignore_errors=True)
        (folder / kind).mkdir(parents=True)
    con = duckdb.connect()
    con.execute("select setseed(0.7)")
    at = f"timestamp '{NIGHT}' + to_seconds(cast(random() * 86399 as bigint))"
    con.execute(
        f"""
        copy (
            select 'C' || lpad(({customers} + i)::varchar, 8, '0') as customer_id,
                'c' || ({customers} + i) || '@example.com' as email, 'DE' as country,
                ({at})::varchar as first_seen_at, i % 3 > 0 as marketing_consent
            from range({new_customers}) t(i)
        ) to '{folder / "customers" / f"customers_{NIGHT:%Y%m%d}.csv"}' (header)
        """
    )
    # Tonight's buyers: mostly existing ones (the same skew as the history), one in ten a new customer.
    con.execute(
        f"""
        create table night_orders as
        select 'O' || ({orders} + j) as order_id, {at} as ordered_at,
            case when j % 20 = 0 then null
                 when j % 10 = 1 then 'C' || lpad(({customers} + j % {new_customers})::varchar, 8, '0')
                 else 'C' || lpad(cast(floor({buyers} * pow(random(), 2)) as bigint)::varchar, 8, '0') end
                as customer_id,
            j % 33 = 0 as is_cancellation
        from range({night_orders}) t(j)
        """
    )
    con.execute(
        f"""
        copy (
            select o.order_id, o.ordered_at::varchar as ordered_at, o.customer_id, l.n + 1 as line_no,
                'P' || (hash(o.order_id, l.n) % 5000) as product_id,
                'product ' || (hash(o.order_id, l.n) % 5000) as product_name,
                'cat' || (hash(o.order_id, l.n) % 5000 % 20) as category,
                case when o.is_cancellation then -1 else 1 end * (1 + hash(o.order_id, l.n) % 3)::integer
                    as quantity,
                round((5 + hash(coalesce(o.customer_id, o.order_id)) % 61) * (0.5 + random()), 2) as unit_price,
                'EUR' as currency, o.is_cancellation, 'DE' as country
            from night_orders o, range({LINES_PER_ORDER}) l(n)
            order by o.order_id, line_no
        ) to '{folder / "orders" / f"orders_{NIGHT:%Y%m%d}.csv"}' (header)
        """
    )
    con.execute(
        f"""
        copy (
            select 'E' || ({events} + e) as event_id,
                (timestamp '{NIGHT}' + to_seconds(hash(e // 5) % 86000 + e % 5 * 30))::varchar as occurred_at,
                case when hash(e // 5) % 10 < 3 then null
                     else 'C' || lpad((hash(e // 5 + 17) % {customers})::varchar, 8, '0') end as customer_id,
                'S' || ({events} // 5 + e // 5) as session_id,
                case e % 5 when 0 then 'page_view' when 1 then 'product_view' when 2 then 'product_view'
                     when 3 then (case when hash(e) % 3 = 0 then 'add_to_cart' else 'page_view' end)
                     else (case when hash(e) % 4 = 0 then 'purchase' else 'product_view' end) end as event_type,
                'P' || (e % 5000) as product_id, 9.99 as price
            from range({night_events}) t(e)
        ) to '{folder / "events" / f"events_{NIGHT:%Y%m%d}.csv"}' (header)
        """
    )
    return {"orders": night_orders, "order_lines": night_orders * LINES_PER_ORDER, "events": night_events}


def write_config(folder: Path, warehouse: Path, memory_limit: str | None) -> Path:
    """segmint.toml for the night: default settings except where the bench says (memory_limit)."""
    limit = f"memory_limit = '{memory_limit}'\n" if memory_limit else ""
    text = f"[warehouse]\npath = '{warehouse}'\n{limit}[schedule]\ntimezone = 'UTC'\n[ingest]\nsettle_seconds = 0\n"
    for name, kind in (("shop", "orders"), ("crm", "customers"), ("web", "events")):
        text += f"\n[[sources]]\nname = '{name}'\nkind = '{kind}'\npath = '{folder / kind}/*.csv'\npreset = 'canonical'\n"
    config = folder / "segmint.toml"
    config.write_text(text, encoding="utf-8")
    return config


def _sample_rss(pid: int, samples: list[tuple[datetime, float]], every: float = 0.2) -> None:
    # The process's current RSS (MB) as it runs: run_stages keeps only the high-water mark, which cannot
    # tell whether a stage gave back what the one before it took.
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        kb = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("VmRSS:")), None)
        if kb is None:  # a zombie has no memory left to sample
            return
        samples.append((datetime.now(), kb / 1024))
        time.sleep(every)


def _current_rss(
    samples: list[tuple[datetime, float]], start: datetime, end: datetime
) -> tuple[float, float]:
    """The RSS when a stage started and the most it held while it ran (MB)."""
    during = [mb for at, mb in samples if start <= at <= end]
    before = [mb for at, mb in samples if at <= start]
    return (before[-1] if before else 0.0), max(during, default=before[-1] if before else 0.0)


def run_nightly(config: Path, warehouse: Path) -> dict[str, object]:
    """`segmint run nightly` in a fresh process: its wall time, process-tree peak and run_stages rows."""
    started = time.perf_counter()
    command = [sys.executable, "-c", "from segmint.cli import main; main()", "run", "nightly"]
    child = subprocess.Popen(
        [*command, "--config", str(config), "--as-of", NIGHT.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    samples: list[tuple[datetime, float]] = []
    threading.Thread(target=_sample_rss, args=(child.pid, samples), daemon=True).start()
    output = child.stdout.read()
    # This child's own peak, and that of its children it waited for (the temporary Prefect server).
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        run = con.execute(
            "select run_id, status from runs where flow = 'nightly' order by started_at desc limit 1"
        ).fetchone()
        if run is None:
            raise SystemExit(f"segmint run nightly recorded no run (exit code {code}):\n{output}")
        stages = con.execute(
            "select stage, seconds, peak_rss_mb, started_at, finished_at from run_stages where run_id = ? "
            "order by started_at",
            [run[0]],
        ).fetchall()
    return {
        "exit_code": code,
        "status": run[1],
        "seconds": seconds,
        "tree_peak_mb": usage.ru_maxrss / 1024,
        "stages": [(str(s), float(t), float(m), *_current_rss(samples, a, b)) for s, t, m, a, b in stages],
        "output": output,
    }


def run_baseline(warehouse: Path) -> dict[str, object]:
    """The tutorial baseline of bench/segment.py in a fresh process, at NIGHT, on the same warehouse."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", "baseline", "--path", str(warehouse)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def report(
    customers: int, night: dict[str, int], ours: dict[str, object], theirs: dict[str, object] | None
) -> None:
    """Print each stage beside the baseline, and the ratios."""
    stages = ours["stages"]
    assert isinstance(stages, list)
    total = sum(s for _, s, *_ in stages)
    peak = max((m for _, _, m, *_ in stages), default=0.0)
    print(
        f"\n{datetime.now():%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, duckdb {duckdb.__version__}; "
        f"{customers:,} customers, {customers * LINES_PER_CUSTOMER:,} order lines, "
        f"{customers * EVENTS_PER_CUSTOMER:,} events; tonight {night['order_lines']:,} order lines, "
        f"{night['events']:,} events; run {ours['status']} (exit {ours['exit_code']})\n"
    )
    print("| stage | seconds | share | RSS at start (MB) | most RSS during (MB) | peak RSS so far (MB) |")
    print("|---|---|---|---|---|---|")
    for name, seconds, mb, at_start, during in stages:
        print(
            f"| {name} | {seconds:.1f} | {seconds / total:.0%} | {at_start:,.0f} | {during:,.0f} | {mb:,.0f} |"
        )
    print(f"| **nightly, all stages** | **{total:.1f}** | 100% | | | **{peak:,.0f}** |")
    if theirs is None:
        ratios = "baseline not run (--no-baseline)"
    else:
        base_s, base_mb = float(str(theirs["seconds"])), float(str(theirs["peak_mb"]))
        print(
            f"| tutorial baseline (pandas RFM + KMeans) | {base_s:.1f} | | | | {base_mb:,.0f} "
            f"({int(str(theirs['customers'])):,} customers, k={theirs['k']}) |"
        )
        ratios = f"ratio nightly / baseline: time {total / base_s:.2f}x, peak memory {peak / base_mb:.2f}x"
    print(
        f"\n{ratios}; the nightly process's wall time {float(str(ours['seconds'])):.1f} s includes starting Prefect's "
        f"temporary server ({float(str(ours['seconds'])) - total:.1f} s outside the stages); "
        f"process-tree peak {float(str(ours['tree_peak_mb'])):,.0f} MB"
    )


def main() -> None:
    """Build the warehouse and the night if missing, run the nightly and the baseline, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000, help="scales order lines and events too")
    parser.add_argument("--out", type=Path, default=None, help="default bench/out/nightly/<customers>")
    parser.add_argument("--memory-limit", default=None, help="[warehouse] memory_limit (default: segmint's)")
    parser.add_argument("--no-baseline", action="store_true", help="run only the nightly (memory profiles)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run nightly and baseline this many times, alternating"
    )
    parser.add_argument("--child", choices=["baseline"])
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        segment = _segment_bench()
        segment.AS_OF = NIGHT  # the baseline reads the same night as the nightly
        print(json.dumps(segment.run_baseline(args.path)))
        return
    out: Path = args.out or Path(f"bench/out/nightly/{args.customers}")
    pristine = out / "history.duckdb"
    if not pristine.exists():
        started = time.perf_counter()
        build_warehouse(pristine, args.customers)
        print(f"built {pristine} in {time.perf_counter() - started:.0f} s", flush=True)
    night = write_increment(out / "night", args.customers)
    warehouse = out / "night.duckdb"
    runs: list[tuple[dict[str, object], dict[str, object] | None]] = []
    for _ in range(args.repeat):
        # Each night runs on a copy of the history that has not seen it yet.
        for leftover in out.glob("night.duckdb*"):
            leftover.unlink()
        shutil.copyfile(pristine, warehouse)
        config = write_config(out / "night", warehouse, args.memory_limit)
        ours = run_nightly(config, warehouse)
        print(str(ours.pop("output")).rstrip(), flush=True)
        runs.append((ours, None if args.no_baseline else run_baseline(warehouse)))
    if len(runs) > 1:
        _print_repeats(runs)
    # The table shows the run whose nightly took the median time.
    ours, theirs = sorted(runs, key=lambda run: _stage_seconds(run[0]))[len(runs) // 2]
    report(args.customers, night, ours, theirs)


def _stage_seconds(run: dict[str, object]) -> float:
    stages = run["stages"]
    assert isinstance(stages, list)
    return float(sum(s for _, s, *_ in stages))


def _print_repeats(runs: list[tuple[dict[str, object], dict[str, object] | None]]) -> None:
    """Every pair's times, and the ratio of the medians: one pair pins a ratio only to about 15%."""
    ours = [_stage_seconds(a) for a, _ in runs]
    print("\n| run | nightly, all stages (s) | baseline (s) | ratio |\n|---|---|---|---|")
    theirs = [float(str(b["seconds"])) for _, b in runs if b is not None]
    for i, (a, b) in enumerate(runs, start=1):
        base = float(str(b["seconds"])) if b is not None else float("nan")
        print(f"| {i} | {_stage_seconds(a):.1f} | {base:.1f} | {_stage_seconds(a) / base:.2f}x |")
    if theirs:
        print(
            f"| median | {statistics.median(ours):.1f} | {statistics.median(theirs):.1f} | "
            f"{statistics.median(ours) / statistics.median(theirs):.2f}x |"
        )


if __name__ == "__main__":
    main()
