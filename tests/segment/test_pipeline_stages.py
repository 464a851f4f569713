"""The nightly stages as the flow calls them: features, a pending segmentation, the gate's verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.segment.conftest import NIGHT_1, NIGHT_2

from segmint import pipeline
from segmint.config import SegmentationSettings, Settings, WarehouseSettings
from segmint.quality.gate import GateDecision
from segmint.segment import TooFewCustomersError, current_run, segment_customers
from segmint.warehouse import connect


@pytest.fixture
def settings(small_shop: Path, tmp_path: Path) -> Settings:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(small_shop, path)
    return Settings(warehouse=WarehouseSettings(path=path), config_path=tmp_path / "segmint.toml")


def test_stages_store_pending_runs_that_the_gate_publishes_or_holds(settings: Settings) -> None:
    build = pipeline.build_features(settings, NIGHT_1)
    assert build.customers > 1000 and build.buyers + build.prospects == build.customers
    first = pipeline.segment_customers(settings, "nightly-1", NIGHT_1)
    assert first is not None and first.run_id == "nightly-1" and not first.published
    pipeline.publish_segments(settings, "nightly-1", GateDecision(publish=True))
    second = pipeline.segment_customers(settings, "nightly-2", NIGHT_2)
    assert second is not None and second.stability_ari is not None
    pipeline.publish_segments(settings, "nightly-2", GateDecision(publish=False, reasons=["orders volume"]))
    with connect(settings.warehouse.path) as con:
        assert current_run(con) == "nightly-1"
        reasons = con.execute("select run_id, status_reason from segment_runs order by run_id").fetchall()
    assert reasons == [("nightly-1", "published"), ("nightly-2", "held: orders volume")]


def test_too_few_customers_skip_segmentation(settings: Settings) -> None:
    settings.segmentation = SegmentationSettings(min_customers=100_000)
    assert pipeline.segment_customers(settings, "nightly-1", NIGHT_2) is None
    with connect(settings.warehouse.path) as con:
        with pytest.raises(TooFewCustomersError, match=r"fewer than segmentation\.min_customers \(100000\)"):
            segment_customers(con, NIGHT_2, settings.segmentation)
        assert con.execute("select count(*) from segment_runs").fetchall() == [(0,)]
