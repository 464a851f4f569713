"""Benchmark: the whole nightly on every public shop dataset, and how good its models are on a later period.

Per dataset, in a folder under --out (never the repository): a segmint.toml over the file in
tests/data/real, then two `segmint run nightly` runs in fresh processes against one Prefect server started
here: first at the split night (the last day of data minus 90 days; this run loads the whole file), then
at the last day. From the warehouse they wrote:

- rows read and customers; wall time and peak memory of each nightly process;
- k and silhouette of the last night's published segments;
- churn ROC AUC and F1 of the model and of the recency-only baseline, validated on the later period the
  nightly holds out (churn_models);
- the lifetime-value holdout check the nightly stores (clv_validation): mean absolute error per customer
  and predicted / actual purchases in total;
- hit rate at 5 of the split night's basket recommendations over the next 90 days, beside the 5 best
  sellers each customer does not own yet;
- the share of the next 90 days' log(1 + revenue) per customer that the split night's segments explain
  (eta squared), beside the 11 RFM groups of the same night.

    python bench/realdata.py                      # every dataset; prints the RESULTS.md table
    python bench/realdata.py --only online_retail
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "real"
SEGMINT = [sys.executable, "-c", "from segmint.cli import main; main()"]
HORIZON = 90


@dataclass(frozen=True)
class Dataset:
    """A public dataset as one shop: its file, preset and last day of data."""

    name: str
    path: Path
    preset: str
    last_day: date


DATASETS = (
    Dataset("cdnow_master", REAL / "cdnow" / "CDNOW_master.txt", "cdnow", date(1998, 6, 30)),
    Dataset(
        "online_retail", REAL / "online_retail" / "online_retail.csv.gz", "online_retail", date(2011, 12, 9)
    ),
    Dataset(
        "online_retail_ii",
        REAL / "online_retail_ii" / "online_retail_ii_2009_2010.csv.gz",
        "online_retail",
        date(2010, 12, 9),
    ),
)


@dataclass
class Night:
    """One nightly process: its exit code, wall time and peak memory."""

    returncode: int
    seconds: float
    peak_mb: float
    output: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """One Prefect server for every run of the bench, so no run pays for starting its own."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the Prefect server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_night(config: Path, night: date, api_url: str) -> Night:
    """`segmint run nightly --as-of NIGHT` in a fresh process, timed, with its own peak RSS (wait4)."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*SEGMINT, "run", "nightly", "--config", str(config), "--as-of", night.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Night(proc.returncode, seconds, usage.ru_maxrss / 1024, output)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> tuple[Any, ...] | None:
    row = con.execute(sql, params).fetchone()
    return tuple(row) if row else None


def measure(con: duckdb.DuckDBPyConnection, dataset: Dataset, split: date) -> dict[str, object]:
    """The table's columns, read from what the two nightly runs stored."""
    from segmint.predict.hit_rate import recommendation_hit_rate
    from segmint.segment.evaluate import revenue_eta_squared, rfm_eta_squared

    last = dataset.last_day
    facts: dict[str, object] = {}
    row = _one(con, "select sum(rows_read) from loaded_files", [])
    facts["rows"] = int(row[0]) if row and row[0] is not None else 0
    row = _one(con, "select count(*) from customer_features where as_of = ? and not is_prospect", [last])
    facts["customers"] = int(row[0]) if row else 0
    row = _one(
        con,
        "select k, silhouette from segment_runs where as_of = ? and published order by created_at desc",
        [last],
    )
    facts["k"], facts["silhouette"] = row if row else (None, None)
    row = _one(
        con,
        "select m.roc_auc, m.f1, m.baseline_roc_auc, m.baseline_f1 from churn_models m "
        "join prediction_runs p using (run_id) where p.as_of = ? order by p.created_at desc",
        [last],
    )
    facts["churn"] = row
    row = _one(
        con,
        "select v.purchases_mae, v.purchases_ratio, v.baseline_mae, v.baseline_ratio, v.message "
        "from clv_validation v "
        "join prediction_runs p using (run_id) where p.as_of = ? order by p.created_at desc",
        [last],
    )
    facts["clv"] = row
    prediction = _one(
        con, "select run_id from prediction_runs where as_of = ? order by created_at desc", [split]
    )
    facts["hits"] = (
        recommendation_hit_rate(con, str(prediction[0]), split, days=HORIZON) if prediction else None
    )
    segment_run = _one(
        con,
        "select run_id, k from segment_runs where as_of = ? and published order by created_at desc",
        [split],
    )
    facts["eta"] = (
        (
            revenue_eta_squared(con, str(segment_run[0]), split, days=HORIZON),
            rfm_eta_squared(con, split, HORIZON),
        )
        if segment_run
        else None
    )
    return facts


def _f(value: object, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def row_markdown(dataset: Dataset, split: date, first: Night, second: Night, facts: dict[str, object]) -> str:
    """One row of the RESULTS.md table."""
    churn = facts["churn"]
    churn_text = (
        f"{_f(churn[0])} / {_f(churn[1])} (recency {_f(churn[2])} / {_f(churn[3])})"
        if isinstance(churn, tuple)
        else "n/a"
    )
    clv = facts["clv"]
    clv_text = (
        f"MAE {_f(clv[0], 2)}, total {_f(clv[1], 2)}x (past-rate baseline {_f(clv[2], 2)}, {_f(clv[3], 2)}x)"
        + (f"; {clv[4]}" if clv[4] else "")
        if isinstance(clv, tuple)
        else "n/a"
    )
    hits = facts["hits"]
    hits_text = (
        f"{_f(hits.recommendations)} vs {_f(hits.popularity)} ({hits.customers:,} customers)"
        if hits is not None
        else "n/a"
    )
    eta = facts["eta"]
    eta_text = (
        f"{_f(eta[0].eta_squared)} ({eta[0].groups} segments) vs {_f(eta[1].eta_squared)} ({eta[1].groups} RFM groups)"
        if isinstance(eta, tuple)
        else "n/a"
    )
    return (
        f"| {dataset.name} | {facts['rows']:,} | {facts['customers']:,} | {first.seconds:.0f} s / {second.seconds:.0f} s "
        f"| {first.peak_mb:,.0f} / {second.peak_mb:,.0f} MB | {facts['k']} / {_f(facts['silhouette'])} | {churn_text} "
        f"| {clv_text} | {hits_text} | {eta_text} |"
    )


HEADER = (
    "| dataset | rows | buyers | nightly: split night (loads all) / last night | peak RSS | k / silhouette "
    "| churn AUC / F1 (later period) | CLV holdout | hit rate at 5: rules vs popularity (split + 90 d) "
    "| next-90-day log revenue explained (eta squared) |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    """Run every dataset and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/real"))
    parser.add_argument("--only", action="append", help="dataset name (repeatable)")
    args = parser.parse_args()
    chosen = [d for d in DATASETS if not args.only or d.name in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rows = []
    with prefect_server(args.out / "prefect") as api_url:
        for dataset in chosen:
            folder = args.out / dataset.name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            config = folder / "segmint.toml"
            config.write_text(
                "[warehouse]\npath = 'warehouse.duckdb'\n"
                f"[[sources]]\nname = 'shop'\nkind = 'orders'\npath = '{dataset.path}'\npreset = '{dataset.preset}'\n",
                encoding="utf-8",
            )
            split = dataset.last_day - timedelta(days=HORIZON)
            nights = [run_night(config, night, api_url) for night in (split, dataset.last_day)]
            for night in nights:
                if night.returncode != 0:
                    print(night.output[-3000:], file=sys.stderr)
            with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
                facts = measure(con, dataset, split)
            rows.append(row_markdown(dataset, split, nights[0], nights[1], facts))
            print(rows[-1], flush=True)
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
