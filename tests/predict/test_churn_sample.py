"""Churn's earlier nights computed for the training sample only: the same features for those customers as
for everyone, the same models and scores as sampling after computing everyone's, and the warehouse left as
it was. On a hand-written shop with clickstream, guests, cancellations and customers who never bought."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from tests.shops import ShopShape, write_shop

from segmint.config import load_settings
from segmint.features import BEHAVIOUR_FEATURES, compute_features, features_at
from segmint.ingest import ingest
from segmint.predict.churn import buyers_at, churn_labels, fit_churn
from segmint.warehouse import connect

END = date(2026, 11, 8)
SHAPE = ShopShape(customers=400, days=400, end=END, events=True, seed=11)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("sampled")
    settings = load_settings(write_shop(folder, SHAPE))
    with connect(Path(settings.warehouse.path)) as con:
        ingest(con, settings, "load")
        # Newsletter sign-ups who never ordered: prospects, who have features but no label.
        con.execute(
            "insert into customers (customer_id, email, first_seen_at) "
            "select 'lead' || i, 'lead' || i || '@example.org', timestamp '2026-01-05' + to_days(i) from range(12) t(i)"
        )
        yield con


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    return [
        (table, int(con.execute(f"select count(*) from {table}").fetchall()[0][0]))
        for table in ("orders", "order_lines", "events", "customers", "feedback")
    ]


def test_the_features_of_some_customers_are_theirs_among_everyones(shop: duckdb.DuckDBPyConnection) -> None:
    day = END - timedelta(days=60)
    before = _tables(shop)
    everyone = compute_features(shop, day)
    ids = everyone["customer_id"]
    some = ids.gather(np.sort(np.random.default_rng(0).choice(ids.len(), ids.len() // 3, replace=False)))
    scoped = compute_features(shop, day, customers=some)
    assert _tables(shop) == before  # the scope's tables were temporary
    assert scoped["customer_id"].to_list() == some.to_list()
    assert everyone["is_prospect"].any() and (~everyone["is_prospect"]).any()
    assert everyone.select(pl.col("sessions_90d").sum()).item() > 0  # the clickstream counts
    columns = ["customer_id", "is_prospect", *BEHAVIOUR_FEATURES]
    expected = everyone.filter(pl.col("customer_id").is_in(some.implode())).select(columns)
    assert scoped.select(columns).equals(expected)
    assert features_at(shop, day, columns, some).equals(expected)


def test_a_stored_night_gives_the_same_customers(shop: duckdb.DuckDBPyConnection) -> None:
    from segmint.features import build_features

    day = END - timedelta(days=30)
    computed = compute_features(shop, day, ["customer_id", "frequency"])
    some = computed["customer_id"].head(25)
    build_features(shop, day)
    try:
        assert features_at(shop, day, ["customer_id", "frequency"], some).equals(computed.head(25))
    finally:
        shop.execute("delete from customer_features where as_of = ?", [day])


def test_churn_from_the_sample_alone_fits_the_same_model(shop: duckdb.DuckDBPyConnection) -> None:
    def features(day: date, customers: pl.Series | None) -> pl.DataFrame:
        return features_at(shop, day, None, customers)

    def active(day: date, days: int) -> pl.DataFrame:
        return churn_labels(shop, day, days)

    def buyers(day: date) -> pl.Series:
        return buyers_at(shop, day)

    horizon, rows = 60, 120
    assert buyers(END - timedelta(days=2 * horizon)).len() > rows  # the sample is smaller than the night
    common = {"horizon_days": horizon, "max_training_rows": rows, "seed": 5}
    whole = fit_churn(features, active, END, **common)
    sampled = fit_churn(features, active, END, buyers_at=buyers, **common)
    assert sampled.scores.equals(whole.scores)
    assert sampled.report.threshold == whole.report.threshold
    assert sampled.report.features == whole.report.features
    assert sampled.report.n_train == whole.report.n_train  # every labelled buyer, not the sample
    assert sampled.report.n_valid == rows < whole.report.n_valid  # validated on a sample of as many
