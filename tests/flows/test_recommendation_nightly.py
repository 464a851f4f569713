"""The nightly recommendation evaluation through the real `segmint run nightly` (Prefect), then `segmint report`:
one set of rows per night with the three measures, a rerun replaces them, and a shop that cannot be judged
(one product, or nobody buying twice) says why in plain words."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

import shops
from segmint.config import PredictSettings, SourceSettings
from segmint.features import build_features
from segmint.ingest import load_file
from segmint.predict.runner import run_predictions
from segmint.warehouse import connect

END = date(2026, 11, 8)
# 150 customers over 200 days: 24 of them bought before END - 90 days and something new after.
SHOP = shops.ShopShape(customers=150, days=200, end=END, events=False, seed=11)


def run(api_url: str, *argv: str) -> tuple[int, str]:
    """Run the real CLI in a process against the session's Prefect server; its exit code and output."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    command = [sys.executable, "-c", "from segmint.cli import main; main()", *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


def _evaluations(warehouse: Path) -> list[tuple[object, ...]]:
    with connect(warehouse, read_only=True) as con:
        return con.execute(
            "select as_of, train_end, method, is_default, customers_evaluated, hit_rate_at_5, precision_at_5, "
            "coverage, run_id from recommendation_evaluations order by as_of, method"
        ).fetchall()


@pytest.mark.slow  # three real nightlies and a report
def test_each_night_stores_the_recommender_and_popularity_once(tmp_path: Path, prefect_api_url: str) -> None:
    config = shops.write_shop(tmp_path, SHOP)
    warehouse = tmp_path / "warehouse.duckdb"
    for night in (END - timedelta(days=1), END, END):  # the last night twice: a rerun
        code, out = run(prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", str(night))
        assert code == 0 and "Traceback" not in out, out[-3000:]
    rows = _evaluations(warehouse)
    # Two nights x (neighbours, the default, and popularity, the floor); the rules are not mined again.
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (END - timedelta(days=1), "neighbours", True),
        (END - timedelta(days=1), "popularity", False),
        (END, "neighbours", True),
        (END, "popularity", False),
    ]
    for as_of, train_end, _, _, judged, hit, precision, coverage, _ in rows:
        assert train_end == as_of - timedelta(days=90)  # type: ignore[operator]
        assert isinstance(judged, int) and judged >= 20
        for measure in (hit, precision, coverage):
            assert isinstance(measure, float) and 0 < measure <= 1
    with connect(warehouse, read_only=True) as con:
        last_run = con.execute(
            "select run_id from runs where flow = 'nightly' and as_of = ? order by started_at desc limit 1",
            [END],
        ).fetchall()[0][0]
    assert {r[8] for r in rows if r[0] == END} == {last_run}  # the rerun's rows replaced the first run's

    code, out = run(prefect_api_url, "report", "--config", str(config), "--as-of", str(END))
    assert code == 0, out
    html = (tmp_path / "reports" / str(END) / "report.html").read_text(encoding="utf-8")
    assert '<table id="recommendation-check">' in html
    assert "Similar products (bought by the same customers) (in use)" in html and "Best sellers" in html


def _predict(tmp_path: Path, shape: shops.ShopShape) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Load the shop, build its features and run the predictions with the defaults; the run's message."""
    shops.write_shop(tmp_path, shape)
    con = connect(":memory:")
    path = tmp_path / "orders" / "orders.csv"
    source = SourceSettings(name="shop", kind="orders", path=str(path), preset="canonical")
    assert load_file(con, source, path, "t").status == "loaded"
    build_features(con, END)
    run_predictions(con, PredictSettings(), "p1", END)
    message = con.execute("select message from prediction_runs where run_id = 'p1'").fetchall()[0][0]
    return con, str(message)


@pytest.mark.parametrize(
    ("shape", "why"),
    [
        (
            shops.ShopShape(customers=150, days=200, end=END, events=False, products=1),
            "recommendations not evaluated: 1 product sold in the 365 days up to 2026-08-10, and a customer "
            "is only recommended products they have not bought, so there is nothing to judge",
        ),
        (
            shops.ShopShape(customers=150, days=200, end=END, events=False, one_order_each=True),
            "recommendations not evaluated: 0 customers bought before 2026-08-10 and then a product new to "
            "them in the 90 days after, fewer than the 20 a hit rate needs (it judges what returning "
            "customers buy next)",
        ),
        (
            shops.ShopShape(customers=40, days=60, end=END, events=False),
            "recommendations not evaluated: the check trains on orders up to 90 days before the night and "
            "judges the 90 days after, so it needs more than 90 days of orders; you have 57",  # first order on day 4
        ),
    ],
    ids=["one_product", "no_repeat_buyers", "two_months"],
)
def test_a_shop_that_cannot_be_judged_says_why_and_stores_nothing(
    tmp_path: Path, shape: shops.ShopShape, why: str
) -> None:
    con, message = _predict(tmp_path, shape)
    assert why in message
    assert con.execute("select count(*) from recommendation_evaluations").fetchall() == [(0,)]
    # The recommendations themselves still ran (a one-product shop has nothing left to suggest).
    n = con.execute("select count(*) from basket_recommendations where run_id = 'p1'").fetchall()[0][0]
    assert n == 0 if shape.products == 1 else n > 0
    con.close()


@pytest.mark.slow  # a real nightly
def test_a_one_product_shop_nightly_says_why_recommendations_were_not_judged(
    tmp_path: Path, prefect_api_url: str
) -> None:
    config = shops.write_shop(
        tmp_path, shops.ShopShape(customers=150, days=200, end=END, events=False, products=1)
    )
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", str(END))
    assert code == 0 and "Traceback" not in out, out[-3000:]
    flat = " ".join(out.split())
    assert "recommendations not evaluated: 1 product sold in the 365 days up to 2026-08-10" in flat, out[
        -3000:
    ]
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from recommendation_evaluations").fetchall() == [(0,)]
        [(message,)] = con.execute("select message from prediction_runs").fetchall()
    assert "so there is nothing to judge" in message
    code, out = run(prefect_api_url, "report", "--config", str(config), "--as-of", str(END))
    assert code == 0, out
    html = (tmp_path / "reports" / str(END) / "report.html").read_text(encoding="utf-8")
    assert 'id="recommendation-check"' not in html and "so there is nothing to judge" in " ".join(
        html.split()
    )
