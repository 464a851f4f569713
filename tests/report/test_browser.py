"""The web report in a real browser (Debian's headless chromium): no console errors, no request leaves the
page, the key sections are visible, data shows as text, a screenshot is saved."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from segmint.config import Settings
from segmint.report import create_report
from segmint.report.render import SECTION_IDS

pytestmark = pytest.mark.browser

KEY_SECTIONS = list(SECTION_IDS)
VISIBLE = """
(() => Object.fromEntries(%s.map(id => {
  const el = document.getElementById(id);
  if (!el) return [id, false];
  const box = el.getBoundingClientRect(), style = getComputedStyle(el);
  return [id, box.width > 0 && box.height > 0 && style.display !== 'none' && style.visibility !== 'hidden'];
})))()
"""
IMAGES = "[...document.images].map(i => [i.id || i.alt.slice(0, 30), i.complete && i.naturalWidth > 0])"


@pytest.fixture(scope="module")
def chromium(cdp: ModuleType) -> tuple[ModuleType, str]:
    found = cdp.chromium_path()
    if found is None:
        pytest.skip(
            "chromium is not installed: `make test` installs Debian's chromium, or run `sudo apt-get install chromium`"
        )
    return cdp, str(found)


def open_report(chromium: tuple[ModuleType, str], report: Path, tmp_path: Path) -> tuple[Any, Any, Path]:
    """Load the report; return what happened, the page results and the screenshot path."""
    cdp, binary = chromium
    with cdp.browser(binary, tmp_path / "profile") as page:
        seen = page.load(report.as_uri())
        visible = page.evaluate(VISIBLE % KEY_SECTIONS)
        facts = page.evaluate(
            f"({{images: {IMAGES}, scripts: document.scripts.length, text: document.body.innerText,"
            " title: document.title})"
        )
        # "How these segments were made" starts collapsed; opened, it shows the technical scores.
        how_made = page.evaluate(
            "(() => { const d = document.querySelector('#how-made details');"
            " if (!d) return {closed: false, text: ''};"
            " const closed = !d.open; d.open = true; return {closed, text: d.innerText}; })()"
        )
        shot = page.screenshot(tmp_path / "report.png")
    return seen, {"visible": visible, **facts, "how_made": how_made}, shot


# Words of the technical side: the main view speaks of customers, money, orders and what to do.
TECHNICAL = re.compile(
    r"silhouette|\bARI\b|Rand index|\bsd\b|\bPCA\b|principal component|eta²|\bAUC\b|\bF1\b|p-value|kmeans",
    re.IGNORECASE,
)


def check_plain_main_view(page: dict[str, Any]) -> None:
    """No technical score in the visible text while "How these segments were made" is collapsed."""
    assert page["how_made"]["closed"], "How these segments were made starts collapsed"
    assert TECHNICAL.findall(page["text"]) == []


def check_clean_load(seen: Any, report: Path) -> None:
    assert seen.console_errors == [] and seen.exceptions == [] and seen.log_errors == []
    assert seen.failed_requests == []
    outside = [u for u in seen.requests if not u.startswith(("data:", report.as_uri()))]
    assert outside == [], f"requests left the page: {outside}"


def test_report_in_chromium(
    chromium: tuple[ModuleType, str],
    shop_con: duckdb.DuckDBPyConnection,
    shop: ModuleType,
    report_settings: Settings,
    tmp_path: Path,
) -> None:
    report = create_report(shop_con, report_settings, shop.AS_OF).path
    seen, page, shot = open_report(chromium, report, tmp_path)
    check_clean_load(seen, report)
    assert page["visible"] == dict.fromkeys(KEY_SECTIONS, True)
    assert page["scripts"] == 0  # the product called <script>alert(1)</script> stayed text
    assert shop.EVIL in page["text"] and shop.EVIL_DESCRIPTION in page["text"]
    # Six customers: only the size trend is drawn; the others say what they would show.
    assert [ok for _, ok in page["images"]] == [True]
    assert "The map draws customers who buy alike close together" in page["text"]
    assert page["title"] == "Customer report 2026-W45 (2 Nov – 8 Nov 2026)"
    check_plain_main_view(page)
    assert "Silhouette 0.41" in page["how_made"]["text"]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


def test_a_report_without_segments_opens_cleanly(
    chromium: tuple[ModuleType, str],
    duck: duckdb.DuckDBPyConnection,
    report_settings: Settings,
    tmp_path: Path,
) -> None:
    from datetime import date

    report = create_report(duck, report_settings, date(2026, 11, 8)).path
    seen, page, _ = open_report(chromium, report, tmp_path)
    check_clean_load(seen, report)
    assert page["visible"] == dict.fromkeys(KEY_SECTIONS, True)
    assert "Not yet available" in page["text"]


def test_the_browser_check_catches_errors_and_outside_requests(
    chromium: tuple[ModuleType, str], tmp_path: Path
) -> None:
    # The checks above would be worthless if they could not fail: a page that breaks both rules.
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><title>bad</title><img src='http://127.0.0.1:9/pixel.png'>"
        "<script>console.error('broken'); undefined_function();</script>",
        encoding="utf-8",
    )
    seen, _, _ = open_report(chromium, bad, tmp_path)
    assert seen.console_errors and seen.exceptions
    assert "http://127.0.0.1:9/pixel.png" in seen.requests
    with pytest.raises(AssertionError):
        check_clean_load(seen, bad)
