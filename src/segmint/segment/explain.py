"""Explanations: a random forest learns the segments; its permutation importance names each one's top features."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from segmint.segment.cluster import Labels, Matrix, sample_rows


@dataclass(frozen=True)
class SegmentQuality:
    """Held-out precision, recall and F1 of the forest for one segment."""

    precision: float
    recall: float
    f1: float


@dataclass
class Explanation:
    """The fitted forest, its held-out quality and per-segment permutation importances."""

    forest: RandomForestClassifier
    accuracy: float
    quality: dict[int, SegmentQuality]
    importance: dict[int, npt.NDArray[np.float64]]  # segment id -> importance per feature

    def forest_bytes(self) -> bytes:
        """The forest pickled, for segment_models (read back only from the warehouse segmint wrote)."""
        return pickle.dumps(self.forest, protocol=pickle.HIGHEST_PROTOCOL)


def load_forest(data: bytes) -> RandomForestClassifier:
    """Unpickle a forest stored by forest_bytes."""
    forest = pickle.loads(data)
    assert isinstance(forest, RandomForestClassifier)
    return forest


def explain(
    x: Matrix,
    segment_ids: Labels,
    *,
    sample_size: int,
    trees: int,
    seed: int,
    repeats: int = 3,
) -> Explanation:
    """Train on a stratified 75% of a sample, score on the other 25%, permute each feature there."""
    rows = sample_rows(len(x), sample_size, seed)
    xs, ys = x[rows], segment_ids[rows]
    classes, counts = np.unique(ys, return_counts=True)
    # A segment too small to split (under 2 rows in the sample) cannot be stratified.
    stratify = ys if counts.min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        xs, ys, test_size=0.25, random_state=seed, stratify=stratify
    )
    forest = RandomForestClassifier(
        n_estimators=trees, min_samples_leaf=3, random_state=seed, n_jobs=-1, class_weight="balanced"
    )
    forest.fit(x_train, y_train)
    predicted = forest.predict(x_test)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_test, predicted, labels=classes, zero_division=0
    )
    quality = {
        int(c): SegmentQuality(float(p), float(r), float(f))
        for c, p, r, f in zip(classes, precision, recall, f1, strict=True)
    }
    rng = np.random.default_rng(seed)
    base = np.asarray(f1_score(y_test, predicted, labels=classes, average=None, zero_division=0))
    drops = np.zeros((len(classes), x.shape[1]))
    for j in range(x.shape[1]):
        for _ in range(repeats):
            permuted = x_test.copy()
            permuted[:, j] = rng.permutation(permuted[:, j])
            f1_perm = np.asarray(
                f1_score(y_test, forest.predict(permuted), labels=classes, average=None, zero_division=0)
            )
            drops[:, j] += (base - f1_perm) / repeats
    accuracy = float((predicted == y_test).mean())
    return Explanation(forest, accuracy, quality, {int(c): drops[i] for i, c in enumerate(classes)})
