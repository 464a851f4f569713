"""Scaling: fill values, signed log1p, robust scaling, and the stored transform."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from segmint.errors import ConfigError
from segmint.segment.scaling import FeatureTransform, check_features, default_log, fit_transform


def test_default_log_spares_rates_and_day_counts() -> None:
    assert default_log("monetary") and default_log("sessions_90d") and default_log("frequency")
    assert not default_log("recency_days") and not default_log("cart_abandonment_rate_90d")


def test_fill_log_and_robust_scale_by_hand() -> None:
    frame = pl.DataFrame(
        {
            "recency_days": [1, 3, 5, 7, None],
            "monetary": [0.0, np.e - 1, -(np.e - 1), 0.0, 0.0],
            "return_rate": [0.0, 0.0, 0.0, 0.0, 1.0],
        }
    )
    x, transform = fit_transform(frame, ["recency_days", "monetary", "return_rate"])
    # recency: null -> max + 1 = 8; linear; median 5, IQR 7 - 3 = 4
    assert transform.fill[0] == 8.0
    np.testing.assert_allclose(x[:, 0], [(1 - 5) / 4, (3 - 5) / 4, 0, (7 - 5) / 4, (8 - 5) / 4])
    # monetary: signed log1p -> 0, 1, -1, 0, 0; median 0, IQR 0 -> std
    logged = np.array([0, 1, -1, 0, 0])
    np.testing.assert_allclose(x[:, 1], logged / logged.std())
    # return_rate: not logged, IQR 0 -> std 0.4
    np.testing.assert_allclose(x[:, 2], np.array([0, 0, 0, 0, 1]) / 0.4)
    assert transform.log == (False, True, False)


def test_a_constant_feature_does_not_divide_by_zero() -> None:
    frame = pl.DataFrame({"frequency": [2, 2, 2], "monetary": [1.0, 2.0, 3.0]})
    x, transform = fit_transform(frame, ["frequency", "monetary"])
    assert transform.scale[0] == 1.0
    assert np.isfinite(x).all()


def test_log_features_setting_overrides_the_default() -> None:
    frame = pl.DataFrame({"recency_days": [1, 10, 100], "monetary": [1.0, 10.0, 100.0]})
    _, transform = fit_transform(frame, ["recency_days", "monetary"], log_features=["recency_days"])
    assert transform.log == (True, False)


def test_the_stored_transform_maps_a_later_night_the_same_way() -> None:
    frame = pl.DataFrame({"recency_days": [1, 3, 5, None], "sessions_90d": [0, 4, 9, 1]})
    x, transform = fit_transform(frame, ["recency_days", "sessions_90d"])
    again = FeatureTransform.from_json(transform.to_json())
    assert again == transform
    np.testing.assert_allclose(again.apply(frame), x)
    np.testing.assert_allclose(again.scale_matrix(again.unscale(x)), x)


def test_unknown_features_are_named_in_one_sentence() -> None:
    with pytest.raises(ConfigError, match=r"segmentation\.features: lifetime_value is not a numeric column"):
        check_features(["frequency", "monetary"], ["frequency", "lifetime_value"])
