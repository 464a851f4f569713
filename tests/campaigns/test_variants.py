"""Offer variants through the real warehouse: build splits only the treatment, measure counts per variant
into posteriors without double counting, and the next build samples from what was measured."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.campaigns.build import AUDIENCE_COLUMNS, VARIANT_COLUMNS, CampaignBuild, build_campaigns
from segmint.campaigns.measure import measure_campaigns
from segmint.campaigns.playbook import Playbook, load_playbook
from segmint.config import Settings
from segmint.report import build_report
from segmint.report.model import Unavailable
from segmint.warehouse import query_frame

from .conftest import AS_OF, N_REGULAR

Shop = tuple[duckdb.DuckDBPyConnection, Settings]
VARIANTS = ["10% off", "free shipping"]
# Planted: most customers given free shipping buy in the window, few of those given 10% off.
BUY_EVERY = {"10% off": 10, "free shipping": 2}  # every 10th / every 2nd treatment member buys
PLAYBOOK = """
[defaults]
holdout_share = 0.25

[[campaigns]]
name = "everyone"
rule = "frequency >= 1"
offer = "a thank-you"
variants = ["10% off", "free shipping"]
"""


def book(tmp_path: Path, *, variants: bool = True) -> Playbook:
    """The campaigns.toml a shop would write, read as `campaigns build` reads it."""
    path = tmp_path / ("campaigns.toml" if variants else "plain.toml")
    text = (
        PLAYBOOK if variants else "\n".join(line for line in PLAYBOOK.splitlines() if "variants" not in line)
    )
    path.write_text(text, encoding="utf-8")
    return load_playbook(path)


def read(path: Path | None) -> pl.DataFrame:
    assert path is not None
    return pl.read_csv(path, infer_schema=False)


def audience(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pl.DataFrame:
    return query_frame(
        con,
        'select customer_id, segment_name, "group", offer, variant from campaign_audiences '
        "where campaign_id = ? order by customer_id",
        [campaign_id],
    )


def draws(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pl.DataFrame:
    return query_frame(
        con,
        "select * from campaign_variant_draws where campaign_id = ? order by segment_name, variant",
        [campaign_id],
    )


def plant(con: duckdb.DuckDBPyConnection, build: CampaignBuild) -> dict[tuple[str, str], tuple[int, int]]:
    """Orders in the window for every BUY_EVERY-th treatment member of each variant; the truth per
    (segment, variant): (treatment members, buyers)."""
    members = audience(con, build.campaign_id).filter(pl.col("group") == "treatment")
    truth: dict[tuple[str, str], tuple[int, int]] = {}
    for variant, every in BUY_EVERY.items():
        given = members.filter(pl.col("variant") == variant)
        for i, row in enumerate(given.iter_rows(named=True)):
            key = (row["segment_name"], variant)
            n, x = truth.get(key, (0, 0))
            bought = i % every == 0
            truth[key] = (n + 1, x + bought)
            if bought:
                con.execute(
                    "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, source_file) "
                    "values (?, ?, ?, false, 30, 'responses.csv')",
                    [
                        f"r-{row['customer_id']}",
                        row["customer_id"],
                        build.window_start + timedelta(days=i % 10),
                    ],
                )
    # Holdout members buy too: they must never count for a variant.
    for row in (
        audience(con, build.campaign_id).filter(pl.col("group") == "holdout").head(20).iter_rows(named=True)
    ):
        con.execute(
            "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, source_file) "
            "values (?, ?, ?, false, 30, 'responses.csv')",
            [f"h-{row['customer_id']}", row["customer_id"], build.window_start],
        )
    return truth


def later_night(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """The same customers' features on a later night (the published segments and predictions stay)."""
    con.execute(
        "insert into customer_features by name select * replace (cast(? as date) as as_of) "
        "from customer_features where as_of = ?",
        [day, AS_OF],
    )


def test_the_holdout_is_drawn_as_without_variants_and_gets_none(shop: Shop, tmp_path: Path) -> None:
    con, settings = shop
    [plain] = build_campaigns(con, settings, AS_OF, playbook=book(tmp_path, variants=False))
    before = audience(con, plain.campaign_id)
    plain_holdout = read(plain.holdout_path)
    # The same campaign and day with variants: a rebuild that replaces the plain one.
    [split] = build_campaigns(con, settings, AS_OF, playbook=book(tmp_path))
    after = audience(con, split.campaign_id)
    assert split.campaign_id == plain.campaign_id
    assert after["customer_id"].to_list() == before["customer_id"].to_list()
    assert after["group"].to_list() == before["group"].to_list()
    assert (split.n_treatment, split.n_holdout) == (plain.n_treatment, plain.n_holdout)
    assert plain.n_holdout > 50 and plain.n_treatment > 200
    held = after.filter(pl.col("group") == "holdout")
    assert held["variant"].null_count() == held.height
    assert set(held["offer"]) == {"a thank-you"}  # the campaign's own offer, as without variants
    # The holdout's file: the same rows as without variants, plus an empty variant column.
    split_holdout = read(split.holdout_path)
    assert tuple(plain_holdout.columns) == AUDIENCE_COLUMNS
    assert tuple(split_holdout.columns) == VARIANT_COLUMNS
    assert split_holdout["variant"].null_count() == split_holdout.height
    assert split_holdout.drop("variant").equals(plain_holdout)
    assert before["variant"].null_count() == before.height
    # The plain build stored no draws; the rebuild stores one row per treated segment and variant.
    treated_segments = after.filter(pl.col("group") == "treatment")["segment_name"].n_unique()
    assert draws(con, plain.campaign_id).height == treated_segments * len(VARIANTS)


def test_every_treatment_member_gets_one_variant_and_the_export_says_which(
    shop: Shop, tmp_path: Path
) -> None:
    con, settings = shop
    [build] = build_campaigns(con, settings, AS_OF, playbook=book(tmp_path))
    treated = audience(con, build.campaign_id).filter(pl.col("group") == "treatment")
    assert treated.height == build.n_treatment
    assert treated["variant"].null_count() == 0 and set(treated["variant"]) == set(VARIANTS)
    # A variant given as a plain name is its offer.
    assert treated.filter(pl.col("offer") != pl.col("variant")).height == 0
    counts = dict(treated.group_by("variant").len().iter_rows())
    assert build.variants == counts and sum(counts.values()) == build.n_treatment
    # No measurement yet: about an even split (3 standard errors of a fair split of ~300).
    assert all(abs(n / build.n_treatment - 0.5) < 0.09 for n in counts.values()), counts
    sent = read(build.export_path)
    assert tuple(sent.columns) == VARIANT_COLUMNS
    assert dict(zip(sent["customer_id"], sent["variant"], strict=True)) == dict(
        zip(treated["customer_id"], treated["variant"], strict=True)
    )
    # The platform layouts carry it too: a Variant property (Klaviyo), one more tag (Mailchimp).
    [klaviyo] = build_campaigns(con, settings, AS_OF, playbook=book(tmp_path), format="klaviyo")
    rows = read(klaviyo.export_path)
    by_email = dict(zip(rows["Email"], rows["Variant"], strict=True))
    emails = dict(
        con.execute(
            "select email, variant from campaign_audiences where campaign_id = ? and \"group\" = 'treatment'",
            [klaviyo.campaign_id],
        ).fetchall()
    )
    assert by_email == emails
    for layout in ("mailchimp", "shopify"):
        [tagged] = build_campaigns(con, settings, AS_OF, playbook=book(tmp_path), format=layout)
        tags = read(tagged.export_path)["Tags"].to_list()
        assert len(tags) == tagged.n_treatment
        assert sorted(t.split(",")[-1] for t in tags) == sorted(treated["variant"]), layout


def test_draws_record_the_prior_and_shares_summing_to_one_per_segment(shop: Shop, tmp_path: Path) -> None:
    con, settings = shop
    [build] = build_campaigns(con, settings, AS_OF, playbook=book(tmp_path))
    stored = draws(con, build.campaign_id)
    treated = audience(con, build.campaign_id).filter(pl.col("group") == "treatment")
    segments = sorted(set(treated["segment_name"]))
    assert "Regulars" in segments
    assert stored.select("segment_name", "variant").rows() == [(s, v) for s in segments for v in VARIANTS]
    assert set(stored["name"]) == {"everyone"} and set(stored["as_of"]) == {AS_OF}
    for segment, rows in stored.group_by("segment_name"):
        assert rows["share"].sum() == pytest.approx(1.0), segment
        assert rows["p_best"].sum() == pytest.approx(1.0), segment
    given = dict(((s, v), n) for s, v, n in treated.group_by("segment_name", "variant").len().iter_rows())
    for row in stored.iter_rows(named=True):
        key = (row["segment_name"], row["variant"])
        assert row["n_assigned"] == given.get(key, 0)
        # Nothing measured before the first build: the uniform Beta(1, 1) prior.
        assert (row["alpha"], row["beta"], row["n_builds"]) == (1.0, 1.0, 0)
        assert row["posterior_mean"] == pytest.approx(0.5)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.05, 0.95))
        assert row["p_best"] == pytest.approx(0.5, abs=0.02)


def test_measure_counts_per_variant_once_and_the_next_build_follows_the_winner(
    shop: Shop, tmp_path: Path
) -> None:
    con, settings = shop
    playbook = book(tmp_path)
    [first] = build_campaigns(con, settings, AS_OF, playbook=playbook)
    truth = plant(con, first)
    assert truth[("Regulars", "free shipping")][1] > 3 * truth[("Regulars", "10% off")][1]

    [m] = measure_campaigns(con, settings, first.window_end)
    assert m.status == "measured"
    results = {
        (s, v): (n, x)
        for s, v, n, x in con.execute(
            "select segment_name, variant, n_treatment, conversions from campaign_variant_results "
            "where campaign_id = ?",
            [first.campaign_id],
        ).fetchall()
    }
    assert results == truth
    # The per-variant counts add up to the treatment's conversions campaign_results measured.
    measured = con.execute(
        "select n_treatment, conversions_treatment from campaign_results where campaign_id = ? "
        "and segment_name = 'all'",
        [first.campaign_id],
    ).fetchone()
    assert measured == (sum(n for n, _ in truth.values()), sum(x for _, x in truth.values()))

    def posteriors() -> list[tuple[object, ...]]:
        return con.execute(
            "select measured_as_of, segment_name, variant, n_builds, n_treatment, conversions, alpha, beta, "
            "last_campaign_id from campaign_variant_posteriors order by all"
        ).fetchall()

    stored = posteriors()
    assert stored == sorted(
        (first.window_end, s, v, 1, n, x, 1.0 + x, 1.0 + n - x, first.campaign_id)
        for (s, v), (n, x) in truth.items()
    )
    regulars = dict(
        con.execute(
            "select variant, p_best from campaign_variant_posteriors where segment_name = 'Regulars'"
        ).fetchall()
    )
    assert regulars["free shipping"] > 0.99 and sum(regulars.values()) == pytest.approx(1.0)

    # Measuring the same build again, that day or later, never counts its conversions twice.
    measure_campaigns(con, settings, first.window_end)
    assert posteriors() == stored
    later = first.window_end + timedelta(days=3)
    measure_campaigns(con, settings, later)
    assert con.execute("select count(*) from campaign_variant_results").fetchone() == (len(truth),)
    again = [r for r in posteriors() if r[0] == later]
    assert [r[1:] for r in again] == [r[1:] for r in stored]

    # The next build (a later night) samples from the measured posteriors: free shipping takes the lead.
    next_day = first.window_end + timedelta(days=1)
    later_night(con, next_day)
    [second] = build_campaigns(con, settings, next_day, playbook=playbook)
    assert second.campaign_id != first.campaign_id
    split = draws(con, second.campaign_id)
    row = {r["variant"]: r for r in split.filter(pl.col("segment_name") == "Regulars").iter_rows(named=True)}
    for variant in VARIANTS:
        n, x = truth[("Regulars", variant)]
        assert (row[variant]["alpha"], row[variant]["beta"], row[variant]["n_builds"]) == (
            1.0 + x,
            1.0 + n - x,
            1,
        )
    assert row["free shipping"]["share"] > 0.9
    assert dict(split.group_by("variant").agg(pl.col("n_assigned").sum()).iter_rows()) == second.variants
    first_share = (
        draws(con, first.campaign_id)
        .filter((pl.col("segment_name") == "Regulars") & (pl.col("variant") == "free shipping"))["share"]
        .item()
    )
    assert row["free shipping"]["share"] > first_share + 0.3
    # The holdout is still drawn first and still gets no variant.
    held = audience(con, second.campaign_id).filter(pl.col("group") == "holdout")
    assert held.height == second.n_holdout > 0 and held["variant"].null_count() == held.height
    assert second.n_treatment + second.n_holdout == first.n_treatment + first.n_holdout == N_REGULAR + 1

    # The weekly report reads what build and measure stored: the measured counts and the new build's split.
    data = build_report(con, next_day)
    assert not isinstance(data.campaigns, Unavailable)
    [shown] = data.campaigns.variants
    assert (shown.campaign_id, shown.measured_as_of) == (second.campaign_id, first.window_end)
    report_rows = {(r.segment_name, r.variant): r for r in shown.rows}
    for variant in VARIANTS:
        n, x = truth[("Regulars", variant)]
        r = report_rows[("Regulars", variant)]
        assert (r.n_sent, r.conversions, r.n_assigned) == (n, x, row[variant]["n_assigned"])
        assert r.posterior_mean == pytest.approx((1 + x) / (2 + n))
        assert (r.share, r.p_best) == (row[variant]["share"], regulars[variant])
