"""The report in the owner's words, on small realistic shops run through every nightly stage (tests/shops.py,
no generator): banners for stale data and skipped stages, currency on every amount, the technical scores
only in "How these segments were made", charts only with enough points, readable dates; checked in the
HTML and in headless chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import shops
from segmint.report.render import SECTION_IDS

END = date(2026, 11, 8)
NIGHTS = (END - timedelta(days=14), END - timedelta(days=7), END)
# Enough customers to segment (min_customers 100) and almost a year of orders, so churn is fitted too.
GROWN = shops.ShopShape(customers=300, days=330, end=END, events=True, seed=11)
YOUNG = shops.ShopShape(customers=40, days=60, end=END, events=False, seed=3)
STALE = shops.ShopShape(customers=40, days=90, end=END, stale_days=30, events=False, seed=5)


@pytest.fixture(scope="module")
def night() -> Callable[[Path, date], Any]:
    from tests.report.conftest import load_helper

    return load_helper("nightly").run_night  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def grown_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shops.write_shop(tmp_path_factory.mktemp("grown"), GROWN)


@pytest.fixture(scope="module")
def grown(grown_config: Path, night: Callable[[Path, date], Any]) -> dict[date, Path]:
    """Three weekly nights of a grown shop: each night's report.html."""
    return {day: night(grown_config, day)[1].report_path for day in NIGHTS}


@pytest.fixture(scope="module")
def young(tmp_path_factory: pytest.TempPathFactory, night: Callable[[Path, date], Any]) -> Path:
    """Two months of a 40-customer shop: too few to segment, too short for churn."""
    path: Path = night(shops.write_shop(tmp_path_factory.mktemp("young"), YOUNG), END)[1].report_path
    return path


@pytest.fixture(scope="module")
def stale(tmp_path_factory: pytest.TempPathFactory, night: Callable[[Path, date], Any]) -> Path:
    """A shop whose export stopped 30 days before the night."""
    path: Path = night(shops.write_shop(tmp_path_factory.mktemp("stale"), STALE), END)[1].report_path
    return path


def main_view(html: str) -> str:
    """The report without its technical section."""
    return html.split('<section id="how-made">')[0]


def banners(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", b)
        for b in re.findall(r'<p class="banner banner-\w+" role="alert">(.*?)</p>', html)
    ]


def test_stale_data_gets_a_banner_naming_the_newest_order(stale: Path) -> None:
    html = stale.read_text(encoding="utf-8")
    newest = date.fromisoformat(max(str(r["ordered_at"])[:10] for r in shops.order_rows(STALE)))
    age = (END - newest).days
    assert age >= 30
    assert banners(html)[0] == (
        f"Your newest order is from {newest.day} {newest:%b %Y}, {age} days before 8 Nov 2026 (more than the 3 days "
        "expected): the shop&#39;s export may have stopped, so this report shows nothing newer. Check the export "
        f"(`segmint doctor` names each file&#39;s age), or see the last day with data: "
        f"`segmint run nightly --as-of {newest}`."
    )
    assert html.count('class="banner banner-stale"') == 1


def test_fresh_data_gets_no_stale_banner(young: Path, grown: dict[date, Path]) -> None:
    for path in (young, grown[END]):
        assert 'class="banner banner-stale"' not in path.read_text(encoding="utf-8")


def test_skipped_stages_say_why_in_plain_words(young: Path) -> None:
    html = young.read_text(encoding="utf-8")
    shown = banners(html)
    assert re.fullmatch(
        r"No segments yet: Only \d+ customers have features for 2026-11-08, fewer than "
        r"segmentation.min_customers \(100\); segments are computed once the shop has more\.",
        shown[0],
    ), shown
    assert shown[1:] == [
        "Churn risk was not predicted: churn needs 270 days of orders (three churn horizons of 90 days); "
        "you have 59."
    ]
    assert html.count('class="banner banner-skipped"') == 2


def test_a_grown_shop_has_every_chart_and_amounts_in_euro(grown: dict[date, Path]) -> None:
    from tests.report.conftest import load_helper

    html = grown[END].read_text(encoding="utf-8")
    ids = re.findall(r'<figure id="(chart|gap)-(\w+)"', html)
    assert ids == [("chart", "sizes"), ("chart", "migration"), ("chart", "rfm"), ("chart", "projection")]
    load_helper("test_render").assert_amounts_carry(html, "€")
    assert "Customers were clustered with" in html.split('<section id="how-made">')[1]
    # The stored gate and model scores are there, but only in the technical section.
    assert not re.search(r"silhouette|\bsd\b|\bPCA\b|\bAUC\b|\bARI\b|p-value", main_view(html), re.IGNORECASE)


def test_the_first_week_says_what_the_trend_will_show(grown: dict[date, Path]) -> None:
    html = grown[NIGHTS[0]].read_text(encoding="utf-8")
    assert '<figure id="gap-sizes"' in html and '<figure id="chart-sizes"' not in html
    assert "once segments exist in 3 different weeks; so far 1 (week ending 25 Oct)." in html
    assert '<figure id="chart-projection"' in html  # 300 customers: the map is drawn


def test_the_reports_in_chromium(
    grown: dict[date, Path], young: Path, stale: Path, cdp: ModuleType, tmp_path: Path
) -> None:
    from tests.report.conftest import load_helper

    check = load_helper("test_browser")
    binary = cdp.chromium_path()
    if binary is None:
        pytest.skip("chromium is not installed: `make test` installs it, or `sudo apt-get install chromium`")
    chromium = (cdp, binary)
    for name, path in (("grown", grown[END]), ("young", young), ("stale", stale)):
        seen, page, shot = check.open_report(chromium, path, tmp_path / name)
        check.check_clean_load(seen, path)
        assert page["visible"] == dict.fromkeys(SECTION_IDS, True), name
        check.check_plain_main_view(page)
        assert shot.stat().st_size > 20_000
    # the last page opened is the stale shop's: the banner is what the owner reads first
    assert page["text"].index("Your newest order is from") < page["text"].index("Active customers")


def test_weekly_dates_under_a_chart_are_few_and_read_like_2_nov() -> None:
    from segmint.report.charts import week_ticks

    weeks = [END - timedelta(days=7 * i) for i in range(11, -1, -1)]
    positions, labels = week_ticks(weeks)
    assert labels == ["23 Aug", "6 Sep", "20 Sep", "4 Oct", "18 Oct", "1 Nov"]
    assert positions == [0, 2, 4, 6, 8, 10]
    assert week_ticks(weeks[-3:]) == ([0, 1, 2], ["25 Oct", "1 Nov", "8 Nov"])


def test_the_weekly_email_of_a_grown_shop_links_to_its_report_in_euro(
    grown: dict[date, Path], grown_config: Path, smtp: Any
) -> None:
    from tests.report.conftest import load_helper

    from segmint.config import load_settings
    from segmint.report import render, send_report

    settings = load_settings(grown_config)
    settings.alerts.smtp_host, settings.alerts.smtp_port = "127.0.0.1", smtp.port
    settings.alerts.recipients = ["owner@coffee.example"]
    settings.report.url = "https://coffee.example/reports"
    assert send_report(settings, render(settings, END)) == []
    [got] = smtp.received
    assert got.mail_from == "owner@coffee.example"  # no sender configured: the first recipient
    assert got.message.get_content_type() == "multipart/alternative"  # linked, not attached
    html = got.message.get_body(("html",)).get_content()
    text = got.message.get_body(("plain",)).get_content()
    assert 'href="https://coffee.example/reports/2026-11-08/report.html"' in html
    assert "Full report: https://coffee.example/reports/2026-11-08/report.html" in text
    check = load_helper("test_render")
    for form in (html, text):
        check.assert_amounts_carry(form, "€")
    assert not re.search(r"silhouette|\bsd\b|\bPCA\b|\bAUC\b|\bARI\b|p-value", html + text, re.IGNORECASE)
    assert [p.get_filename() for p in got.message.walk() if p.get_content_type() == "image/png"] == [
        "sizes.png",
        "migration.png",
        "rfm.png",
        "projection.png",
    ]


def test_the_email_of_a_young_shop_carries_its_banners(young: Path) -> None:
    from email import message_from_bytes, policy

    saved = message_from_bytes((young.parent / "email.eml").read_bytes(), policy=policy.default)
    assert saved.get_content_type() == "multipart/mixed"  # no [report] url: report.html is attached
    text = saved.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Note: No segments yet: Only " in text
    assert "Note: Churn risk was not predicted: churn needs 270 days of orders" in text
    assert "The full report is attached (report.html)" in text
    assert "From" not in saved  # nothing configured to send from (nor to): saved, never sent


@pytest.mark.slow
def test_the_cdnow_sample_reads_in_dollars_and_plain_words(
    tmp_path: Path, night: Callable[[Path, date], Any], cdp: ModuleType
) -> None:
    """The real CDNOW sample (2,357 customers), three weekly nights: every chart, predictions in words."""
    from tests.report.conftest import load_helper

    from real_layouts import cdnow_sample_as_master

    export = cdnow_sample_as_master(tmp_path)
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n"
        f"[[sources]]\nname = 'shop'\nkind = 'orders'\npath = '{export}'\npreset = 'cdnow'\n",
        encoding="utf-8",
    )
    nights = (date(1997, 9, 16), date(1997, 9, 23), date(1997, 9, 30))
    report = [night(config, day)[1].report_path for day in nights][-1]
    html = report.read_text(encoding="utf-8")
    assert re.findall(r'<figure id="(chart|gap)-(\w+)"', html) == [
        ("chart", "sizes"),
        ("chart", "migration"),
        ("chart", "rfm"),
        ("chart", "projection"),
    ]
    assert banners(html) == []  # fresh data, every stage ran
    load_helper("test_render").assert_amounts_carry(html, "$")
    check = load_helper("test_browser")
    binary = cdp.chromium_path()
    if binary is None:
        pytest.skip("chromium is not installed: `make test` installs it, or `sudo apt-get install chromium`")
    seen, page, _ = check.open_report((cdp, binary), report, tmp_path / "browser")
    check.check_clean_load(seen, report)
    check.check_plain_main_view(page)
    assert "Predicted on 30 Sep 1997." in page["text"]
    assert "ROC AUC" in page["how_made"]["text"] and "Silhouette" in page["how_made"]["text"]
