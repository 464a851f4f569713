"""Benchmark: `[segmentation] representation` "features" against "autoencoder", on three measures.

1. Personas: ARI between the segments and the planted personas of two generators, segmint's own
   (segmint.synth.generate) and an independent one written in tests (tests/persona_shop.py).
2. Stability on the real datasets in tests/data/real: the run's own bootstrap ARI of the chosen k (refits of
   the clustering on resamples of the clustered matrix), and an end-to-end bootstrap that refits everything
   (scaling, the autoencoder with another seed, K-means at the chosen k) on a resample of the customers and
   compares with the run's segments on the customers drawn (mean ARI over --rounds).
3. Lift in next-90-day revenue: segments fitted at the split night (last day - 90), then each customer's net
   revenue in the 90 days after: eta squared of log(1 + revenue) by segment (segmint.segment.evaluate, the
   share of its variance the segments explain; the measure that decides) and the lift of the top segment: its
   mean revenue over the mean of all customers (the bottom segment's mean is often 0, so no ratio to it).

A representation wins a measure when its mean over the datasets is higher. Data are written under --out.

    PYTHONPATH=src python bench/representation.py                 # everything; prints the RESULTS.md tables
    PYTHONPATH=src python bench/representation.py --only real      # or: personas
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/persona_shop.py, the independent generator

from segmint.config import SegmentationSettings, load_settings  # noqa: E402
from segmint.features import build_features  # noqa: E402
from segmint.ingest import ingest  # noqa: E402
from segmint.segment import segment_customers  # noqa: E402
from segmint.segment.cluster import fit  # noqa: E402
from segmint.segment.evaluate import revenue_eta_squared  # noqa: E402
from segmint.segment.representation import represent  # noqa: E402
from segmint.segment.run import load_frame  # noqa: E402
from segmint.segment.scaling import fit_transform  # noqa: E402
from segmint.warehouse import connect  # noqa: E402

REPRESENTATIONS = ("features", "autoencoder")
END = date(2026, 6, 30)
HORIZON = 90
REAL = ROOT / "tests" / "data" / "real"
DATASETS = (
    ("online_retail", REAL / "online_retail" / "online_retail.csv.gz", "online_retail", date(2011, 12, 9)),
    ("cdnow_master", REAL / "cdnow" / "CDNOW_master.txt", "cdnow", date(1998, 6, 30)),
    (
        "online_retail_ii",
        REAL / "online_retail_ii" / "online_retail_ii_2009_2010.csv.gz",
        "online_retail",
        date(2010, 12, 9),
    ),
)


def _load(folder: Path, night: date) -> Path:
    settings = load_settings(folder / "segmint.toml")
    with connect(settings.warehouse.path) as con:
        ingest(con, settings, "bench")
        build_features(con, night)
    return settings.warehouse.path


def persona_shop(kind: str, out: Path, customers: int) -> tuple[Path, Path]:
    """Build a generated shop's warehouse with features for END; return it and the truth file."""
    folder = out / f"personas_{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if kind == "segmint":
        from segmint.synth.generate import generate

        generate(folder, customers=customers, days=365, end=END, seed=3, fmt="parquet", split="none")
        truth = folder / "truth" / "personas.csv"
    else:
        from tests.persona_shop import write_persona_shop

        truth = write_persona_shop(folder, customers, END, seed=11)
    return _load(folder, END), truth


def persona_scores(warehouse: Path, truth: Path) -> dict[str, dict[str, Any]]:
    """k, silhouette, ARI against the personas and seconds of each representation."""
    personas = pl.read_csv(truth)
    scores = {}
    with connect(warehouse) as con:
        for rep in REPRESENTATIONS:
            started = time.perf_counter()
            result = segment_customers(con, END, SegmentationSettings(representation=rep), run_id=rep)
            seconds = time.perf_counter() - started
            assigned = con.sql(
                "select customer_id, segment_id from segment_assignments where run_id = ?", params=[rep]
            ).pl()
            joined = assigned.join(personas, on="customer_id")
            scores[rep] = {
                "k": result.k,
                "silhouette": result.silhouette,
                "ari": float(adjusted_rand_score(joined["persona"], joined["segment_id"])),
                "customers": joined.height,
                "seconds": seconds,
                "notes": result.messages,
            }
            print(rep, scores[rep], flush=True)
    return scores


def end_to_end_stability(
    con: Any,
    night: date,
    run_id: str,
    features: list[str],
    k: int,
    settings: SegmentationSettings,
    rounds: int,
) -> float:
    """Mean ARI between the run's segments and a whole refit on a bootstrap resample of the customers."""
    frame = load_frame(con, night, features)
    reference = (
        frame.select("customer_id")
        .join(
            con.sql(
                "select customer_id, segment_id from segment_assignments where run_id = ?", params=[run_id]
            ).pl(),
            on="customer_id",
            how="left",
            maintain_order="left",
        )["segment_id"]
        .to_numpy()
    )
    values = []
    for r in range(rounds):
        seed = settings.seed + 500 + r
        rng = np.random.default_rng(seed)
        rows = np.unique(rng.choice(frame.height, size=frame.height, replace=True))
        sub = frame[rows]
        scaled, _ = fit_transform(sub, features, settings.log_features)
        again = settings.model_copy(update={"seed": seed})
        learnt = represent(con, night, sub["customer_id"], scaled, again)
        labels = fit(learnt.matrix, k, again, seed).labels
        values.append(float(adjusted_rand_score(reference[rows], labels)))
    return float(np.mean(values))


def real_scores(name: str, path: Path, preset: str, last: date, out: Path, rounds: int) -> dict[str, Any]:
    """Stability and next-90-day revenue lift of each representation at the split night of one dataset."""
    folder = out / f"real_{name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "segmint.toml").write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\nmemory_limit = '2GB'\n"
        f"[[sources]]\nname = 'shop'\nkind = 'orders'\npath = '{path}'\npreset = '{preset}'\n",
        encoding="utf-8",
    )
    split = last - timedelta(days=HORIZON)
    warehouse = _load(folder, split)
    scores: dict[str, Any] = {}
    with connect(warehouse) as con:
        for rep in REPRESENTATIONS:
            settings = SegmentationSettings(representation=rep)
            started = time.perf_counter()
            result = segment_customers(con, split, settings, run_id=rep)
            seconds = time.perf_counter() - started
            chosen = next(s for s in result.k_scores if s.chosen)
            with threadpool_limits(limits=1):
                stability = end_to_end_stability(con, split, rep, result.features, result.k, settings, rounds)
            eta = revenue_eta_squared(con, rep, split, HORIZON)
            means = con.sql(
                f"""
                select a.segment_id, avg(coalesce(l.revenue, 0)) as mean_revenue, count(*) as n
                from segment_assignments a
                left join (
                    select customer_id, sum(revenue)::double as revenue from orders
                    where ordered_at >= ?::timestamp + interval 1 day
                        and ordered_at < ?::timestamp + interval {HORIZON + 1} day
                    group by customer_id
                ) l using (customer_id)
                where a.run_id = ? group by a.segment_id
                """,
                params=[split, split, rep],
            ).pl()
            top, bottom = float(means["mean_revenue"].max()), float(means["mean_revenue"].min())  # type: ignore[arg-type]
            base = float((means["mean_revenue"] * means["n"]).sum() / means["n"].sum())
            scores[rep] = {
                "customers": result.n_customers,
                "k": result.k,
                "silhouette": result.silhouette,
                "bootstrap_ari": chosen.bootstrap_ari,
                "end_to_end_ari": stability,
                "eta_squared": eta.eta_squared,
                "top_mean": top,
                "bottom_mean": bottom,
                "base_mean": base,
                "lift": top / base if base > 0 else None,
                "seconds": seconds,
                "notes": result.messages,
            }
            print(name, rep, scores[rep], flush=True)
    return scores


def _f(value: object, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def main() -> None:
    """Run the chosen parts, save the numbers as JSON under --out, print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "representation")
    parser.add_argument("--only", choices=["personas", "real"])
    parser.add_argument("--customers", type=int, default=10_000, help="customers of segmint's generator")
    parser.add_argument("--alt-customers", type=int, default=5_000, help="customers of the test generator")
    parser.add_argument("--rounds", type=int, default=3, help="end-to-end bootstrap resamples")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}", flush=True)
    results: dict[str, Any] = {"personas": {}, "real": {}, "load": [os.getloadavg()[0]]}
    if args.only in (None, "personas"):
        for kind, n in (("segmint", args.customers), ("tests", args.alt_customers)):
            warehouse, truth = persona_shop(kind, args.out, n)
            results["personas"][kind] = persona_scores(warehouse, truth)
            results["load"].append(os.getloadavg()[0])
    if args.only in (None, "real"):
        for name, path, preset, last in DATASETS:
            results["real"][name] = real_scores(name, path, preset, last, args.out, args.rounds)
            results["load"].append(os.getloadavg()[0])
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print("\n| generator | customers | representation | k | silhouette | ARI vs personas | seconds |")
    print("|---|---|---|---|---|---|---|")
    for kind, scores in results["personas"].items():
        for rep, s in scores.items():
            print(
                f"| {kind} | {s['customers']:,} | {rep} | {s['k']} | {_f(s['silhouette'])} | {_f(s['ari'])} | {s['seconds']:.1f} |"
            )
    print("\n| dataset (split night) | customers | representation | k | bootstrap ARI (run) | end-to-end bootstrap ARI "
          "| eta squared, next-90-day log revenue | top segment lift (top / all, mean revenue) | seconds |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, scores in results["real"].items():
        for rep, s in scores.items():
            print(
                f"| {name} | {s['customers']:,} | {rep} | {s['k']} | {_f(s['bootstrap_ari'])} | {_f(s['end_to_end_ari'])} "
                f"| {_f(s['eta_squared'])} | {_f(s['lift'], 2)}x ({_f(s['top_mean'], 0)} / {_f(s['base_mean'], 0)}) "
                f"| {s['seconds']:.1f} |"
            )
    print("\nload averages:", results["load"])


if __name__ == "__main__":
    main()
