"""Weekly report render time and file size at 1M customers, beside the same report for a 5,000-customer shop.

    .venv/bin/python bench/report.py --customers 1000000 --baseline 5000 --out bench/out/report

Builds a warehouse per size with DuckDB SQL in the warehouse's own schema (the report reads tables; how they
were computed does not matter to it): orders over a year (about 3 per customer, 3.3 lines each), customer
features for the report night, and 12 weekly published segment runs (six segments, profiles and one
assignment row per customer and run, so 12M assignment rows at 1M customers, with about 5% of customers
moving each week). Then times `create_report` (queries, charts, both templates, the MIME email, files
written) in a fresh process per size, and prints time, peak memory (RSS) and the size of report.html and
email.eml. The last line of each size also times the customer map drawn from every customer instead of a
sample, which is what the sampling avoids (segmentation draws the map and stores it; the report reads it).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DAY = date(2026, 11, 8)
SEGMENTS = [
    "High-value regulars",
    "Occasional buyers",
    "New customers",
    "Window shoppers",
    "Lapsed",
    "Bargain hunters",
]


def build_warehouse(path: Path, customers: int) -> None:
    """A migrated warehouse holding a synthetic shop of `customers` customers."""
    from segmint.warehouse import connect

    if path.exists():
        return
    n = customers
    with connect(path) as con:
        orders = 3 * n
        con.execute(
            f"""
            insert into orders by name
            select 'O' || i as order_id,
                case when i % 17 = 0 then null else 'C' || hash(i) % {n} end as customer_id,
                timestamp '{DAY - timedelta(days=364)}' + to_seconds(i * (365 * 86400) // {orders}) as ordered_at,
                i % 41 = 0 as is_cancellation,
                (case when i % 41 = 0 then -1 else 1 end * (5 + hash(i * 3) % 20000 / 100.0))::decimal(18, 4) as revenue,
                'EUR' as currency, 'bench.csv' as source_file
            from range({orders}) t(i)
            """
        )
        con.execute(
            f"""
            insert into order_lines by name
            select 'O' || (i * 10 // 33) as order_id, (i % 3)::int as line_no, 'P' || hash(i) % 2000 as product_id,
                'product ' || hash(i) % 2000 as product_name, 'cat' || hash(i) % 12 as category,
                1 + (hash(i * 5) % 3)::int as quantity, (2 + hash(i * 7) % 9000 / 100.0)::decimal(18, 4) as unit_price,
                (2 + hash(i * 7) % 9000 / 100.0)::decimal(18, 4) as line_revenue
            from range({orders * 33 // 10}) t(i)
            """
        )
        con.execute(
            f"""
            insert into customer_features by name
            select date '{DAY}' as as_of, 'C' || i as customer_id, i % 7 = 0 as is_prospect,
                case when i % 7 = 0 then null else (hash(i) % 365)::int end as recency_days,
                case when i % 7 = 0 then 0 else 1 + (hash(i * 3) % 9)::int end as frequency,
                case when i % 7 = 0 then 0 else hash(i * 5) % 200000 / 100.0 end as monetary,
                hash(i * 11) % 20000 / 100.0 as avg_order_value, (hash(i * 13) % 700)::int as tenure_days,
                hash(i * 17) % 100 / 400.0 as return_rate, (hash(i) % 30)::int as distinct_products,
                (hash(i) % 8)::int as distinct_categories, 0 as sessions_30d, 0 as product_views_30d,
                0 as add_to_carts_30d, (hash(i * 19) % 40)::int as sessions_90d,
                (hash(i * 23) % 200)::int as product_views_90d, (hash(i * 29) % 20)::int as add_to_carts_90d,
                hash(i * 31) % 100 / 100.0 as cart_abandonment_rate_90d,
                (hash(i * 37) % 120)::int as days_since_last_visit,
                case when i % 7 = 0 then null else 1 + (hash(i * 41) % 5)::int end as r_score,
                case when i % 7 = 0 then null else 1 + (hash(i * 43) % 5)::int end as f_score,
                case when i % 7 = 0 then null else 1 + (hash(i * 47) % 5)::int end as m_score,
                case when i % 7 = 0 then null else ['Champions', 'Loyal Customers', 'At Risk', 'Hibernating',
                    'Lost'][1 + (hash(i * 53) % 5)::int] end as rfm_segment,
                0 as orders_total, 0 as cancelled_orders, 0 as gross_revenue, 0 as returned_value, 0 as orders_90d,
                0 as monetary_90d, now() as computed_at
            from range({n}) t(i)
            """
        )
        names = "[" + ", ".join(f"'{s}'" for s in SEGMENTS) + "]"
        for week in range(12):
            run_id = f"seg-{week:02d}"
            as_of = DAY - timedelta(days=7 * (11 - week))
            con.execute(
                f"""
                insert into segment_runs by name
                select '{run_id}' as run_id, date '{as_of}' as as_of, now() as created_at, 'kmeans' as algorithm,
                    'recluster' as mode, 6 as k, 0.35 as silhouette, {n} as n_customers, 0.9 as stability_ari,
                    '[]' as features, '{{}}' as settings, true as published, 'published' as status_reason
                """
            )
            # Each customer keeps a home segment; about 5% sit elsewhere in any given week.
            con.execute(
                f"""
                insert into segment_assignments by name
                select '{run_id}' as run_id, 'C' || i as customer_id, s + 1 as segment_id,
                    {names}[s + 1] as segment_name, 'cluster' as assigned_by
                from (select i, case when hash(i, {week}) % 20 = 0 then (hash(i, {week}, 1) % 6)::bigint
                                     else (hash(i) % 6)::bigint end as s
                      from range({n}) t(i))
                """
            )
            con.execute(
                f"""
                insert into segment_profiles by name
                select run_id, segment_id, any_value(segment_name) as segment_name, count(*) as size,
                    count(*) / {n} as share, 1 / 6 as revenue_share, 'A synthetic segment' as description,
                    '[]' as defining_features, '[]' as top_features, 'matched' as lineage
                from segment_assignments where run_id = '{run_id}' group by all
                """
            )
        con.execute(
            "insert into runs values ('r1', 'nightly', ?, now(), now(), 'completed', 'bench', null)", [DAY]
        )
        store_map(con)


def store_map(con: Any) -> None:
    """The report night's model (a transform fitted on its features) and the customer map segmentation
    stores with it, which the report reads."""
    import json

    from segmint.config import SegmentationSettings
    from segmint.segment.customer_map import draw_stored_run
    from segmint.segment.run import load_frame
    from segmint.segment.scaling import fit_transform

    features = SegmentationSettings().features
    _, transform = fit_transform(load_frame(con, DAY, features), features)
    con.execute(
        "insert into segment_models (run_id, features, transform, centroids) values ('seg-11', ?, ?, '{}')",
        [json.dumps(features), transform.to_json()],
    )
    draw_stored_run(con, "seg-11")


def measure(path: Path, out: Path) -> dict[str, float]:
    """Run in a fresh process: render the report once and report time, memory and sizes."""
    import resource

    from segmint.config import Settings, WarehouseSettings
    from segmint.report import create_report
    from segmint.report.build import build_report
    from segmint.report.charts import projection_chart, segment_colors
    from segmint.report.model import Projection
    from segmint.segment.customer_map import compute_map
    from segmint.segment.scaling import FeatureTransform
    from segmint.warehouse import connect

    settings = Settings(warehouse=WarehouseSettings(path=path), data_dir=out)
    with connect(path) as con:
        started = time.perf_counter()
        result = create_report(con, settings, DAY)
        total = time.perf_counter() - started  # cold: includes importing matplotlib, scikit-learn, templates
        started = time.perf_counter()
        result = create_report(con, settings, DAY)
        warm = time.perf_counter() - started
        started = time.perf_counter()
        build_report(con, DAY)
        queries = time.perf_counter() - started
        # What sampling saves: the customer map over every customer (segmentation draws it, the report
        # draws the chart).
        started = time.perf_counter()
        model = con.execute("select transform from segment_models where run_id = 'seg-11'").fetchall()
        full = compute_map(con, "seg-11", DAY, FeatureTransform.from_json(model[0][0]), sample=10**9)
        assert full.unavailable_reason is None, full.unavailable_reason
        projection = Projection(
            x=full.points["x"].to_list(),
            y=full.points["y"].to_list(),
            segment_ids=full.points["segment_id"].to_list(),
            names={},
            n_sampled=full.n_sampled,
            n_total=full.n_total,
            explained=full.explained,
        )
        png = projection_chart(projection, segment_colors(list(range(1, 7))))
        unsampled = time.perf_counter() - started
    return {
        "seconds": total,
        "warm_seconds": warm,
        "query_seconds": queries,
        "web_bytes": result.web_bytes,
        "email_bytes": result.email_bytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "unsampled_map_seconds": unsampled,
        "unsampled_map_png_bytes": len(png),
        "sampled_points": getattr(result.data.projection, "n_sampled", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=5_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/report"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one size, fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.measure.parent / "output")))
        return
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    rows = {}
    for n in (args.baseline, args.customers):
        folder = args.out / f"c{n}"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build_warehouse(folder / "warehouse.duckdb", n)
        print(f"{n:,} customers: warehouse ready in {time.perf_counter() - started:.1f} s")
        done = subprocess.run(
            [sys.executable, __file__, "--measure", str(folder / "warehouse.duckdb")],
            capture_output=True,
            text=True,
            check=True,
        )
        rows[n] = json.loads(done.stdout.strip().splitlines()[-1])
    print()
    print(
        "| customers | render, cold process (s) | render again (s) | of which queries (s) | report.html (MB) | email.eml (MB) | peak RSS (MB) | map points | map of every customer (s, PNG KB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in rows.items():
        print(
            f"| {n:,} | {r['seconds']:.2f} | {r['warm_seconds']:.2f} | {r['query_seconds']:.2f} | {r['web_bytes'] / 1e6:.2f} | "
            f"{r['email_bytes'] / 1e6:.2f} | {r['peak_rss_mb']:.0f} | {r['sampled_points']:,} | "
            f"{r['unsampled_map_seconds']:.1f} s, {r['unsampled_map_png_bytes'] / 1e3:.0f} |"
        )
    big, small = rows[args.customers], rows[args.baseline]
    print(
        f"\n{args.customers:,} vs {args.baseline:,} customers: render time x{big['seconds'] / small['seconds']:.1f}, "
        f"report size x{big['web_bytes'] / small['web_bytes']:.2f}"
    )


if __name__ == "__main__":
    main()
