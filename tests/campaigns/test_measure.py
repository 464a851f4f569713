"""Measurement: exact counts on hand-made responses, and planted uplift recovered on generated data."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from segmint.campaigns.build import build_campaigns
from segmint.campaigns.measure import measure_campaigns, results
from segmint.campaigns.playbook import Playbook
from segmint.campaigns.stats import two_proportion
from segmint.config import Settings

from .conftest import AS_OF

Shop = tuple[duckdb.DuckDBPyConnection, Settings]
BOOK = Playbook.model_validate(
    {"defaults": {"holdout_share": 0.25}, "campaigns": [{"name": "everyone", "rule": "frequency >= 1"}]}
)


def add(
    con: duckdb.DuckDBPyConnection,
    order_id: str,
    customer: str,
    day: date,
    revenue: float,
    cancelled: bool = False,
) -> None:
    con.execute(
        "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, source_file) "
        "values (?, ?, ?, ?, ?, 'responses.csv')",
        [order_id, customer, day, cancelled, revenue],
    )


def test_measurement_counts_only_the_window(shop: Shop) -> None:
    con, settings = shop
    [build] = build_campaigns(con, settings, AS_OF, playbook=BOOK)
    groups = dict(con.execute('select customer_id, "group" from campaign_audiences').fetchall())
    treated = sorted(c for c, g in groups.items() if g == "treatment")
    held = sorted(c for c, g in groups.items() if g == "holdout")
    day = build.window_start
    for i, c in enumerate(treated[:30]):
        add(con, f"t{i}", c, day + timedelta(days=i % 14), 50.0)
    for i, c in enumerate(held[:5]):
        add(con, f"h{i}", c, build.window_end, 40.0)
    add(con, "late", treated[40], build.window_end + timedelta(days=1), 999.0)  # after the window
    add(con, "early", treated[41], AS_OF, 999.0)  # on the as-of day: before the campaign
    add(con, "cancel", treated[42], day, -10.0, cancelled=True)  # not a conversion, but net revenue
    add(con, "twice", treated[0], day + timedelta(days=1), 25.0)  # a second order: one conversion

    assert [m.status for m in measure_campaigns(con, settings, build.window_end - timedelta(days=1))] == [
        "open"
    ]
    [m] = measure_campaigns(con, settings, build.window_end)
    assert m.status == "measured"
    rows = {r["segment_name"]: r for r in results(con).iter_rows(named=True)}
    assert set(rows) == {"all", "Regulars", "VIP"}  # c001, the one VIP left after exclusions, matches too
    r = rows["all"]
    n_t, n_h = len(treated), len(held)
    assert (r["n_treatment"], r["n_holdout"], r["conversions_treatment"], r["conversions_holdout"]) == (
        n_t,
        n_h,
        30,
        5,
    )
    expected = two_proportion(30, n_t, 5, n_h)
    assert r["conversion_treatment"] == pytest.approx(30 / n_t)
    assert r["uplift_abs"] == pytest.approx(30 / n_t - 5 / n_h)
    assert (r["uplift_ci_low"], r["uplift_ci_high"], r["p_value"]) == pytest.approx(
        (expected.low, expected.high, expected.p_value)
    )
    assert r["uplift_rel"] == pytest.approx((30 / n_t - 5 / n_h) / (5 / n_h))
    assert r["revenue_per_customer_treatment"] == pytest.approx((30 * 50 + 25 - 10) / n_t)
    assert r["revenue_per_customer_holdout"] == pytest.approx(5 * 40 / n_h)
    assert r["revenue_ci_low"] < r["revenue_uplift"] < r["revenue_ci_high"]
    assert rows["Regulars"]["n_treatment"] + rows["VIP"]["n_treatment"] == n_t
    # Measuring again replaces the rows.
    measure_campaigns(con, settings, build.window_end)
    assert con.execute("select count(*) from campaign_results").fetchone() == (3,)


@pytest.mark.slow
def test_planted_uplift_is_recovered_on_generated_data(tmp_path: Path) -> None:
    """+5 points planted in one published segment: its 95% interval holds 0.05; a segment with no effect holds 0."""
    from segmint.config import load_settings
    from segmint.features import build_features
    from segmint.ingest import ingest
    from segmint.predict.runner import run_predictions
    from segmint.segment import segment_customers
    from segmint.synth.generate import generate
    from segmint.synth.simulate import simulate_responses
    from segmint.warehouse import connect

    end = date(2024, 6, 30)
    generate(tmp_path, customers=6000, days=400, end=end, seed=11, fmt="csv", split="month")
    settings = load_settings(tmp_path / "segmint.toml")
    con = connect(settings.warehouse.path)
    ingest(con, settings, "load")
    build_features(con, end)
    published = segment_customers(con, end, settings.segmentation)
    run_predictions(con, settings.predict, "pred", end)
    # Everyone who bought, with a 30% holdout so that each segment's holdout is large enough to measure.
    book = Playbook.model_validate(
        {"defaults": {"holdout_share": 0.3}, "campaigns": [{"name": "all-buyers", "rule": "frequency >= 1"}]}
    )
    [build] = build_campaigns(con, settings, end, playbook=book)
    # Never in an audience: anomalies, customers without consent (the generated export has the column), guests.
    leaks = con.execute(
        """
        select count(*) filter (where p.is_anomaly), count(*) filter (where c.marketing_consent is not true),
            count(*) filter (where a.customer_id is null or a.customer_id not in (select customer_id from customers))
        from campaign_audiences as a
        left join customers as c using (customer_id)
        left join customer_predictions as p on p.run_id = 'pred' and p.customer_id = a.customer_id
        """
    ).fetchall()
    assert leaks == [(0, 0, 0)]
    assert con.execute("select count(*) from anomalies where run_id = 'pred'").fetchall()[0][0] > 0
    assert con.execute("select count(*) from customers where not marketing_consent").fetchall()[0][0] > 0
    # The effect goes into the published segment with the most customers in the audience.
    assert con.execute(
        "select count(*) from segment_runs where run_id = ? and published", [published.run_id]
    ).fetchall() == [(1,)]
    sizes = pl.read_csv(build.export_path).group_by("segment").len().sort(["len", "segment"], descending=True)
    planted_segment = str(sizes["segment"][0])
    con.close()

    [summary] = simulate_responses(
        [build.export_path], tmp_path, uplift={planted_segment: 0.05}, base_rate=0.12, seed=5
    )
    assert summary.window_start == end + timedelta(days=1)
    con = connect(settings.warehouse.path)
    ingest(con, settings, "responses")
    measure_campaigns(con, settings)
    rows = {r["segment_name"]: r for r in results(con).iter_rows(named=True)}
    con.close()

    planted = rows[planted_segment]
    assert planted["n_holdout"] >= 150
    assert planted["uplift_ci_low"] <= 0.05 <= planted["uplift_ci_high"]
    assert planted["uplift_ci_low"] > -0.05  # an interval that could not tell +5 from 0 would prove nothing
    nulls = [r for name, r in rows.items() if name not in {planted_segment, "all"} and r["n_holdout"] >= 100]
    assert nulls, rows.keys()
    for r in nulls:
        assert r["uplift_ci_low"] <= 0.0 <= r["uplift_ci_high"], r["segment_name"]
    # Over the whole audience the true uplift is the planted 5 points diluted by the planted segment's share.
    overall = rows["all"]
    diluted = 0.05 * planted["n_treatment"] / overall["n_treatment"]
    assert overall["uplift_ci_low"] <= diluted <= overall["uplift_ci_high"]
    # The simulation's own truth file agrees with what the warehouse measured.
    truth = np.loadtxt(summary.truth_file, delimiter=",", skiprows=1, usecols=(5,), dtype=str)
    assert (truth == "true").sum() == sum(
        r["conversions_treatment"] + r["conversions_holdout"] for r in [rows["all"]]
    )
