"""Prediction benchmarks: churn against a recency-only baseline, and fit times at a million customers.

    .venv/bin/python bench/predict.py quality --customers 20000 --out bench/out/predict
    .venv/bin/python bench/predict.py scale --customers 1000000

quality: generates a shop (segmint generate, two years), ingests it, builds features point in time and fits
    the churn model (trained at as_of - 180 d, validated at as_of - 90 d) next to a recency-only logistic
    regression on the same periods; prints ROC AUC, F1, precision and recall of both.
scale: simulates a million customers' purchases from a BG/NBD process with known parameters (numpy, about
    2 years), then times (1) the RFM summary + BG/NBD + Gamma-Gamma fit of segmint.predict.clv against a
    baseline fit the way the `lifetimes` package does it (per-customer likelihood, Nelder-Mead, no
    gradient) on the same summary, and (2) the churn model on order features of the same customers at two
    as-of dates (train, validate, refit, score), with its recency baseline.
Data lives under --out (default /tmp), never in the repository.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from segmint.predict import clv
from segmint.predict.churn import fit_churn

END = date(2024, 6, 30)


def machine() -> str:
    """One line describing where the numbers come from."""
    load = os.getloadavg()
    return (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"load {load[0]:.1f} at start, {date.today()}"
    )


def peak_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------------------
# quality: churn on generated data
# ---------------------------------------------------------------------------------------------------------


def quality(customers: int, out: Path, seed: int) -> None:
    """Churn model against the recency baseline on a generated shop."""
    from segmint.config import PredictSettings, load_settings
    from segmint.ingest import ingest
    from segmint.predict.runner import run_predictions
    from segmint.synth.generate import generate
    from segmint.warehouse import connect

    folder = out / f"shop-{customers}-{seed}"
    if not (folder / "segmint.toml").exists():
        generate(folder, customers=customers, days=730, end=END, seed=seed, fmt="csv", split="month")
    settings = load_settings(folder / "segmint.toml")
    settings.warehouse.path.unlink(missing_ok=True)
    with connect(settings.warehouse.path) as con:
        started = time.perf_counter()
        ingest(con, settings, "bench")
        print(f"ingest: {time.perf_counter() - started:.1f} s")
        for model in ("gradient_boosting", "random_forest"):
            started = time.perf_counter()
            outcome = run_predictions(con, PredictSettings(churn_model=model), f"bench-{model}", END)
            report = outcome.churn
            assert report is not None, outcome.messages
            m, b = report.model_scores, report.baseline_scores
            print(
                f"{model}: {customers:,} customers, trained {report.train_as_of} (n={report.n_train:,}), "
                f"validated {report.valid_as_of} (n={report.n_valid:,}, churn rate {report.churn_rate_valid:.3f}); "
                f"whole run {time.perf_counter() - started:.1f} s, churn fit {report.fit_seconds:.1f} s"
            )
            print(
                f"  model    AUC {m.roc_auc:.3f}  F1 {m.f1:.3f}  precision {m.precision:.3f}  recall {m.recall:.3f}"
            )
            print(
                f"  recency  AUC {b.roc_auc:.3f}  F1 {b.f1:.3f}  precision {b.precision:.3f}  recall {b.recall:.3f}"
            )
            print(f"  margin   AUC {m.roc_auc - b.roc_auc:+.3f}  F1 {m.f1 - b.f1:+.3f}")


# ---------------------------------------------------------------------------------------------------------
# scale: a million simulated customers
# ---------------------------------------------------------------------------------------------------------

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}  # per week, close to CDNOW's estimates


def simulate(n: int, weeks: float, seed: int) -> pl.DataFrame:
    """Purchases of n customers from a BG/NBD process; first purchases spread over the first year."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    start = rng.uniform(0, 52, n)
    ids, times = [np.arange(n)], [start]
    alive = np.ones(n, dtype=bool)
    current = start.copy()
    # Each round: every living customer waits an exponential gap, buys if still inside the window, and then
    # dies with probability p; rounds stop when nobody is left buying.
    while alive.any():
        idx = np.flatnonzero(alive)
        current[idx] += rng.exponential(1 / lam[idx])
        inside = current[idx] < weeks
        buyers = idx[inside]
        ids.append(buyers)
        times.append(current[buyers])
        alive[idx[~inside]] = False
        alive[buyers[rng.random(buyers.size) < p[buyers]]] = False
    customer = np.concatenate(ids)
    week = np.concatenate(times)
    # Spend per order: Gamma-Gamma (p=6, q=3.7, gamma=15) per customer mean, gamma noise around it.
    nu = rng.gamma(3.7, 1 / 15.0, n)
    value = rng.gamma(6.0, 1 / nu[customer])
    day0 = END - timedelta(days=int(weeks * 7))
    return pl.DataFrame(
        {
            "customer_id": customer.astype(np.int64),
            "day": pl.Series(np.floor(week * 7).astype(np.int64)).cast(pl.Int32),
            "value": value,
        }
    ).with_columns(date=pl.lit(day0) + pl.duration(days=pl.col("day")))


def lifetimes_style_bgnbd(x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> tuple[list[float], float, int]:
    """BG/NBD the way the `lifetimes` package fits it: summed per-customer log-likelihood, Nelder-Mead."""

    def neg_ll(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + t)
        a4 = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
        return float(-(a1 + a2 + np.logaddexp(a3, a4)).sum())

    result = minimize(
        neg_ll, np.zeros(4), method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6}
    )
    return [float(v) for v in np.exp(result.x)], -float(result.fun), int(result.nfev)


def order_features(tx: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The order part of customer_features for buyers up to `as_of` (the event features need clickstream)."""
    upto = tx.filter(pl.col("date") <= as_of)
    return (
        upto.group_by("customer_id")
        .agg(
            frequency=pl.len(),
            monetary=pl.col("value").sum(),
            first=pl.col("date").min(),
            last=pl.col("date").max(),
            distinct_days=pl.col("date").n_unique(),
        )
        .with_columns(
            customer_id=pl.col("customer_id").cast(pl.String),
            is_prospect=pl.lit(False),
            recency_days=(pl.lit(as_of) - pl.col("last")).dt.total_days(),
            tenure_days=(pl.lit(as_of) - pl.col("first")).dt.total_days(),
            avg_order_value=pl.col("monetary") / pl.col("frequency"),
            mean_days_between_orders=pl.when(pl.col("frequency") > 1).then(
                (pl.col("last") - pl.col("first")).dt.total_days() / (pl.col("frequency") - 1)
            ),
        )
        .drop("first", "last", "distinct_days")
    )


def scale(customers: int, seed: int, models: list[str]) -> None:
    """CLV and churn fit times on `customers` simulated customers."""
    weeks = 104.0
    started = time.perf_counter()
    tx = simulate(customers, weeks, seed)
    print(
        f"simulated {customers:,} customers, {tx.height:,} purchases in {time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    summary = clv.rfm_summary(
        tx, customer_col="customer_id", date_col="date", value_col="value", calibration_end=END
    )
    t_summary = time.perf_counter() - started
    started = time.perf_counter()
    bgnbd, gg, scores = clv.fit_clv(summary)
    t_fit = time.perf_counter() - started
    print(
        f"segmint CLV: summary {t_summary:.1f} s, fit + score {t_fit:.1f} s "
        f"(BG/NBD r={bgnbd.r:.3f} alpha={bgnbd.alpha:.3f} a={bgnbd.a:.3f} b={bgnbd.b:.3f}, LL {bgnbd.log_likelihood:,.1f}; "
        f"Gamma-Gamma p={gg.p:.2f} q={gg.q:.2f} gamma={gg.gamma:.2f} on {gg.n_customers:,}; {scores.height:,} scored)"
    )
    x = summary["frequency"].cast(pl.Float64).to_numpy()
    t_x = summary["recency"].to_numpy()
    t = summary["T"].to_numpy()
    started = time.perf_counter()
    params, ll, evaluations = lifetimes_style_bgnbd(x, t_x, t)
    t_base = time.perf_counter() - started
    print(
        f"lifetimes-style BG/NBD only (Nelder-Mead, {evaluations} likelihood evaluations): {t_base:.1f} s "
        f"(r={params[0]:.3f} alpha={params[1]:.3f} a={params[2]:.3f} b={params[3]:.3f}, LL {ll:,.1f}); "
        f"ratio {t_base / t_fit:.1f}x"
    )
    print(f"true BG/NBD parameters: {TRUE}; peak memory {peak_mb():,.0f} MB")

    horizon = 90
    cache: dict[date, pl.DataFrame] = {}

    def features_at(day: date, customers: pl.Series | None = None) -> pl.DataFrame:
        if day not in cache:
            cache[day] = order_features(tx, day)
        return cache[day]

    def active_after(day: date, days: int) -> pl.DataFrame:
        window = tx.filter((pl.col("date") > day) & (pl.col("date") <= day + timedelta(days=days)))
        return window.select(pl.col("customer_id").cast(pl.String)).unique()

    for model in models:
        started = time.perf_counter()
        result = fit_churn(features_at, active_after, END, horizon_days=horizon, model=model)
        elapsed = time.perf_counter() - started
        r = result.report
        print(
            f"churn {model}: train n={r.n_train:,}, validate n={r.n_valid:,}, score n={result.scores.height:,}; "
            f"fit (train + threshold + refit + score) {r.fit_seconds:.1f} s, with features {elapsed:.1f} s; "
            f"AUC {r.model_scores.roc_auc:.3f} vs recency {r.baseline_scores.roc_auc:.3f}, "
            f"F1 {r.model_scores.f1:.3f} vs {r.baseline_scores.f1:.3f}; peak memory {peak_mb():,.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["quality", "scale"])
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/out/predict"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--models", nargs="+", default=["gradient_boosting"], choices=["gradient_boosting", "random_forest"]
    )
    args = parser.parse_args()
    print(machine())
    if args.part == "quality":
        quality(args.customers or 20_000, args.out, args.seed)
    else:
        scale(args.customers or 1_000_000, args.seed, args.models)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
