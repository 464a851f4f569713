"""Turn customer features into the matrix scikit-learn clusters: fill, signed log1p, robust scaling."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from segmint import contract
from segmint.errors import ConfigError
from segmint.features import WEB_FEATURES

Matrix = npt.NDArray[np.float64]

# Nulls mean "never": no order yet, no visit yet, fewer than two orders. These are filled with a
# value beyond the longest observed, the rest (rates, counts, money of prospects) with 0.
FILL_BEYOND_MAX = frozenset({"recency_days", "days_since_last_visit", "mean_days_between_orders"})
# Day counts spread evenly and carry their meaning linearly (lapsed after months, not after e^x days).
LINEAR_DAYS = frozenset({"recency_days", "tenure_days", "days_since_last_visit", "mean_days_between_orders"})


def default_log(feature: str) -> bool:
    """Whether a feature is log-transformed by default: skewed counts and money, not rates or day counts."""
    if feature in contract.BY_NAME:
        return contract.BY_NAME[feature].logged
    return "rate" not in feature and feature not in LINEAR_DAYS


@dataclass(frozen=True)
class FeatureTransform:
    """The fitted transform of one re-cluster, kept so later nights map features into the same space."""

    features: tuple[str, ...]
    log: tuple[bool, ...]
    fill: tuple[float, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]

    def transformed(self, frame: pl.DataFrame) -> Matrix:
        """Fill and log, before scaling (the space profiles' z-scores are computed in)."""
        exprs = []
        for name, use_log, fill in zip(self.features, self.log, self.fill, strict=True):
            expr = pl.col(name).cast(pl.Float64).fill_null(fill).fill_nan(fill)
            if use_log:
                expr = expr.sign() * expr.abs().log1p()
            exprs.append(expr.alias(name))
        return frame.select(exprs).to_numpy().astype(np.float64, copy=False)

    def apply(self, frame: pl.DataFrame) -> Matrix:
        """The scaled matrix of `frame`'s rows, one column per feature."""
        return self.scale_matrix(self.transformed(frame))

    def scale_matrix(self, transformed: Matrix) -> Matrix:
        """Scale an already filled and logged matrix."""
        result: Matrix = (transformed - np.asarray(self.center)) / np.asarray(self.scale)
        return result

    def unscale(self, scaled: Matrix) -> Matrix:
        """Back from the scaled space to the filled-and-logged space."""
        result: Matrix = scaled * np.asarray(self.scale) + np.asarray(self.center)
        return result

    def compatible(self, other: FeatureTransform) -> bool:
        """Whether two transforms describe the same space up to centring and scaling."""
        return self.features == other.features and self.log == other.log

    def to_json(self) -> str:
        """Serialise for segment_models."""
        return json.dumps(
            {
                "features": list(self.features),
                "log": list(self.log),
                "fill": list(self.fill),
                "center": list(self.center),
                "scale": list(self.scale),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FeatureTransform:
        """Read back what to_json wrote."""
        data = json.loads(text)
        return cls(
            tuple(data["features"]),
            tuple(bool(x) for x in data["log"]),
            tuple(float(x) for x in data["fill"]),
            tuple(float(x) for x in data["center"]),
            tuple(float(x) for x in data["scale"]),
        )


def check_features(available: Sequence[str], features: Sequence[str]) -> None:
    """Fail with one sentence when a configured feature is not a numeric column of customer_features."""
    unknown = [f for f in features if f not in available]
    if unknown:
        raise ConfigError(
            f"segmentation.features: {', '.join(unknown)} is not a numeric column of customer_features; "
            f"use some of {', '.join(available)}."
        )
    if len(features) < 2:
        raise ConfigError("segmentation.features: list at least two features to cluster on.")


def fit_transform(
    frame: pl.DataFrame, features: Sequence[str], log_features: Sequence[str] | None = None
) -> tuple[Matrix, FeatureTransform]:
    """Fit fill values, log flags and robust scaling (median, IQR) on `frame`; return the matrix too."""
    logs = tuple((f in log_features) if log_features is not None else default_log(f) for f in features)
    stats = frame.select(
        *[pl.col(f).cast(pl.Float64).max().alias(f) for f in features],
    ).row(0)
    fill = tuple(
        (float(m) + 1.0 if m is not None else 0.0) if f in FILL_BEYOND_MAX else 0.0
        for f, m in zip(features, stats, strict=True)
    )
    unscaled = FeatureTransform(tuple(features), logs, fill, (0.0,) * len(features), (1.0,) * len(features))
    logged = unscaled.transformed(frame)
    center = np.median(logged, axis=0)
    q75, q25 = np.percentile(logged, [75, 25], axis=0)
    iqr = q75 - q25
    std = logged.std(axis=0)
    # A feature with most customers on one value (e.g. return_rate 0) has IQR 0: fall back to the
    # standard deviation, and to 1 for a constant, so no column divides by zero.
    scale = np.where(iqr > 1e-12, iqr, np.where(std > 1e-12, std, 1.0))
    transform = FeatureTransform(
        tuple(features),
        logs,
        fill,
        tuple(float(x) for x in center),
        tuple(float(x) for x in scale),
    )
    return transform.scale_matrix(logged), transform


# A feature whose one value holds more than this share of customers can only split off a sliver of
# outliers, which robust scaling blows up (its IQR is 0): it is left out like a constant one.
NEAR_CONSTANT_SHARE = 0.99


@dataclass(frozen=True)
class DroppedFeature:
    """A configured feature left out of one night's clustering, and why in plain words."""

    feature: str
    reason: str

    def sentence(self) -> str:
        """`feature: reason`, as the run's message lists it."""
        return f"{self.feature}: {self.reason}"


def informative_features(
    frame: pl.DataFrame, features: Sequence[str], *, web_gap: str = ""
) -> tuple[list[str], list[DroppedFeature]]:
    """The features that vary between this night's customers, and the others with the reason each is left out.

    Missing values are filled as clustering fills them, so a column that is null for everyone, or
    the same for everyone once filled, carries no information for this shop. `web_gap` says why the
    web features may be empty (features.web_gap), added to their reasons.
    """
    kept: list[str] = []
    dropped: list[DroppedFeature] = []
    n = frame.height
    for name in features:
        context = f" ({web_gap})" if name in WEB_FEATURES and web_gap else ""
        if name not in frame.columns:
            dropped.append(DroppedFeature(name, f"it is not a column of customer_features{context}"))
            continue
        column = frame[name].cast(pl.Float64).fill_nan(None)
        present = column.drop_nulls()
        if present.len() == 0:
            dropped.append(DroppedFeature(name, f"it has no value for any customer{context}"))
            continue
        top = float(present.max())  # type: ignore[arg-type]
        filled = column.fill_null(top + 1.0 if name in FILL_BEYOND_MAX else 0.0)
        counts = filled.value_counts(sort=True)
        most = int(counts["count"][0]) if counts.height else 0
        if counts.height <= 1:
            dropped.append(DroppedFeature(name, f"it is the same for every customer{context}"))
        elif n > 0 and most / n > NEAR_CONSTANT_SHARE:
            value = float(counts[name][0])
            dropped.append(
                DroppedFeature(
                    name,
                    f"it is {value:g} for {most / n:.1%} of customers, too few differ to form a segment{context}",
                )
            )
        else:
            kept.append(name)
    return kept, dropped


def dropped_message(dropped: Sequence[DroppedFeature]) -> str:
    """One sentence naming the features left out: 'segments left out sessions_90d: it is ... (no clickstream)'."""
    if not dropped:
        return ""
    return "segments left out " + "; ".join(d.sentence() for d in dropped)
