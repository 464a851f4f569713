"""On a generated shop with known personas (20,000 customers, default settings): segments against the
true personas, and two consecutive nights keeping customers' segment ids."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score
from tests.segment.conftest import NIGHT_1, NIGHT_2, generated_shop

from segmint.segment import SegmentationResult, segment_customers
from segmint.warehouse import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SegmentationResult, SegmentationResult]:
    """Generate, ingest, build features and segment two consecutive nights, once for the module."""
    out = tmp_path_factory.mktemp("personas")
    path = generated_shop(out, 20_000, 365)
    with connect(path) as con:
        first = segment_customers(con, NIGHT_1, run_id="night-1")
        second = segment_customers(con, NIGHT_2, run_id="night-2")
    return out, first, second


def _ari(con: duckdb.DuckDBPyConnection, truth: Path, run_id: str) -> float:
    assigned = con.sql(
        "select customer_id, segment_id from segment_assignments where run_id = ?", params=[run_id]
    ).pl()
    joined = assigned.join(pl.read_csv(truth), on="customer_id")
    assert joined.height == 20_000
    return float(adjusted_rand_score(joined["persona"], joined["segment_id"]))


def test_two_consecutive_nights_keep_the_segment_of_95_percent(
    nights: tuple[Path, SegmentationResult, SegmentationResult],
) -> None:
    _, first, second = nights
    assert first.published and second.published
    assert second.kept_segment_share is not None and second.kept_segment_share >= 0.95
    assert second.stability_ari is not None and second.stability_ari >= 0.9
    assert second.k == first.k


def test_segments_recover_the_true_personas(
    nights: tuple[Path, SegmentationResult, SegmentationResult],
) -> None:
    out, _, second = nights
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as con:
        ari = _ari(con, out / "truth" / "personas.csv", second.run_id)
    print(f"k={second.k} silhouette={second.silhouette:.3f} ARI vs personas={ari:.3f}")
    assert ari >= 0.8
