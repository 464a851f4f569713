"""Churn and CLV fitted on a sample past [predict] max_training_rows, against the fit on every customer.

    .venv/bin/python bench/fit_sampling.py --customers 1000000 --max-training-rows 200000

Purchases of `--customers` customers simulated from a BG/NBD process (bench/predict.py's `simulate`,
2 years to 2024-06-30; no `segmint generate`). Side by side in one process:
  * churn (gradient boosting on order features; trained at as_of - 180 d, validated at as_of - 90 d,
    refitted and scoring everyone): ROC AUC on the validation period and fit time, full against sampled;
  * CLV (segmint's checked BG/NBD + Gamma-Gamma) fitted on purchases up to as_of - 90 d, predicting each
    customer's purchase days in the 90 days after: mean absolute error per customer and total predicted
    against actual, full against sampled.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from segmint.predict import clv
from segmint.predict.churn import fit_churn

_spec = importlib.util.spec_from_file_location("bench_predict", Path(__file__).with_name("predict.py"))
assert _spec is not None and _spec.loader is not None
bench_predict: Any = importlib.util.module_from_spec(_spec)  # a script, untyped
_spec.loader.exec_module(bench_predict)
END = bench_predict.END
HOLDOUT_DAYS = 90


def churn_side_by_side(tx: pl.DataFrame, max_rows: int) -> list[dict[str, Any]]:
    cache: dict[Any, pl.DataFrame] = {}

    def features_at(day: Any, customers: Any = None) -> pl.DataFrame:
        if day not in cache:
            cache[day] = bench_predict.order_features(tx, day)
        return cache[day]

    def active_after(day: Any, days: int) -> pl.DataFrame:
        window = tx.filter((pl.col("date") > day) & (pl.col("date") <= day + timedelta(days=days)))
        return window.select(pl.col("customer_id").cast(pl.String)).unique()

    rows = []
    for label, limit in (("full", None), ("sampled", max_rows)):
        started = time.perf_counter()
        result = fit_churn(features_at, active_after, END, horizon_days=90, max_training_rows=limit)
        r = result.report
        rows.append(
            {
                "fit": label,
                "train": r.n_train if limit is None else min(limit, r.n_train),
                "of": r.n_train,
                "auc": r.model_scores.roc_auc,
                "f1": r.model_scores.f1,
                "baseline_auc": r.baseline_scores.roc_auc,
                "seconds": time.perf_counter() - started,
                "scored": result.scores.height,
            }
        )
    return rows


def clv_side_by_side(tx: pl.DataFrame, max_rows: int, seed: int) -> list[dict[str, Any]]:
    calibration_end = END - timedelta(days=HOLDOUT_DAYS)
    calibration = tx.filter(pl.col("date") <= calibration_end)
    summary = clv.rfm_summary(
        calibration,
        customer_col="customer_id",
        date_col="date",
        value_col="value",
        calibration_end=calibration_end,
    )
    actual = (
        tx.filter((pl.col("date") > calibration_end) & (pl.col("date") <= END))
        .group_by("customer_id")
        .agg(actual=pl.col("date").n_unique().cast(pl.Float64))
    )
    truth = summary.select("customer_id").join(actual, on="customer_id", how="left")["actual"].fill_null(0.0)
    rows = []
    for label, limit in (("full", None), ("sampled", max_rows)):
        started = time.perf_counter()
        checked = clv.fit_clv_checked(summary, horizon_days=HOLDOUT_DAYS, max_training_rows=limit, seed=seed)
        seconds = time.perf_counter() - started
        assert checked.scores is not None and checked.purchase is not None, checked.unreliable
        predicted = checked.scores[f"expected_purchases_{HOLDOUT_DAYS}d"].to_numpy()
        rows.append(
            {
                "fit": label,
                "train": checked.purchase.n_customers,
                "of": summary.height,
                "model": checked.purchase.model,
                "mae": float(np.mean(np.abs(predicted - truth.to_numpy()))),
                "ratio": float(predicted.sum() / truth.sum()),
                "seconds": seconds,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--max-training-rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(bench_predict.machine())
    started = time.perf_counter()
    tx = bench_predict.simulate(args.customers, 104.0, args.seed)
    print(
        f"simulated {args.customers:,} customers, {tx.height:,} purchases in {time.perf_counter() - started:.1f} s\n"
    )
    print(
        "| CLV fit | customers fitted | of | model | holdout MAE (purchase days per customer) | predicted / actual | fit + score |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in clv_side_by_side(tx, args.max_training_rows, args.seed):
        print(
            f"| {r['fit']} | {r['train']:,} | {r['of']:,} | {r['model']} | {r['mae']:.4f} | {r['ratio']:.3f} | "
            f"{r['seconds']:.1f} s |"
        )
    print("\n| churn fit | buyers fitted | of | ROC AUC | F1 | recency AUC | train + refit + score |")
    print("|---|---|---|---|---|---|---|")
    for r in churn_side_by_side(tx, args.max_training_rows):
        print(
            f"| {r['fit']} | {r['train']:,} | {r['of']:,} | {r['auc']:.4f} | {r['f1']:.4f} | "
            f"{r['baseline_auc']:.4f} | {r['seconds']:.1f} s |"
        )
    print(f"\npeak memory {bench_predict.peak_mb():,.0f} MB, total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
