"""Every public shop dataset through the whole job, with the real commands a shop owner runs.

For each dataset: `segmint run nightly` (a Prefect flow run), `segmint report`, `segmint campaigns build`
with campaigns.example.toml and `segmint run weekly-report`. Each exits 0 without a traceback; the run is
completed, segments are published, buyers have churn scores and lifetime values (or the run says in plain
words why not), and the report opens in headless chromium without errors (screenshot in test-artifacts/).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from e2e.wholejob import (
    CHURN_SKIPPED,
    CLV_SKIPPED,
    REAL,
    Job,
    assert_no_traceback,
    says_why,
    source,
    write_config,
)
from real_layouts import cdnow_sample_as_master

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


@dataclass(frozen=True)
class Shop:
    """A dataset as a shop: its sources (written into the test's folder) and its last day of data."""

    name: str
    as_of: date
    sources: Callable[[Path], str]
    # Plain-language reasons the run may give instead of a result, when the data is too short for it.
    segments_expected: bool = True
    predictions_expected: bool = True


def _rees46_beside_orders(folder: Path) -> Path:
    # The REES46 events (17 minutes of 2019-10-01) moved to the last afternoon of the Online Retail II
    # slice, and their visitors mapped onto its customers in order of first appearance, so the same
    # people order and browse; visitors beyond the slice's customers stay browsers who never bought.
    orders = REAL / "online_retail_ii" / "online_retail_ii_head5000.csv.gz"
    first_seen = duckdb.sql(
        f"select regexp_replace(\"Customer ID\", '\\.0$', '') as id, row_number() over () as n "
        f"from read_csv('{orders}', all_varchar = true)"
    )
    customers = [
        str(r[0])
        for r in first_seen.filter("id is not null").aggregate("id, min(n) as n").order("n").fetchall()
    ]
    events = pl.read_csv(REAL / "rees46_sample" / "2019-Oct-head1000.csv", infer_schema=False)
    visitors = list(dict.fromkeys(events["user_id"].to_list()))
    as_customer = {v: customers[i] if i < len(customers) else v for i, v in enumerate(visitors)}
    shift = datetime(2009, 12, 2, 15, 0) - datetime(2019, 10, 1, 0, 0)
    moved = events.with_columns(
        event_time=(
            pl.col("event_time").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S UTC") + shift
        ).dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        user_id=pl.col("user_id").replace_strict(as_customer, return_dtype=pl.String),
    )
    path = folder / "events.csv"
    moved.write_csv(path)
    return path


SHOPS = [
    Shop(
        "online_retail",
        date(2011, 12, 9),
        lambda _: source("shop", "orders", REAL / "online_retail" / "online_retail.csv.gz", "online_retail"),
    ),
    Shop(
        "online_retail_ii",
        date(2010, 12, 9),
        lambda _: source(
            "shop", "orders", REAL / "online_retail_ii" / "online_retail_ii_2009_2010.csv.gz", "online_retail"
        ),
    ),
    Shop(
        "cdnow_master",
        date(1998, 6, 30),
        lambda _: source("shop", "orders", REAL / "cdnow" / "CDNOW_master.txt", "cdnow"),
    ),
    Shop(
        "cdnow_sample",
        date(1997, 9, 30),
        lambda folder: source("shop", "orders", cdnow_sample_as_master(folder), "cdnow"),
    ),
    Shop(
        "online_retail_ii_with_rees46_events",
        date(2009, 12, 2),
        lambda folder: (
            source(
                "shop",
                "orders",
                REAL / "online_retail_ii" / "online_retail_ii_head5000.csv.gz",
                "online_retail",
            )
            + source("web", "events", _rees46_beside_orders(folder), "rees46")
        ),
        predictions_expected=False,  # two days of orders: churn and CLV say why they cannot run
    ),
    Shop(
        "shopify",
        date(2024, 3, 6),
        lambda _: source("shop", "orders", REAL.parent / "shopify" / "orders_export.csv", "shopify_orders"),
        segments_expected=False,  # three customers: segmentation says why it cannot run
        predictions_expected=False,
    ),
]


def _predictions(job: Job) -> tuple[str, int, int, int, str]:
    row = job.one(
        """
        select p.run_id, count(*) filter (where not f.is_prospect),
            count(c.churn_score) filter (where not f.is_prospect),
            count(c.clv_12m) filter (where not f.is_prospect), coalesce(any_value(p.message), '')
        from prediction_runs p
        join customer_predictions c using (run_id)
        join customer_features f on f.customer_id = c.customer_id and f.as_of = p.as_of
        where p.as_of = ?
        group by p.run_id, p.created_at order by p.created_at desc limit 1
        """,
        [job.as_of],
    )
    assert row is not None, "no prediction run for the night"
    return str(row[0]), int(row[1]), int(row[2]), int(row[3]), str(row[4])


def _assert_fader_hardie_lee(job: Job) -> None:
    # The nightly's own BG/NBD fit on all 2,357 customers, zero-value purchases counted as purchases:
    # Fader, Hardie & Lee (2005), r 0.243, alpha 4.414, a 0.793, b 2.426, log-likelihood -9582.4.
    row = job.one(
        "select params, log_likelihood, n_customers from clv_models "
        "where model = 'bgnbd' and used and as_of = ? order by run_id desc limit 1",
        [job.as_of],
    )
    assert row is not None, "no BG/NBD fit stored for the night"
    params = json.loads(row[0])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert {k: round(params[k], 3) for k in published} == pytest.approx(published, abs=0.002)
    assert row[1] == pytest.approx(-9582.4, rel=0.001) and row[2] == 2357


def _assert_report_and_segments_name_the_same_features(job: Job) -> None:
    # One source: the report's "Defined by" and `segmint segments` both read the stored profiles.
    from segmint.report import build_report
    from segmint.segment.show import segments_summary

    with job.read() as con:
        summary = segments_summary(con)
        data = build_report(con, job.as_of)
    listed = {s["segment_id"]: s["defined_by"] for s in summary["segments"]}
    shown = {s.segment_id: [d.feature for d in s.defining] for s in data.segment_list}
    assert getattr(data.segment_run, "run_id", None) == summary["run_id"]
    assert shown == listed and all(listed.values()), (shown, listed)


@pytest.mark.parametrize("shop", SHOPS, ids=[s.name for s in SHOPS])
def test_the_whole_job_on_a_real_shop(
    shop: Shop,
    tmp_path: Path,
    whole_job: Callable[[Path, date], Job],
    report_in_browser: Callable[[Path, str], dict[str, Any]],
) -> None:
    config = write_config(tmp_path, shop.sources(tmp_path))
    job = whole_job(config, shop.as_of)

    assert_no_traceback(job)
    for step, done in job.steps.items():
        assert done.returncode == 0, f"{step} exited {done.returncode}:\n{job.output(step)[-3000:]}"
    run = job.one(
        "select status, message from runs where flow = 'nightly' and as_of = ? order by started_at desc",
        [shop.as_of],
    )
    assert run is not None and run[0] == "completed", run

    published = job.one(
        "select count(*) filter (where published), any_value(status_reason) from segment_runs where as_of = ?",
        [shop.as_of],
    )
    if shop.segments_expected:
        assert published is not None and published[0] == 1, (published, run[1])
        _assert_report_and_segments_name_the_same_features(job)
    else:
        assert "segments not computed: " in str(run[1]), run[1]

    prediction_run_id, buyers, churn, clv, message = _predictions(job)
    assert buyers > 0
    if shop.predictions_expected:
        assert churn == buyers, message
        assert clv == buyers, message
    else:
        assert churn == buyers or says_why(message, CHURN_SKIPPED), message
        assert clv == buyers or says_why(message, CLV_SKIPPED), message
    # Every buyer the purchase model scored (a net purchase left) also has a next order and its chance.
    next_order = job.one(
        "select count(days_to_next_order), count(p_order_30d), count(frequency_repeat), "
        "count(*) filter (where next_order_date < as_of) from customer_predictions where run_id = ?",
        [prediction_run_id],
    )
    assert next_order is not None and next_order[3] == 0
    assert next_order[0] == next_order[1] == next_order[2], (next_order, message)
    if clv == buyers:
        assert next_order[0] > 0.9 * buyers, (next_order, message)
    if shop.name == "cdnow_sample":
        _assert_fader_hardie_lee(job)
    report = tmp_path / "data" / "reports" / shop.as_of.isoformat() / "report.html"
    assert report.is_file(), job.output("report")[-2000:]
    shown = report_in_browser(report, shop.name)
    seen = shown["seen"]
    assert seen.console_errors == [] and seen.exceptions == [] and seen.log_errors == []
    assert [u for u in seen.requests if not u.startswith(("data:", "file:"))] == []
    assert shown["sections"] and all(visible for _, visible in shown["sections"]), shown["sections"]
    assert shown["screenshot"].stat().st_size > 20_000
    if not shop.segments_expected:
        assert "No segments yet: " in shown["text"]
    elif clv == buyers:
        assert "due to order within 7 days" in shown["text"].lower()  # headers are set in capitals
