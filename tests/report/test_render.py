"""Rendering: both forms autoescape data, the web report is self-contained, the email is mail-safe."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from segmint.config import Settings
from segmint.report import build_report, create_report, default_report_day
from segmint.report.charts import render_charts
from segmint.report.render import SECTION_IDS, environment, render_email, render_web
from segmint.resources import resource_dir


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text outside tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


@pytest.fixture
def rendered(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> tuple[str, str, str]:
    data = build_report(shop_con, shop.AS_OF, features=Settings().segmentation.features)
    charts = render_charts(data)
    # Six customers: the size trend (three weeks) is drawn; the grid, the moves and the map are words.
    assert [c.key for c in charts] == ["sizes"]
    web = render_web(data, charts)
    html, text = render_email(data, charts, report_url="https://shop.example/segmint/2026-11-08/report.html")
    return web, html, text


def test_data_is_escaped_in_the_web_report(rendered: tuple[str, str, str], shop: ModuleType) -> None:
    web, _, _ = rendered
    tags = parse(web)
    assert not [t for t, _ in tags.tags if t == "script"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in web
    assert shop.EVIL in "".join(tags.text)  # shown as text
    assert 'onerror="alert(2)"' not in web and "&lt;img src=x onerror=" in web
    assert not [a for _, attrs in tags.tags for a in attrs if a.startswith("on")]


def test_data_is_escaped_in_the_email(rendered: tuple[str, str, str], shop: ModuleType) -> None:
    _, html, _ = rendered
    tags = parse(html)
    assert not [t for t, _ in tags.tags if t in {"script", "style", "link", "iframe", "form"}]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert shop.EVIL in "".join(tags.text)
    assert "&lt;img src=x onerror=" in html


def test_web_report_is_self_contained(rendered: tuple[str, str, str]) -> None:
    web, _, _ = rendered
    tags = parse(web)
    refs = [(t, k, v or "") for t, attrs in tags.tags for k, v in attrs.items() if k in {"src", "href"}]
    assert refs, "the report has links and images"
    assert all(v.startswith(("#", "data:image/png;base64,")) for _, _, v in refs), refs
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", web, re.IGNORECASE)
    assert not [t for t, _ in tags.tags if t in {"script", "link", "iframe", "object", "embed"}]
    assert "@import" not in web and "url(" not in web
    csp = [
        a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]
    ids = {a.get("id") for _, a in tags.tags}
    assert set(SECTION_IDS) <= ids


def test_email_is_table_layout_with_inline_css_and_cid_images(rendered: tuple[str, str, str]) -> None:
    _, html, text = rendered
    tags = parse(html)
    outer = [a for t, a in tags.tags if t == "table" and a.get("width") == "600"]
    assert len(outer) == 1 and "max-width:600px" in (outer[0].get("style") or "")
    images = [a["src"] for t, a in tags.tags if t == "img"]
    assert images == ["cid:chart-sizes@segmint"]
    assert not [a for _, a in tags.tags if "class" in a]  # mail clients drop <style>: styles are inline
    assert "data:" not in html  # images travel as parts, not inline data
    assert "&lt;/td&gt;" not in html and "&lt;tr" not in html  # the layout itself is never escaped
    assert "Your customers this week: 2026-W45 (2 Nov – 8 Nov 2026)" in text
    assert "Full report: https://shop.example/segmint/2026-11-08/report.html" in text
    assert "Regulars: 3 customers (50.0%, +1 this week)" in text


def test_absent_sections_render_as_not_yet_available(duck: duckdb.DuckDBPyConnection) -> None:
    data = build_report(duck, date(2026, 11, 8))
    charts = render_charts(data)
    assert charts == []
    web = render_web(data, charts)
    html, text = render_email(data, charts)
    for form in (web, html, text):
        assert "Not yet available" in form
        assert "No published segmentation up to 2026-11-08 yet" in form
    assert "No campaigns yet" in web and "No predictions" in web


def test_templates_never_mark_data_safe() -> None:
    env = environment()
    assert callable(env.autoescape)
    assert env.autoescape("web_report.html") and env.autoescape("email_report.html")
    for path in (resource_dir("reports") / "templates").glob("*report*"):
        source = re.sub(
            r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.DOTALL
        )  # comments may say it
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", source), path


def test_create_report_writes_files_and_records_them(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, report_settings: Settings
) -> None:
    result = create_report(shop_con, report_settings, shop.AS_OF)
    folder = report_settings.output_dir / "reports" / "2026-11-08"
    assert result.path == (folder / "report.html").resolve() and result.path.is_file()
    assert result.email_path == (folder / "email.eml").resolve() and result.email_path.is_file()
    assert result.web_bytes == result.path.stat().st_size
    assert not list(folder.glob(".*.tmp"))
    row = shop_con.execute(
        "select as_of, period_start, segment_run_id, path, web_bytes, sent_at from reports"
    ).fetchall()
    assert row == [
        (date(2026, 11, 8), date(2026, 11, 2), "seg_cur", str(result.path), result.web_bytes, None)
    ]
    # A second rendering of the same week replaces the files and adds a ledger row.
    again = create_report(shop_con, report_settings, shop.AS_OF)
    assert again.path == result.path and again.report_id != result.report_id
    assert shop_con.execute("select count(*) from reports").fetchone() == (2,)


def test_default_report_day_is_the_last_published_night(shop_con: duckdb.DuckDBPyConnection) -> None:
    # r_sun (2026-11-08) was held: its data did not pass, so the default is the night in force.
    assert default_report_day(shop_con) == date(2026, 11, 7)
    shop_con.execute("update segment_runs set published = false")
    # Before any night was published: the last night refreshed, held or not.
    assert default_report_day(shop_con) == date(2026, 11, 8)


def test_report_files_are_small_for_a_small_shop(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, report_settings: Settings
) -> None:
    result = create_report(shop_con, report_settings, shop.AS_OF)
    assert result.web_bytes < 1_000_000 and result.email_bytes < 1_000_000
    assert Path(result.path).read_text(encoding="utf-8").startswith("<!doctype html>")


def test_every_amount_carries_the_shop_currency(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    import dataclasses

    from segmint.report.render import money

    assert money(-227.7, "GBP") == "\u2212£227.70"
    assert money(1234.5, "CHF") == "CHF 1,234.50"
    assert money(3.0, "USD", signed=True) == "+$3.00"
    assert money(None, "EUR") == "—"
    data = dataclasses.replace(
        build_report(shop_con, shop.AS_OF, features=Settings().segmentation.features), currency="CHF"
    )
    charts = render_charts(data)
    web = render_web(data, charts)
    kpis = {k.key: k for k in data.kpis}
    assert f"CHF {kpis['revenue'].current:,.2f}" in web
    html, text = render_email(data, charts)
    for form in (web, html, text):
        assert_amounts_carry(form, "CHF ")


AMOUNT = re.compile(r"(?<![\d.,])[+-]?\d[\d,]*\.\d\d(?![\d%])")


def test_negative_amounts_put_the_sign_before_the_currency() -> None:
    from segmint.report.render import anomaly_reason, money, with_currency

    minus = "\u2212"
    assert money(-4287.63, "GBP") == f"{minus}£4,287.63"
    assert money(-240.53, "GBP", signed=True) == f"{minus}£240.53"
    assert anomaly_reason("low monetary -4,287.63 (median 48.55)", "GBP") == (
        f"low revenue to date: {minus}£4,287.63 (most customers: £48.55)"
    )
    assert "orders of −£12.50 on average" in with_currency("1.0 orders of -12.50 on average (net)", "GBP")
    for text in (money(-4287.63, "GBP"), anomaly_reason("low monetary -4,287.63 (median 48.55)", "GBP")):
        assert "£-" not in text and "-£" not in text


def assert_amounts_carry(rendered: str, prefix: str) -> None:
    """Every number with two decimals outside "How these segments were made" is money: it shows `prefix`
    (counts have none, averages and percentages one)."""
    main = rendered.split('<section id="how-made">')[0]
    found = [
        (m.group(), main[max(0, m.start() - len(prefix) - 1) : m.start()]) for m in AMOUNT.finditer(main)
    ]
    assert found, "the report shows amounts"
    bare = [amount for amount, before in found if not before.endswith((prefix, prefix + "-", prefix + "+"))]
    assert bare == [], f"amounts without {prefix.strip()}: {bare[:10]}"


def test_duplicates_are_their_own_line_not_quarantined(rendered: tuple[str, str, str]) -> None:
    # This week: 5 rows quarantined and, apart from them, 2 rows skipped as already loaded.
    web, html, text = rendered
    line = "2 duplicate rows skipped (already loaded from an earlier, overlapping export; not quarantined)."
    for out in (web, html, text):
        assert "5 rows quarantined." in out and line in " ".join(out.split())
        assert "of which duplicates" not in out
    assert '<th class="n">Duplicates skipped</th>' in web
    assert "Average order value (net)" in web and "Average order value (net)" in html
