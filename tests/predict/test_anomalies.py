"""Anomalies: planted bulk buyers are flagged, each with a reason in words."""

from __future__ import annotations

import numpy as np
import polars as pl

from segmint.predict.anomalies import detect_anomalies


def base(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frequency = rng.integers(1, 6, n)
    aov = rng.gamma(4.0, 12.0, n)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "frequency": frequency,
            "monetary": frequency * aov,
            "avg_order_value": aov,
            "return_rate": np.where(rng.random(n) < 0.1, 0.2, 0.0),
            "distinct_products": frequency * 2,
            "sessions_90d": rng.poisson(4, n),
            "mean_days_between_orders": np.where(frequency > 1, rng.uniform(10, 60, n), np.nan),
        }
    )


def test_planted_bulk_buyers_are_flagged_with_a_reason() -> None:
    normal = base(2000)
    bulk = pl.DataFrame(
        {
            "customer_id": ["bulk1", "bulk2", "bulk3"],
            "frequency": [40, 55, 70],
            "monetary": [160_000.0, 200_000.0, 300_000.0],
            "avg_order_value": [4000.0, 3636.0, 4285.0],
            "return_rate": [0.0, 0.0, 0.0],
            "distinct_products": [300, 400, 500],
            "sessions_90d": [4, 3, 5],
            "mean_days_between_orders": [2.0, 1.5, 1.0],
        }
    )
    features = pl.concat([normal, bulk], how="vertical_relaxed")
    flags = detect_anomalies(features, contamination=0.01, seed=1)
    assert flags.height == features.height
    flagged = flags.filter("is_anomaly")
    assert 19 <= flagged.height <= 21  # contamination 1% of 2,003 (ties at the cut-off may add one)
    assert {"bulk1", "bulk2", "bulk3"} <= set(flagged["customer_id"])
    reason = flagged.filter(pl.col("customer_id") == "bulk3")["anomaly_reason"].item()
    assert reason.startswith("high ")
    assert "median" in reason
    assert (
        flags.filter(~pl.col("is_anomaly"))["anomaly_reason"].null_count() == features.height - flagged.height
    )
    # The planted customers are the most isolated: the lowest scores.
    assert set(flags.sort("anomaly_score")["customer_id"][:3]) == {"bulk1", "bulk2", "bulk3"}
    again = detect_anomalies(features, contamination=0.01, seed=1)
    assert again.equals(flags)


def test_too_few_customers_flags_nobody() -> None:
    flags = detect_anomalies(base(10), contamination=0.1)
    assert flags.height == 10
    assert not flags["is_anomaly"].any()
