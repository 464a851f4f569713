"""The report on generated data through the real pipeline (generate -> ingest -> features -> segments, three
weekly nights), checked for content and opened in headless chromium."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from segmint import pipeline
from segmint.config import load_settings
from segmint.features import build_features
from segmint.report import ReportResult, create_report
from segmint.report.model import Migration, Projection, RfmGrid, SizeHistory
from segmint.segment.run import segment_customers
from segmint.synth.generate import generate

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 8)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    shop = tmp_path_factory.mktemp("generated")
    generate(shop, customers=2000, days=200, end=DAY, seed=5)
    settings = load_settings(shop / "segmint.toml")
    run_id = pipeline.begin_run(settings, "nightly", DAY)
    pipeline.ingest_sources(settings, run_id)
    pipeline.end_run(settings, run_id, "completed")
    with pipeline.open_warehouse(settings) as con:
        for night in (DAY - timedelta(days=14), DAY - timedelta(days=7), DAY):
            build_features(con, night, settings.features)
            segment_customers(con, night, settings.segmentation)
        return create_report(con, settings, DAY)


def test_every_section_is_filled_from_real_segments(generated: ReportResult) -> None:
    data = generated.data
    segments = data.segment_list
    assert len(segments) >= 3
    assert sum(s.size for s in segments) == 2000
    assert sum(s.share for s in segments) == pytest.approx(1.0)
    assert all(s.action is not None and s.defining and s.previous_size is not None for s in segments)
    assert any(s.top_products for s in segments)
    assert isinstance(data.migration, Migration) and data.migration.customers_compared > 0
    assert isinstance(data.history, SizeHistory)
    assert sum(v is not None for v in next(iter(data.history.sizes.values()))) == 3  # three weekly runs
    assert isinstance(data.rfm, RfmGrid) and sum(map(sum, data.rfm.counts)) > 0
    assert isinstance(data.projection, Projection) and data.projection.n_sampled <= 4000 + 30 * len(segments)
    assert [c.key for c in generated.charts] == ["sizes", "migration", "rfm", "projection"]
    kpis = {k.key: k for k in data.kpis}
    assert kpis["orders"].current and kpis["active_customers"].current
    assert generated.web_bytes < 2_000_000


def test_generated_report_in_chromium(generated: ReportResult, cdp: ModuleType, tmp_path: Path) -> None:
    binary = cdp.chromium_path()
    if binary is None:
        pytest.skip("chromium is not installed: `make test` installs it, or `sudo apt-get install chromium`")
    with cdp.browser(binary, tmp_path / "profile") as page:
        seen = page.load(generated.path.as_uri())
        facts: dict[str, Any] = page.evaluate(
            "({sections: [...document.querySelectorAll('main > section')].map(s => [s.id, s.offsetHeight > 0]),"
            " images: [...document.images].map(i => i.complete && i.naturalWidth > 0),"
            " cards: document.querySelectorAll('#segment-details .card').length})"
        )
        shot = page.screenshot(tmp_path / "generated-report.png")
    assert seen.console_errors == [] and seen.exceptions == [] and seen.log_errors == []
    assert [u for u in seen.requests if not u.startswith(("data:", "file:"))] == []
    assert all(visible for _, visible in facts["sections"]) and len(facts["sections"]) == 9
    assert facts["images"] == [True] * 4
    assert facts["cards"] == len(generated.data.segment_list)
    assert shot.stat().st_size > 100_000
    print(f"screenshot: {shot}")


@pytest.mark.usefixtures("prefect_server")
def test_the_nightly_flow_renders_the_report_with_its_segments(tmp_path: Path) -> None:
    """generate -> two nightly flow runs a week apart: the second night's report shows what moved."""
    from segmint.cli import load_flow_module

    generate(tmp_path, customers=1500, days=200, end=DAY, seed=8)
    nightly = load_flow_module("nightly").nightly
    outcomes = [
        nightly(config=str(tmp_path / "segmint.toml"), as_of=str(night))
        for night in (DAY - timedelta(days=7), DAY)
    ]
    assert [o.status for o in outcomes] == ["completed", "completed"], [o.messages for o in outcomes]
    report = outcomes[-1].report_path
    assert report == tmp_path / "reports" / DAY.isoformat() / "report.html"
    html = report.read_text(encoding="utf-8")
    # Two weekly runs: the size trend (3 weeks needed) says so in words; the other charts are drawn.
    for marker in ('id="gap-sizes"', 'id="chart-migration"', 'id="chart-rfm"', 'id="chart-projection"'):
        assert marker in html
    assert "changed segment" in html and "Not yet available. </strong>No published" not in html
