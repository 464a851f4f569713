"""The report's offer-variant section from hand-written draws and posteriors: per campaign testing variants,
per segment and variant the estimate with its 90% range, the chance it is best and the latest build's share;
no section without variants."""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from segmint.config import Settings
from segmint.report import build_report, create_report
from segmint.report.model import Unavailable, VariantRow
from segmint.report.render import render_email, render_web

VARIANTS = ("10% off", "free shipping")


def campaign(cid: str, name: str, as_of: date) -> dict[str, object]:
    return {"campaign_id": cid, "name": name, "as_of": as_of, "built_at": datetime.combine(as_of, datetime.min.time()),
            "channel": "email", "offer": "", "targeting": "rule: frequency >= 1", "window_start": as_of,
            "window_end": as_of, "n_treatment": 12, "n_holdout": 3}  # fmt: skip


def draw(cid: str, name: str, as_of: date, segment: str, variant: str, alpha: float, beta: float,
         p_best: float, n_assigned: int, share: float) -> dict[str, object]:  # fmt: skip
    # The interval is made up (a distinct number to find on the page): the report shows what was stored.
    return {"campaign_id": cid, "name": name, "as_of": as_of, "segment_name": segment, "variant": variant,
            "alpha": alpha, "beta": beta, "n_builds": 1, "posterior_mean": alpha / (alpha + beta),
            "ci_low": alpha / 1000, "ci_high": (999 - 2 * beta) / 1000, "p_best": p_best, "n_assigned": n_assigned,
            "share": share}  # fmt: skip


def posterior(name: str, measured: date, segment: str, variant: str, n: int, x: int, p_best: float,
              builds: int = 2) -> dict[str, object]:  # fmt: skip
    alpha, beta = 1.0 + x, 1.0 + n - x
    return {"name": name, "segment_name": segment, "variant": variant, "measured_as_of": measured,
            "updated_at": datetime.combine(measured, datetime.min.time()), "last_campaign_id": "winback-20261027",
            "n_builds": builds, "n_treatment": n, "conversions": x, "alpha": alpha, "beta": beta,
            "posterior_mean": alpha / (alpha + beta), "ci_low": (10 * x + 1) / 10000, "ci_high": (500 + x) / 1000,
            "p_best": p_best}  # fmt: skip


@pytest.fixture
def with_variants(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> duckdb.DuckDBPyConnection:
    """winback tests two variants: built on 13 Oct (measured 27 Oct), 27 Oct (measured 7 Nov) and 5 Nov
    (drawn from the 13 Oct build's counts). welcome has no variants; oldtest stopped testing them."""
    con = shop_con
    b13, b27, b05 = date(2026, 10, 13), date(2026, 10, 27), date(2026, 11, 5)
    shop.insert(
        con,
        "campaigns",
        [
            campaign("winback-20261013", "winback", b13),
            campaign("winback-20261027", "winback", b27),
            campaign("winback-20261105", "winback", b05),
            campaign("winback-20261110", "winback", date(2026, 11, 10)),  # after the report day
            campaign("welcome-20261105", "welcome", b05),
            campaign("oldtest-20261001", "oldtest", date(2026, 10, 1)),
            campaign("oldtest-20261104", "oldtest", date(2026, 11, 4)),  # its variants were taken out
        ],
    )
    cid = "winback-20261105"
    shop.insert(
        con,
        "campaign_variant_draws",
        [
            draw(cid, "winback", b05, "Regulars", "10% off", 3, 39, 0.1, 3, 0.3),
            draw(cid, "winback", b05, "Regulars", "free shipping", 9, 33, 0.9, 7, 0.7),
            draw(cid, "winback", b05, "Newcomers", "10% off", 2, 5, 0.6, 1, 0.5),
            draw(cid, "winback", b05, "Newcomers", "free shipping", 1, 1, 0.4, 1, 0.5),
            draw("winback-20261110", "winback", date(2026, 11, 10), "Regulars", "10% off", 1, 1, 0.5, 5, 1.0),
            draw("oldtest-20261001", "oldtest", date(2026, 10, 1), "Regulars", "gift", 1, 1, 0.5, 5, 1.0),
        ],
    )
    shop.insert(
        con,
        "campaign_variant_posteriors",
        [
            # the first measurement: superseded by the one of 7 Nov
            posterior("winback", b27, "Regulars", "10% off", 40, 2, 0.1, builds=1),
            posterior("winback", b27, "Regulars", "free shipping", 40, 8, 0.9, builds=1),
            # after the 5 Nov build: two builds counted; Newcomers' free shipping was never measured
            posterior("winback", date(2026, 11, 7), "Regulars", "10% off", 80, 3, 0.02),
            posterior("winback", date(2026, 11, 7), "Regulars", "free shipping", 80, 17, 0.98),
            posterior("winback", date(2026, 11, 7), "Newcomers", "10% off", 10, 2, 1.0),
            # measured after the report day: not shown
            posterior("winback", date(2026, 11, 9), "Regulars", "10% off", 120, 60, 0.5, builds=3),
            posterior("winback", date(2026, 11, 9), "Regulars", "free shipping", 120, 60, 0.5, builds=3),
        ],
    )
    return con


def test_each_segment_shows_the_latest_knowledge_and_the_latest_builds_share(
    with_variants: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    data = build_report(with_variants, shop.AS_OF)
    assert not isinstance(data.campaigns, Unavailable)
    [test] = data.campaigns.variants  # welcome never tested variants; oldtest's latest build has none
    assert (test.name, test.campaign_id, test.as_of, test.measured_as_of) == (
        "winback",
        "winback-20261105",
        date(2026, 11, 5),
        date(2026, 11, 7),
    )
    assert test.segments == ["Regulars", "Newcomers"]  # the larger share of the build first
    # Regulars: the 7 Nov posteriors (two builds) replace what the 5 Nov build knew (one build).
    # Newcomers: the measurement lacks free shipping, so the build's own draw rows are shown.
    assert test.rows == [
        VariantRow("Regulars", "10% off", 80, 3, 4 / 82, 0.0031, 0.503, 0.02, 3, 0.3),
        VariantRow("Regulars", "free shipping", 80, 17, 18 / 82, 0.0171, 0.517, 0.98, 7, 0.7),
        VariantRow("Newcomers", "10% off", 5, 1, 2 / 7, 0.002, 0.989, 0.6, 1, 0.5),
        VariantRow("Newcomers", "free shipping", 0, 0, 0.5, 0.001, 0.997, 0.4, 1, 0.5),
    ]


def flat(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def test_the_section_is_rendered_in_the_web_report_and_both_emails(
    with_variants: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    data = build_report(with_variants, shop.AS_OF)
    web = render_web(data, [])
    mail, text = render_email(data, [])
    campaigns = web.split('<section id="campaigns">')[1].split("</section>")[0]
    assert 'id="campaign-variants"' in campaigns
    part = campaigns.split('<div id="campaign-variants">')[1]
    shown = flat(part)
    assert shown.startswith(
        "Offer variants winback , built 5 Nov 2026: counting every build measured up to 7 Nov 2026."
    )
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", part)
    assert [flat(r) for r in rows] == [
        "Regulars 10% off 3 / 80 4.9% (0.3% to 50.3%) 2.0% 30% (3)",
        "Regulars free shipping 17 / 80 22.0% (1.7% to 51.7%) 98.0% 70% (7)",
        "Newcomers 10% off 1 / 5 28.6% (0.2% to 98.9%) 60.0% 50% (1)",
        "Newcomers free shipping 0 / 0 50.0% (0.1% to 99.7%) 40.0% 50% (1)",
    ]
    assert "gift" not in web and "oldtest" not in part
    mailed = flat(mail)
    assert "Offer variants of winback , built 5 Nov 2026 (measured up to 7 Nov 2026):" in mailed
    assert "Regulars free shipping 22.0% 1.7% to 51.7% 98.0% 70%" in mailed
    assert (
        "- Regulars, free shipping: estimated 22.0% buy (1.7% to 51.7%), chance best 98.0%, 70% of the latest build"
        in text
    )
    assert (
        "- Newcomers, free shipping: estimated 50.0% buy (0.1% to 99.7%), chance best 40.0%, 50% of the latest build"
        in text
    )


def test_a_build_not_measured_yet_says_every_variant_starts_even(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    day = date(2026, 11, 5)
    shop.insert(shop_con, "campaigns", [campaign("winback-20261105", "winback", day)])
    shop.insert(
        shop_con,
        "campaign_variant_draws",
        [draw("winback-20261105", "winback", day, "Regulars", v, 1, 1, 0.5, 5, 0.5) for v in VARIANTS],
    )
    data = build_report(shop_con, shop.AS_OF)
    assert not isinstance(data.campaigns, Unavailable)
    [test] = data.campaigns.variants
    assert test.measured_as_of is None and [r.n_sent for r in test.rows] == [0, 0]
    assert "winback , built 5 Nov 2026: no build measured yet, so every variant starts even." in flat(
        render_web(data, [])
    )


def test_no_section_without_a_campaign_testing_variants(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    # Before any campaign; then a campaign that tested variants on 20 Oct and was built without them since.
    for later in (False, True):
        if later:
            earlier = date(2026, 10, 20)
            shop.insert(
                shop_con,
                "campaigns",
                [
                    campaign("welcome-20261020", "welcome", earlier),
                    campaign("welcome-20261105", "welcome", date(2026, 11, 5)),
                ],
            )
            shop.insert(
                shop_con,
                "campaign_variant_draws",
                [
                    draw("welcome-20261020", "welcome", earlier, "Regulars", v, 1, 1, 0.5, 5, 0.5)
                    for v in VARIANTS
                ],
            )
            # Shown while that build is the latest (the check below could not fail otherwise).
            before = build_report(shop_con, date(2026, 11, 1)).campaigns
            assert not isinstance(before, Unavailable) and before.variants
        data = build_report(shop_con, shop.AS_OF)
        assert isinstance(data.campaigns, Unavailable) or data.campaigns.variants == []
        web = render_web(data, [])
        mail, text = render_email(data, [])
        assert "campaign-variants" not in web and "Offer variants" not in web
        assert "Offer variants" not in mail and "OFFER VARIANTS" not in text


@pytest.mark.browser
def test_the_section_opens_cleanly_in_chromium(
    with_variants: duckdb.DuckDBPyConnection,
    shop: ModuleType,
    cdp: ModuleType,
    report_settings: Settings,
    tmp_path: Path,
) -> None:
    from tests.report.conftest import load_helper

    binary = cdp.chromium_path()
    if binary is None:
        pytest.skip("chromium is not installed: `make test` installs Debian's chromium")
    browser_checks = load_helper("test_browser")
    report = create_report(with_variants, report_settings, shop.AS_OF).path
    with cdp.browser(str(binary), tmp_path / "profile") as page:
        seen = page.load(report.as_uri())
        shown = page.evaluate(
            "(() => { const el = document.getElementById('campaign-variants'); const box = el.getBoundingClientRect();"
            " return {visible: box.width > 0 && box.height > 0, text: el.innerText,"
            " rows: el.querySelectorAll('tbody tr').length, main: document.body.innerText}; })()"
        )
        shot = page.screenshot(tmp_path / "variants.png")
    browser_checks.check_clean_load(seen, report)
    assert shown["visible"] and shown["rows"] == 4
    assert "chance it is best" in shown["text"].lower() and "22.0% (1.7% to 51.7%)" in shown["text"]
    # The owner's words: no technical score in the main view (the technical side stays collapsed).
    assert browser_checks.TECHNICAL.findall(shown["main"]) == []
    assert shot.read_bytes().startswith(b"\x89PNG")
    print(f"screenshot: {shot}")
