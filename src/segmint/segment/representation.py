"""What segmentation clusters: the scaled features, or the bottleneck of an autoencoder over the scaled
features and each customer's weekly orders and visits (`[segmentation] representation`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl
from sklearn.neural_network import MLPRegressor

from segmint.config import SegmentationSettings
from segmint.resources import sql_file
from segmint.segment.cluster import sample_rows
from segmint.segment.scaling import Matrix
from segmint.warehouse import query_frame

WEEKS = 26
# Below this many customers a network of a few hundred weights learns noise: the features are clustered.
AUTOENCODER_MIN_CUSTOMERS = 200
# Robust-scaled features of outliers reach hundreds of IQRs; the network sees them clipped (tanh saturates).
_CLIP = 10.0


@dataclass(frozen=True)
class Representation:
    """The matrix one night clusters, what it is, and a plain sentence when it is not what was configured."""

    matrix: Matrix
    kind: str  # "features" or "autoencoder"
    inputs: int  # columns the autoencoder learnt from (0 for the features)
    note: str | None = None

    def describe(self) -> str:
        """A few words for the run's k criterion: what the clustering ran on."""
        if self.kind == "features":
            return ""
        return (
            f" (clustered on a {self.matrix.shape[1]}-unit autoencoder bottleneck of {self.inputs} inputs: "
            f"the features and {WEEKS} weeks of orders and visits)"
        )


def weekly_activity(
    con: duckdb.DuckDBPyConnection, as_of: date, customer_ids: pl.Series, weeks: int = WEEKS
) -> tuple[Matrix, Matrix]:
    """Orders and visit days per customer (rows in `customer_ids` order) and week (0 = the week ending as_of)."""
    activity = query_frame(
        con, sql_file("analysis/customer_weekly_activity.sql"), {"as_of": as_of, "weeks": weeks}
    )
    index = pl.DataFrame({"customer_id": customer_ids}).with_row_index("row")
    rows = activity.join(index, on="customer_id", how="inner")
    orders = np.zeros((len(customer_ids), weeks))
    visits = np.zeros((len(customer_ids), weeks))
    r = rows["row"].to_numpy().astype(np.int64)
    w = rows["week"].to_numpy().astype(np.int64)
    orders[r, w] = rows["orders"].to_numpy().astype(np.float64)
    visits[r, w] = rows["visit_days"].to_numpy().astype(np.float64)
    return orders, visits


def autoencoder_inputs(scaled: Matrix, orders: Matrix, visits: Matrix) -> Matrix:
    """Standardised network inputs: clipped scaled features, log1p weekly counts; constant columns dropped.

    The weekly block is weighted so that its columns together carry as much variance as the features:
    unweighted, 52 weekly columns would decide the reconstruction loss and the features hardly count.
    """
    features = _standardise(np.clip(scaled, -_CLIP, _CLIP))
    weekly = _standardise(np.log1p(np.hstack([orders, visits])))
    if weekly.shape[1] and features.shape[1]:
        weekly = weekly * np.sqrt(features.shape[1] / weekly.shape[1])
    return np.hstack([features, weekly])


def _standardise(x: Matrix) -> Matrix:
    std = x.std(axis=0)
    keep = std > 1e-12
    result: Matrix = (x[:, keep] - x[:, keep].mean(axis=0)) / std[keep]
    return result


def bottleneck(x: Matrix, settings: SegmentationSettings) -> Matrix:
    """Train MLPRegressor(h, b, h) to reconstruct x (on a seeded sample past max rows); the b-unit codes of all rows."""
    b = settings.autoencoder_bottleneck
    hidden = max(2 * b, min(32, x.shape[1]))
    model = MLPRegressor(
        hidden_layer_sizes=(hidden, b, hidden),
        activation="tanh",
        alpha=1e-4,
        batch_size=256,
        learning_rate_init=3e-3,
        max_iter=settings.autoencoder_max_iter,
        random_state=settings.seed,
        shuffle=True,
    )
    rows = sample_rows(len(x), settings.autoencoder_max_training_rows, settings.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a capped number of epochs is intended
        model.fit(x[rows], x[rows])
    # The codes are the activations of the middle layer: a forward pass through the first two layers.
    codes = x
    for weights, bias in zip(model.coefs_[:2], model.intercepts_[:2], strict=True):
        codes = np.tanh(codes @ weights + bias)
    # Units that never vary carry nothing; the rest are standardised so each counts the same in K-means.
    return _standardise(np.asarray(codes, dtype=np.float64))


def represent(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    customer_ids: pl.Series,
    scaled: Matrix,
    settings: SegmentationSettings,
) -> Representation:
    """The matrix to cluster for the configured representation, falling back to the features with a reason."""
    if settings.representation == "features":
        return Representation(scaled, "features", 0)
    n = len(scaled)
    if n < AUTOENCODER_MIN_CUSTOMERS:
        return Representation(
            scaled,
            "features",
            0,
            f"segments were clustered on the features, not an autoencoder: {n} customers are too few to "
            f"train one on (it needs {AUTOENCODER_MIN_CUSTOMERS})",
        )
    orders, visits = weekly_activity(con, as_of, customer_ids)
    x = autoencoder_inputs(scaled, orders, visits)
    codes = bottleneck(x, settings)
    if codes.shape[1] < 2:
        return Representation(
            scaled,
            "features",
            0,
            "segments were clustered on the features, not an autoencoder: its bottleneck learnt fewer "
            "than two varying units",
        )
    note = None
    if not visits.any():
        note = (
            "the autoencoder learnt from weekly orders only: the shop has no visits in the last "
            f"{WEEKS} weeks (no clickstream)"
        )
    return Representation(codes, "autoencoder", x.shape[1], note)
