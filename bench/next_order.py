"""Benchmark: next-order predictions on real shops, made at a split and judged on the 90 days after.

Each dataset is loaded from tests/data/real into a fresh warehouse under --out (never the repository).
Net purchases up to split = last day - 90 days are summarised as the nightly does and every purchase
model of the nightly's chain is fitted (BG/NBD, MBG/NBD, Pareto/NBD); for each, P(order within 30 days)
and days to the next order are judged on the purchases after the split, beside the baselines the nightly
check stores: days since the last order (AUC), a constant rate (Brier), and last order + own mean gap
(days off, both capped at the 90 days). A rejected model is still judged, marked as such: the nightly
uses the first accepted one.

    python bench/next_order.py
    python bench/next_order.py --only cdnow_master
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path

# bench/ is on the path when this script runs
from realdata import DATASETS, Dataset
from recommend import load, machine
from segmint.predict import clv
from segmint.predict.next_order import check_next_order
from segmint.predict.runner import clv_transactions, shop_history
from segmint.warehouse import connect

HOLDOUT = 90


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def rows(dataset: Dataset, folder: Path) -> list[str]:
    """One RESULTS.md row per purchase model fitted at the split."""
    con = connect(folder / f"{dataset.name}.duckdb")
    load(con, dataset.path, dataset.preset)
    split = dataset.last_day - timedelta(days=HOLDOUT)
    everything = clv_transactions(con, dataset.last_day)
    calibration = clv_transactions(con, split)
    summary = clv.rfm_summary(
        calibration,
        customer_col="customer_id",
        date_col="ordered_at",
        value_col="revenue",
        calibration_end=split,
    )
    checked = clv.fit_clv_checked(summary, horizon_days=HOLDOUT, history=shop_history(calibration))
    out = []
    for fit in checked.fits:
        if not isinstance(fit.params, clv.BGNBDParams | clv.ParetoNBDParams):
            continue
        check = check_next_order(fit.params, summary, everything, split, dataset.last_day)
        if check is None:
            continue
        used = "used" if fit.used else f"rejected: {fit.diagnosis}"
        out.append(
            f"| {dataset.name}, split {split} | {clv.MODEL_NAMES[fit.name]} ({used}) | {check.n_customers:,} "
            f"| {check.predicted_share:.3f} / {check.ordered_share:.3f} "
            f"| {_f(check.auc)} ({_f(check.auc_recency)}) | {check.brier:.4f} ({check.brier_base:.4f}) "
            f"| {_f(check.mae_days, 1)} ({_f(check.mae_days_model, 1)}; {_f(check.mae_days_baseline, 1)}) |"
        )
    con.close()
    return out


def main() -> None:
    """Load, fit and judge every dataset; print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", help="dataset name (repeatable)")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the warehouses (default: a temp dir)"
    )
    args = parser.parse_args()
    print(machine())
    print(
        "| dataset | purchase model | customers | P(order in 30 d): mean predicted / ordered "
        "| AUC (days since last order) | Brier (constant rate) "
        "| days off, capped at 90 (model's wait alone; last order + own gap) |\n|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(dir=args.out) as folder:
        for dataset in DATASETS:
            if not args.only or dataset.name in args.only:
                print("\n".join(rows(dataset, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
