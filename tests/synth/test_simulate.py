"""Simulated responses: the planted rates come out, in the canonical orders layout, reproducibly."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from segmint.errors import SegmintError
from segmint.synth.simulate import catalogue, parse_rates, simulate_responses


def audience(folder: Path, name: str, n: int) -> Path:
    """An audience CSV of n customers in two segments, a quarter held out, with its manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    pl.DataFrame(
        {
            "customer_id": [f"{name}-{i}" for i in range(n)],
            "segment": ["A" if i % 2 else "B" for i in range(n)],
            "group": ["holdout" if i % 4 == 0 else "treatment" for i in range(n)],
            "recommended_products": ["P2|P1"] * n,
        }
    ).write_csv(path)
    manifest = {"campaign_id": name, "window_start": "2024-04-01", "window_end": "2024-04-14"}
    path.with_suffix(".json").write_text(json.dumps(manifest))
    return path


def test_planted_rates_come_out(tmp_path: Path) -> None:
    orders = tmp_path / "data" / "orders"
    orders.mkdir(parents=True)
    pl.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "product_id": ["P1", "P2", "P1"],
            "product_name": ["Mug", "Tea", "Mug"],
            "category": ["Kitchen", "Food", "Kitchen"],
            "quantity": [1, 2, 1],
            "unit_price": [10.0, 4.5, 12.0],
        }
    ).write_csv(orders / "orders_2024-03.csv")
    assert catalogue(tmp_path / "data").rows() == [("P1", "Mug", "Kitchen", 11.0), ("P2", "Tea", "Food", 4.5)]
    paths = [audience(tmp_path / "exports", "c1", 40_000), audience(tmp_path / "exports", "c2", 400)]
    summaries = simulate_responses(
        paths, tmp_path / "data", uplift={"A": 0.05, "*": 0.0}, base_rate={"A": 0.1, "B": 0.2}, seed=1
    )
    assert [s.campaign_id for s in summaries] == ["c1", "c2"]
    assert summaries[0].orders_file == orders / "responses_20240401.csv"
    truth = pl.read_csv(summaries[0].truth_file)
    rates = truth.group_by("campaign_id", "segment", "group").agg(
        pl.col("converted").mean(), pl.col("p_convert").first()
    )
    expected = {
        ("A", "treatment"): 0.15,
        ("A", "holdout"): 0.10,
        ("B", "treatment"): 0.2,
        ("B", "holdout"): 0.2,
    }
    for row in rates.filter(pl.col("campaign_id") == "c1").iter_rows(named=True):
        planted = expected[(row["segment"], row["group"])]
        assert row["p_convert"] == pytest.approx(planted)
        assert row["converted"] == pytest.approx(planted, abs=0.012)  # >= 5,000 customers per cell

    written = pl.read_csv(summaries[0].orders_file, try_parse_dates=True)
    assert written.columns[:4] == ["order_id", "line_no", "customer_id", "ordered_at"]
    assert written.height == truth["converted"].sum()
    assert written["order_id"].n_unique() == written.height
    assert written["ordered_at"].is_sorted()
    assert str(written["ordered_at"].min())[:10] >= "2024-04-01"
    assert str(written["ordered_at"].max())[:10] <= "2024-04-14"
    assert set(written["product_id"]) == {"P2"}  # the first recommended product
    assert set(written["unit_price"]) == {4.5}
    again = simulate_responses(
        paths, tmp_path / "data", uplift={"A": 0.05, "*": 0.0}, base_rate={"A": 0.1, "B": 0.2}, seed=1
    )
    assert pl.read_csv(again[0].orders_file).equals(pl.read_csv(summaries[0].orders_file))


def test_rate_specs_and_mistakes(tmp_path: Path) -> None:
    assert parse_rates(["Champions=0.05", "At Risk=-0.02", "*=0"], "--uplift") == {
        "Champions": 0.05,
        "At Risk": -0.02,
        "*": 0.0,
    }
    with pytest.raises(SegmintError, match="'x=2' is not SEGMENT=RATE"):
        parse_rates(["x=2"], "--uplift")
    bare = tmp_path / "a.csv"
    pl.DataFrame({"customer_id": ["1"], "segment": ["A"], "group": ["treatment"]}).write_csv(bare)
    with pytest.raises(SegmintError, match=r"no a\.json next to it says when the campaign ran; pass --start"):
        simulate_responses([bare], tmp_path, uplift={})
    pl.DataFrame({"customer_id": ["1"]}).write_csv(bare)
    with pytest.raises(SegmintError, match=r"column\(s\) group, segment missing"):
        simulate_responses([bare], tmp_path, uplift={})
