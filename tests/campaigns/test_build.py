"""Audiences: who is in them (never guests, anomalies or customers without consent), the holdout, exports, ledger."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.campaigns.build import (
    AUDIENCE_COLUMNS,
    CampaignBuild,
    assign_groups,
    build_campaigns,
    holdout_draw,
)
from segmint.campaigns.playbook import Playbook
from segmint.config import Settings

from .conftest import AS_OF, N_REGULAR, customers, fill

Shop = tuple[duckdb.DuckDBPyConnection, Settings]


def playbook(*campaigns: Mapping[str, object], **defaults: object) -> Playbook:
    return Playbook.model_validate({"defaults": defaults, "campaigns": [dict(c) for c in campaigns]})


VIP = {
    "name": "vip",
    "segments": ["VIP"],
    "offer": "early access",
    "message": "Hi {{ customer_id }}: {{ offer }}",
}
EVERYONE = {"name": "everyone", "rule": "frequency >= 1", "products": ["P9"]}


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def whole(build: CampaignBuild) -> pl.DataFrame:
    """The campaign's whole audience: its send file and its holdout's file, by customer id."""
    assert build.holdout_path is not None
    return pl.concat([read(build.export_path), read(build.holdout_path)]).sort("customer_id")


def test_audiences_leave_out_no_consent_anomalies_no_email_and_guests(shop: Shop) -> None:
    con, settings = shop
    [vip, everyone] = build_campaigns(con, settings, AS_OF, playbook=playbook(VIP, EVERYONE))
    audience = whole(vip)
    # c002 said no, c003's consent is unknown while the export has a consent column, c004 is an anomaly,
    # c005 has no address for an email campaign: only c001 is left of the VIPs.
    assert audience["customer_id"].to_list() == ["c001"]
    assert (vip.n_excluded_consent, vip.n_excluded_anomaly, vip.n_excluded_no_email) == (2, 1, 1)
    assert audience.row(0, named=True) | {"group": "?"} == {
        "customer_id": "c001",
        "email": "c001@example.com",
        "segment": "VIP",
        "offer": "early access",
        "recommended_products": "",
        "group": "?",
        "channel": "email",
        "message": "Hi c001: early access",
    }
    # A customer gets the first campaign that matches: the VIPs never reach "everyone".
    rest = whole(everyone)
    assert rest.height == N_REGULAR
    assert not set(rest["customer_id"]) & set(customers()) - {f"c{i:03d}" for i in range(100, 500)}
    for table in ("campaign_audiences",):
        ids = {r[0] for r in con.execute(f"select customer_id from {table}").fetchall()}
        assert None not in ids
        assert ids.isdisjoint({"c002", "c003", "c004", "c005"})


def test_columns_and_featured_products(shop: Shop) -> None:
    con, settings = shop
    [_, everyone] = build_campaigns(con, settings, AS_OF, playbook=playbook(VIP, EVERYONE))
    audience = whole(everyone)
    assert tuple(audience.columns) == AUDIENCE_COLUMNS
    assert set(audience["recommended_products"]) == {"P9"}
    recommended = build_campaigns(
        con, settings, AS_OF, playbook=playbook({"name": "recs", "rfm_segments": ["At Risk"]})
    )[0]
    rows = whole(recommended).filter(pl.col("customer_id") == "c100")
    assert rows["recommended_products"].to_list() == ["P2|P3"]


def test_holdout_is_deterministic_and_about_the_share(shop: Shop) -> None:
    con, settings = shop
    book = playbook(EVERYONE, holdout_share=0.25)
    first = whole(build_campaigns(con, settings, AS_OF, playbook=book)[0])
    again = whole(build_campaigns(con, settings, AS_OF, playbook=book)[0])
    assert first.equals(again)
    expected = [
        "holdout" if holdout_draw("everyone-20240331", c) < 0.25 else "treatment"
        for c in first["customer_id"]
    ]
    assert first["group"].to_list() == expected
    share = int((first["group"] == "holdout").sum()) / first.height
    assert 0.19 < share < 0.31  # 400 fair draws at 25%: 3 standard errors either side
    # Another campaign (or another week) draws a different split.
    other = assign_groups("everyone-20240407", first["customer_id"].to_list(), 0.25)
    assert other != expected


def test_holdout_draw_is_uniform() -> None:
    draws = [holdout_draw("c", str(i)) for i in range(20_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert sum(d < 0.1 for d in draws) == pytest.approx(2000, abs=130)


def test_ledger_records_who_and_when_and_a_rebuild_replaces(shop: Shop) -> None:
    con, settings = shop
    book = playbook(VIP, EVERYONE)
    build_campaigns(con, settings, AS_OF, playbook=book)
    build_campaigns(con, settings, AS_OF, playbook=book)
    ledger = con.execute(
        "select campaign_id, as_of, window_start, window_end, n_treatment + n_holdout, prediction_run_id, "
        "segment_run_id from campaigns order by campaign_id"
    ).fetchall()
    assert [(r[0], str(r[1]), str(r[2]), str(r[3]), r[4], r[5], r[6]) for r in ledger] == [
        ("everyone-20240331", "2024-03-31", "2024-04-01", "2024-04-14", N_REGULAR, "pred1", "seg1"),
        ("vip-20240331", "2024-03-31", "2024-04-01", "2024-04-14", 1, "pred1", "seg1"),
    ]
    dupes = con.execute(
        "select count(*) from (select campaign_id, customer_id from campaign_audiences group by all having count(*) > 1)"
    ).fetchone()
    assert dupes == (0,)
    assert con.execute("select count(*) from campaign_audiences").fetchone() == (N_REGULAR + 1,)
    assert settings.campaigns.export_dir is not None
    manifest = json.loads((settings.campaigns.export_dir / "2024-03-31" / "vip-20240331.json").read_text())
    assert manifest["window_end"] == "2024-04-14"
    assert manifest["n_treatment"] + manifest["n_holdout"] == 1


def test_without_a_consent_column_unknown_consent_is_allowed(tmp_path: Path) -> None:
    from segmint.warehouse import connect

    settings = Settings(config_path=tmp_path / "segmint.toml")
    settings.campaigns.export_dir = tmp_path / "exports"
    con = connect(tmp_path / "w.duckdb")
    fill(con, consent_column=False)
    [vip] = build_campaigns(con, settings, AS_OF, playbook=playbook(VIP))
    # No consent values anywhere: c002 and c003 count as reachable; the anomaly and no-email rules still hold.
    assert sorted(whole(vip)["customer_id"]) == ["c001", "c002", "c003"]
    assert vip.n_excluded_consent == 0


def test_anomalies_can_be_let_in(shop: Shop) -> None:
    con, settings = shop
    settings.campaigns.exclude_anomalies = False
    [vip] = build_campaigns(con, settings, AS_OF, playbook=playbook(VIP))
    assert sorted(whole(vip)["customer_id"]) == ["c001", "c004"]


def test_rules_over_predictions_and_rfm(shop: Shop) -> None:
    con, settings = shop
    book = playbook(
        {"name": "risky", "rule": "churn_score > 0.5 and clv_12m >= 20", "rfm_segments": ["At Risk"]}
    )
    [risky] = build_campaigns(con, settings, AS_OF, playbook=book)
    assert risky.n_treatment + risky.n_holdout == N_REGULAR
    none = playbook({"name": "none", "rule": "clv_12m > 1000"})
    assert build_campaigns(con, settings, AS_OF, playbook=none)[0].n_treatment == 0


def test_build_needs_features_for_the_day(shop: Shop) -> None:
    from segmint.errors import SegmintError

    con, settings = shop
    with pytest.raises(SegmintError, match="No customer features for 2024-04-01"):
        build_campaigns(con, settings, AS_OF.replace(day=1, month=4), playbook=playbook(VIP))


def test_rules_on_unchecked_clv_or_browsing_without_a_clickstream_warn(shop: Shop) -> None:
    con, settings = shop
    # pred1 has no holdout check of its lifetime values, and the shop has no web events.
    book = playbook(
        {"name": "valuable", "rule": "clv_12m >= 20"},
        {"name": "carts", "rule": "sessions_90d > 2"},
        VIP,
    )
    builds = build_campaigns(con, settings, AS_OF, playbook=book)
    valuable = [w for w in builds.warnings if "'valuable'" in w]
    assert len(valuable) == 1 and "lifetime-value model has not been checked" in valuable[0]
    assert [w for w in builds.warnings if "'carts'" in w and "no web events" in w]
    assert not [w for w in builds.warnings if "'vip'" in w]
    # Once the night's holdout check backs the values, the rule is used without a warning.
    con.execute(
        "insert into clv_validation (run_id, as_of, calibration_end, holdout_days, n_customers, actual_purchases, "
        "predicted_purchases, purchases_ratio, purchases_mae, baseline_predicted_purchases, baseline_ratio, "
        "baseline_mae, actual_revenue) values ('pred1', ?, ?, 90, 10, 10, 11, 1.1, 0.5, 9, 0.9, 0.6, 500)",
        [AS_OF, AS_OF],
    )
    again = build_campaigns(con, settings, AS_OF, playbook=book)
    assert not [w for w in again.warnings if "'valuable'" in w]


def test_a_campaign_without_a_holdout_warns_that_it_cannot_be_measured(shop: Shop) -> None:
    from segmint.campaigns.build import campaign_id, holdout_draw

    con, settings = shop
    # Only c001 of the VIPs can be reached; a 1% holdout draws nobody from one customer.
    assert holdout_draw(campaign_id("vip", AS_OF), "c001") >= 0.01
    builds = build_campaigns(con, settings, AS_OF, playbook=playbook(VIP, holdout_share=0.01))
    [vip] = builds
    assert (vip.n_treatment, vip.n_holdout) == (1, 0)
    [warning] = [w for w in builds.warnings if "holdout" in w]
    assert warning.startswith("campaign vip: its holdout has 0 customers (1 to send to, holdout share 1%)")
    assert f"cannot be measured after {vip.window_end} without a holdout" in warning


def test_a_campaign_with_a_holdout_does_not_warn_about_it(shop: Shop) -> None:
    con, settings = shop
    builds = build_campaigns(con, settings, AS_OF, playbook=playbook(EVERYONE, holdout_share=0.2))
    assert builds[0].n_holdout > 0
    assert not [w for w in builds.warnings if "holdout has 0" in w]


def test_each_build_writes_hashed_ad_audiences_of_its_consenting_treatment(shop: Shop) -> None:
    import hashlib

    con, settings = shop
    [_, everyone] = build_campaigns(con, settings, AS_OF, playbook=playbook(VIP, EVERYONE))
    assert everyone.google_audience_path is not None and everyone.meta_audience_path is not None
    google, meta = read(everyone.google_audience_path), read(everyone.meta_audience_path)
    assert google.columns == ["Email", "Phone"] and meta.columns == ["email", "phone"]
    audience = whole(everyone)
    treated = audience.filter(pl.col("group") == "treatment")["email"].drop_nulls().to_list()
    held = audience.filter(pl.col("group") == "holdout")["email"].drop_nulls().to_list()
    hashed = set(google["Email"].to_list())

    def sha(text: str) -> str:
        return hashlib.sha256(text.strip().lower().encode()).hexdigest()

    assert treated and held
    assert {sha(e) for e in treated} <= hashed and not {sha(e) for e in held} & hashed  # never the holdout
    assert everyone.n_ad_audience == google.height == meta.height
