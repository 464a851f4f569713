"""Predictions on real shops through the canonical path (load_file + build_features + run_predictions).

Online Retail has orders but no clickstream, and BG/NBD degenerates on it (a -> 0); CDNOW's sample must
reproduce Fader, Hardie & Lee (2005) with its zero-value purchases counted.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from real_layouts import cdnow_sample_as_master
from segmint.config import PredictSettings, SourceSettings
from segmint.features import build_features
from segmint.ingest import load_file
from segmint.predict.runner import run_predictions

REAL = Path(__file__).parents[1] / "data" / "real"
RETAIL = REAL / "online_retail" / "online_retail.csv.gz"
RETAIL_END = date(2011, 12, 9)


def _load(con: duckdb.DuckDBPyConnection, path: Path, preset: str, as_of: date) -> None:
    result = load_file(
        con, SourceSettings(name="orders", kind="orders", path=str(path), preset=preset), path, "t"
    )
    assert result.status == "loaded", result.message
    build_features(con, as_of)


def _message(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    rows = con.execute("select message from prediction_runs where run_id = ?", [run_id]).fetchall()
    return str(rows[0][0])


def _check_no_clickstream_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    message = _message(con, run_id)
    # Churn ran (it used to die binning the all-empty web columns) and says what it left out.
    assert "churn and anomalies left out features with no information in this shop" in message or (
        "churn left out features with no information in this shop" in message
    ), message
    assert "sessions_90d" in message and "(no clickstream)" in message
    [(auc, features)] = con.execute(
        "select roc_auc, features from churn_models where run_id = ?", [run_id]
    ).fetchall()
    assert auc > 0.55 and "sessions_90d" not in json.loads(features)
    # BG/NBD's a ran to 0: recorded, not used, and nobody lapsed is declared certainly alive.
    fits = {
        m: (used, diagnosis)
        for m, used, diagnosis in con.execute(
            "select model, used, diagnosis from clv_models where run_id = ?", [run_id]
        ).fetchall()
    }
    assert fits["bgnbd"][0] is False and "dropout parameter a" in fits["bgnbd"][1]
    # Said once: either as the model's own line, or inside the summary that no model fits.
    assert ("BG/NBD degenerate" in message) != ("BG/NBD: the dropout parameter a" in message), message
    lapsed_certain, lapsed = con.execute(
        f"""select count(*) filter (where p.p_alive >= 0.999), count(*)
        from customer_predictions p join customer_features f on f.customer_id = p.customer_id
            and f.as_of = '{RETAIL_END}'
        where p.run_id = ? and f.frequency = 1 and f.recency_days > 180""",
        [run_id],
    ).fetchall()[0]
    assert lapsed > 0 and lapsed_certain < lapsed
    if not any(fits[m][0] for m in ("bgnbd", "mbgnbd", "pareto_nbd") if m in fits):
        assert "Lifetime values are not reliable for this shop:" in message
    [(n, actual, baseline_mae)] = con.execute(
        "select n_customers, actual_purchases, baseline_mae from clv_validation where run_id = ?", [run_id]
    ).fetchall()
    assert n > 0 and actual > 0 and baseline_mae > 0


def test_online_retail_slice_without_clickstream(tmp_path: Path, duck: duckdb.DuckDBPyConnection) -> None:
    raw = pl.read_csv(RETAIL, schema_overrides={"InvoiceNo": pl.String, "StockCode": pl.String})
    # Every eighth customer over the whole year: the shop's shape at an eighth of the size.
    part = raw.filter(pl.col("CustomerID").is_not_null() & (pl.col("CustomerID").cast(pl.Int64) % 8 == 0))
    path = tmp_path / "retail_slice.csv"
    part.write_csv(path)
    _load(duck, path, "online_retail", RETAIL_END)
    run_predictions(duck, PredictSettings(), "slice", RETAIL_END)
    _check_no_clickstream_run(duck, "slice")


@pytest.mark.slow
def test_online_retail_full_without_clickstream(duck: duckdb.DuckDBPyConnection) -> None:
    _load(duck, RETAIL, "online_retail", RETAIL_END)
    outcome = run_predictions(duck, PredictSettings(), "full", RETAIL_END)
    assert outcome.churn is not None and outcome.churn.n_valid > 3000
    _check_no_clickstream_run(duck, "full")
    # On the whole year Pareto/NBD sees the dropout BG/NBD and MBG/NBD miss, and is used.
    assert outcome.bgnbd is not None and outcome.bgnbd.model == "pareto_nbd"
    lapsed_once = duck.execute(
        f"""select count(*), max(p.p_alive) from customer_predictions p join customer_features f
            on f.customer_id = p.customer_id and f.as_of = '{RETAIL_END}'
        where p.run_id = 'full' and f.frequency = 1 and f.recency_days > 180"""
    ).fetchall()[0]
    assert lapsed_once[0] > 500 and lapsed_once[1] < 0.999
    # The large cancelled order (customer 16446: 80,995 units bought and cancelled at once) nets to nothing.
    rows = duck.execute(
        "select frequency_repeat from customer_predictions where run_id = 'full' and customer_id = '16446'"
    ).fetchall()
    assert rows and rows[0][0] in (None, 0)


def test_cdnow_sample_reproduces_fader_hardie_lee(tmp_path: Path, duck: duckdb.DuckDBPyConnection) -> None:
    path = cdnow_sample_as_master(tmp_path)
    as_of = date(1997, 9, 30)
    _load(duck, path, "cdnow", as_of)
    # Zero-value purchases are in the file and are purchases.
    zero = duck.execute(
        "select count(*) from orders where revenue = 0 and ordered_at <= '1997-09-30'"
    ).fetchall()
    assert zero[0][0] > 0

    outcome = run_predictions(duck, PredictSettings(), "cdnow", as_of)
    bg = outcome.bgnbd
    assert bg is not None and bg.model == "bgnbd" and bg.n_customers == 2357
    for got, published in ((bg.r, 0.243), (bg.alpha, 4.414), (bg.a, 0.793), (bg.b, 2.426)):
        assert got == pytest.approx(published, abs=0.0015)
    assert bg.log_likelihood == pytest.approx(-9582.4, rel=1e-3)
    gg = outcome.gamma_gamma
    assert gg is not None and gg.n_customers == 946
    assert (gg.p, gg.q, gg.gamma) == pytest.approx((6.25, 3.74, 15.44), abs=0.01)
    stored = duck.execute(
        "select model, used, diagnosis from clv_models where run_id = 'cdnow' order by model"
    ).fetchall()
    assert stored == [("bgnbd", True, None), ("gamma_gamma", True, None)]
    # The nightly holdout: fitted to 1997-07-02, predicting the 90 days after.
    [(cal_end, days, model, n, ratio, mae, base_mae)] = duck.execute(
        "select calibration_end, holdout_days, model, n_customers, purchases_ratio, purchases_mae, baseline_mae "
        "from clv_validation where run_id = 'cdnow'"
    ).fetchall()
    assert (cal_end, days, model) == (date(1997, 7, 2), 90, "bgnbd")
    assert n > 2000 and 0.8 < ratio < 1.2 and mae < base_mae

    # The report reads the stored check (it never refits) and shows it beside the run's notes.
    from segmint.report.build import build_report
    from segmint.report.render import render_web

    data = build_report(duck, as_of)
    assert not isinstance(data.predictions, str) and getattr(data.predictions, "clv_check", None) is not None
    web = render_web(data, [])
    assert 'id="clv-check"' in web and "Lifetime value checked on a holdout" in web
    assert 'id="prediction-notes"' in web and "(no clickstream)" in web
