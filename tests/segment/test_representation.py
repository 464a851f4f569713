"""`[segmentation] representation = "autoencoder"`: it clusters on hand-built shops and falls back in words."""

from __future__ import annotations

import duckdb
import pytest
from pydantic import ValidationError

from segment.test_shop_shapes import NIGHT, shop
from segmint.config import SegmentationSettings
from segmint.segment import segment_customers


def test_an_orders_only_shop_is_clustered_on_the_bottleneck_and_says_so(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    shop(duck, 400)
    result = segment_customers(duck, NIGHT, SegmentationSettings(representation="autoencoder"))
    assert result.representation == "autoencoder" and result.k >= 2
    assert any("weekly orders only" in n and "(no clickstream)" in n for n in result.notes), result.notes
    assigned = duck.execute(
        "select count(distinct customer_id) from segment_assignments where run_id = ?", [result.run_id]
    ).fetchone()
    assert assigned == (400,)


def test_a_small_shop_falls_back_to_the_features_with_the_reason(duck: duckdb.DuckDBPyConnection) -> None:
    shop(duck, 120)
    settings = SegmentationSettings(representation="autoencoder", min_customers=50)
    result = segment_customers(duck, NIGHT, settings)
    assert result.representation == "features"
    assert any("120 customers are too few to train one on" in n for n in result.notes), result.notes


def test_an_unknown_representation_is_refused() -> None:
    with pytest.raises(ValidationError, match="representation"):
        SegmentationSettings(representation="pca")  # type: ignore[arg-type]
