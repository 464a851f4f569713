"""A whole prediction run: every model stored under one run id, re-runs replace, short histories skip cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from segmint.config import PredictSettings, load_settings
from segmint.features import build_features
from segmint.predict.runner import latest_prediction_run, run_predictions

END = date(2024, 6, 30)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two years of a generated shop, ingested, with features for END."""
    from segmint.ingest import ingest
    from segmint.synth.generate import generate
    from segmint.warehouse import connect

    out = tmp_path_factory.mktemp("shop")
    generate(out, customers=3000, days=730, end=END, seed=21, fmt="csv", split="month")
    settings = load_settings(out / "segmint.toml")
    with connect(settings.warehouse.path) as con:
        ingest(con, settings, "load")
        build_features(con, END)
    yield settings.warehouse.path


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0])


@pytest.mark.slow
def test_prediction_run_on_generated_shop(generated: Path) -> None:
    from segmint.warehouse import connect

    with connect(generated) as con:
        outcome = run_predictions(con, PredictSettings(), "night1", END)
        assert outcome.messages == []
        n = count(con, f"select count(*) from customer_features where as_of = '{END}'")
        assert outcome.n_customers == n
        assert count(con, "select count(*) from customer_predictions where run_id = 'night1'") == n
        assert (
            count(
                con,
                "select count(*) from (select customer_id from customer_predictions group by all having count(*) > 1)",
            )
            == 0
        )
        # Every buyer has a lifetime value and a churn score; prospects have neither.
        assert (
            count(
                con,
                f"""select count(*) from customer_predictions p join customer_features f
                on f.customer_id = p.customer_id and f.as_of = '{END}'
                where p.run_id = 'night1' and not f.is_prospect and (p.clv_12m is null or p.churn_score is null)""",
            )
            == 0
        )
        assert (
            count(
                con,
                "select count(*) from customer_predictions where run_id = 'night1' and p_alive not between 0 and 1",
            )
            == 0
        )
        models = dict(con.execute("select model, params from clv_models where run_id = 'night1'").fetchall())
        assert set(models) == {"bgnbd", "gamma_gamma"}
        assert set(json.loads(models["bgnbd"])) >= {"r", "alpha", "a", "b"}
        churn = con.execute(
            "select train_as_of, valid_as_of, roc_auc, baseline_roc_auc, f1, baseline_f1 from churn_models "
            "where run_id = 'night1'"
        ).fetchall()
        [(train_as_of, valid_as_of, auc, base_auc, f1, base_f1)] = churn
        assert (train_as_of, valid_as_of) == (END - timedelta(days=180), END - timedelta(days=90))
        assert auc > base_auc and f1 > base_f1
        # Churn computed the features of its training and validation nights point in time, without keeping them.
        assert {r[0] for r in con.execute("select distinct as_of from customer_features").fetchall()} == {END}
        flagged = count(con, "select count(*) from anomalies where run_id = 'night1'")
        assert flagged == outcome.n_anomalies
        assert 0 < flagged <= 0.02 * n
        assert outcome.n_rules == count(con, "select count(*) from basket_rules where run_id = 'night1'") > 0
        assert (
            count(
                con,
                """select count(*) from basket_recommendations r join order_lines l on l.product_id = r.product_id
               join orders o on o.order_id = l.order_id and o.customer_id = r.customer_id
               where r.run_id = 'night1' and not o.is_cancellation and l.quantity > 0""",
            )
            == 0
        )  # never a product the customer already bought
        assert latest_prediction_run(con, END) == "night1"

        run_predictions(con, PredictSettings(), "night1", END)  # a re-run replaces the run's rows
        for table in ("customer_predictions", "clv_models", "churn_models", "anomalies", "prediction_runs"):
            assert (
                count(con, f"select count(*) from {table} where run_id = 'night1'")
                == {
                    "customer_predictions": n,
                    "clv_models": 2,
                    "churn_models": 1,
                    "anomalies": flagged,
                    "prediction_runs": 1,
                }[table]
            )


def test_short_history_skips_churn_and_clv_with_reasons(
    seg_duck: duckdb.DuckDBPyConnection, order: Any
) -> None:
    con = seg_duck
    for i in range(30):
        order(con, f"o{i}", f"c{i}", "2024-03-01", [("P1", 1, 10.0), ("P2", 1, 5.0)])
    as_of = date(2024, 3, 31)
    build_features(con, as_of)
    outcome = run_predictions(con, PredictSettings(basket_min_pair_count=1), "r1", as_of)
    assert any(
        m.startswith(
            "churn skipped: churn needs 270 days of orders (three churn horizons of 90 days); you have 31"
        )
        for m in outcome.messages
    )
    assert any(
        m.startswith("lifetime value skipped: no customer has a repeat purchase") for m in outcome.messages
    )
    assert outcome.n_customers == 30
    assert outcome.n_rules == 2  # P1 -> P2 and P2 -> P1 over the 'all' baskets
    row = con.execute("select n_customers, message from prediction_runs where run_id = 'r1'").fetchall()
    assert row[0][0] == 30 and "churn skipped" in row[0][1]
    assert (
        count(con, "select count(*) from customer_predictions where run_id = 'r1' and churn_score is null")
        == 30
    )


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_month_old_shop_stores_finite_lifetime_values(tmp_path: Path) -> None:
    # The scenario test's shop after a month: its customers all drop out alike, so BG/NBD's a and b run off
    # to ~1e6, where the closed form of expected purchases used to give NaN for every buyer.
    from segmint.ingest import ingest
    from segmint.synth.generate import generate
    from segmint.warehouse import connect

    as_of = date(2026, 11, 20)
    generate(tmp_path, customers=600, days=31, end=as_of, seed=11, fmt="csv", split="none")
    settings = load_settings(tmp_path / "segmint.toml")
    with connect(settings.warehouse.path) as con:
        ingest(con, settings, "load")
        build_features(con, as_of)
        outcome = run_predictions(con, PredictSettings(), "young", as_of)
        assert outcome.bgnbd is not None and outcome.bgnbd.a + outcome.bgnbd.b > 1e5, outcome.bgnbd
        assert not [m for m in outcome.messages if m.startswith("lifetime value skipped")]
        scored, not_finite = con.execute(
            """select count(clv_12m), count(*) filter (where not (isfinite(expected_purchases_90d)
                and isfinite(p_alive) and isfinite(clv_12m)))
            from customer_predictions where run_id = 'young'"""
        ).fetchall()[0]
        buyers = con.execute(
            "select count(*) from customer_features where as_of = ? and not is_prospect", [as_of]
        ).fetchall()[0][0]
        # Every buyer is valued: the fitted ones, and those whose purchases were all cancelled at 0.
        assert (scored, not_finite) == (buyers, 0) and outcome.bgnbd.n_customers <= buyers
