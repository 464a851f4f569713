"""Benchmark: the three recommenders on a real shop, trained up to a split and judged on the days after.

Loads one orders file (a preset of segmint's, Online Retail by default) into a fresh warehouse under --out
(never the repository), then runs segmint.predict.recommend.evaluate as the nightly does, with the night
at split + days: every method trained on orders up to the split, judged on the `days` after. Prints hit
rate and precision at 5 and coverage of each method with the time it took to train and recommend for
every customer, then the cost of the evaluation each `[predict] recommender` setting runs every night
(the setting and popularity; "auto" all three).

    python bench/recommend.py                                   # Online Retail, split 2011-09-09
    python bench/recommend.py tests/data/real/online_retail_ii/online_retail_ii_2009_2010.csv.gz \\
        --split 2010-09-10
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from segmint.config import SourceSettings
from segmint.ingest import load_file
from segmint.predict.basket import BasketThresholds
from segmint.predict.recommend import EVAL_K, NEIGHBOURS, Evaluation, evaluate, evaluated_methods
from segmint.warehouse import connect

ROOT = Path(__file__).resolve().parent.parent
RETAIL = ROOT / "tests" / "data" / "real" / "online_retail" / "online_retail.csv.gz"
LABELS = {
    "neighbours": "item-item neighbours (cosine, {n} neighbours)",
    "rules": "co-occurrence rules (30-day weighting, no segments)",
    "popularity": "popularity",
}


def machine() -> str:
    """One line describing where the numbers come from."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    load = os.getloadavg()
    return (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, {memory_gb:.1f} GB, python "
        f"{platform.python_version()}, duckdb {duckdb.__version__}, load {load[0]:.1f} at start, "
        f"{date.today()}"
    )


def load(con: duckdb.DuckDBPyConnection, path: Path, preset: str) -> float:
    """Load `path` as one orders source; return the seconds it took."""
    started = time.perf_counter()
    source = SourceSettings(name="orders", kind="orders", path=str(path), preset=preset)
    result = load_file(con, source, path, "bench")
    if result.status != "loaded":
        raise SystemExit(f"{path}: {result.message}")
    return time.perf_counter() - started


def table(evaluation: Evaluation, name: str, neighbours: int) -> str:
    """The RESULTS.md table of one evaluation."""
    judged = evaluation.scores[0].customers_evaluated if evaluation.scores else 0
    lines = [
        f"| {name}, split {evaluation.train_end}, {judged:,} customers, {evaluation.catalogue_items:,} "
        f"products | hit rate at {evaluation.k} | precision at {evaluation.k} | coverage | seconds |",
        "|---|---|---|---|---|",
    ]
    for s in sorted(evaluation.scores, key=lambda s: -s.hit_rate):
        label = LABELS[s.method].format(n=neighbours)
        lines.append(
            f"| {label} | {s.hit_rate:.3f} | {s.precision:.3f} | {s.coverage:.3f} | {s.seconds:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, load the file, evaluate and print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", nargs="?", type=Path, default=RETAIL, help="the orders file")
    parser.add_argument("--preset", default="online_retail", help="segmint's column preset for the file")
    parser.add_argument(
        "--split", type=date.fromisoformat, default=date(2011, 9, 9), help="last training day"
    )
    parser.add_argument("--days", type=int, default=90, help="days judged after the split")
    parser.add_argument(
        "--neighbours", type=int, default=NEIGHBOURS, help="similar products kept per product"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the warehouse (default: a temp dir)"
    )
    args = parser.parse_args()

    print(machine())
    with tempfile.TemporaryDirectory(dir=args.out) as folder:
        con = connect(Path(folder) / "bench.duckdb")
        print(f"load {args.path.name}: {load(con, args.path, args.preset):.1f} s")
        night = args.split + timedelta(days=args.days)
        started = time.perf_counter()
        evaluation = evaluate(
            con,
            night,
            days=args.days,
            k=EVAL_K,
            recency_days=30.0,
            thresholds=BasketThresholds(),
            n_neighbours=args.neighbours,
        )
        total = time.perf_counter() - started
        if evaluation.message:
            raise SystemExit(evaluation.message)
        print(f"evaluate all three: {total:.1f} s")
        print()
        print(table(evaluation, args.path.name, args.neighbours))
        print()
        popularity = evaluation.of("popularity")
        for s in evaluation.scores:
            if popularity is not None and s.method != "popularity":
                lift = s.hit_rate / popularity.hit_rate - 1 if popularity.hit_rate else float("nan")
                print(f"{s.method} over popularity, hit rate at {evaluation.k}: {lift:+.0%} relative")
        print()
        # What a night pays for its check under each setting, measured apart (new-items query included).
        for setting in ("neighbours", "rules", "popularity", "auto"):
            methods = evaluated_methods(setting)
            started = time.perf_counter()
            evaluate(
                con, night, days=args.days, recency_days=30.0, methods=methods, n_neighbours=args.neighbours
            )
            print(
                f"nightly evaluation, recommender = {setting!r} ({', '.join(methods)}): "
                f"{time.perf_counter() - started:.1f} s"
            )
        con.close()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
