"""Clustering and the choice of k on data with a known number of groups."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segmint.config import SegmentationSettings
from segmint.segment import cluster

Blobs = tuple[np.ndarray, np.ndarray]


def blobs(centers: np.ndarray, n_per: int, spread: float, seed: int = 0) -> Blobs:
    rng = np.random.default_rng(seed)
    x = np.vstack([c + rng.normal(scale=spread, size=(n_per, centers.shape[1])) for c in centers])
    return x, np.repeat(np.arange(len(centers)), n_per)


@pytest.fixture(autouse=True)
def one_thread() -> object:
    with threadpool_limits(limits=1):
        yield


def test_pairs_of_close_groups_are_not_merged() -> None:
    # Three pairs of groups: the pairs are far apart, the two groups of a pair only 1.3 apart. The best
    # silhouette is at k=3 (the pairs); the criterion must still find the six groups. The gap
    # statistic's 1-SE rule also stops at 3 here (measured), which is why it is not the criterion.
    pairs = np.array([[0, 0, 0], [12, 0, 0], [0, 12, 0]], dtype=float)
    centers = np.vstack([pairs, pairs + np.array([0, 0, 1.3])])
    x, truth = blobs(centers, 300, 0.18)
    settings = SegmentationSettings(k_min=2, k_max=9)
    k, scores, criterion = cluster.select_k(x, settings)
    by_k = {s.k: s for s in scores}
    assert max(scores, key=lambda s: s.silhouette or 0).k == 3
    assert k == 6, criterion
    assert by_k[6].chosen and sum(s.chosen for s in scores) == 1
    assert all(s.davies_bouldin and s.calinski_harabasz and s.bic for s in scores)
    labels = cluster.fit(x, k, settings, settings.seed).labels
    assert adjusted_rand_score(truth, labels) > 0.98


def test_three_round_groups_give_three() -> None:
    x, _ = blobs(np.array([[0, 0], [10, 0], [0, 10]], dtype=float), 300, 1.0)
    k, _, _ = cluster.select_k(x, SegmentationSettings(k_min=2, k_max=6))
    assert k == 3


def test_the_criterion_skips_unstable_k() -> None:
    def score(k: int, ch: float, ari: float) -> cluster.KScore:
        return cluster.KScore(k, 0.3, 1.0, ch, ari, 0.0)

    settings = SegmentationSettings()
    k, why = cluster.choose_k([score(3, 100, 0.99), score(4, 300, 0.6), score(5, 200, 0.9)], settings)
    assert (k, why) == (5, "highest Calinski-Harabasz among k with bootstrap ARI >= 0.75")
    k, why = cluster.choose_k([score(3, 100, 0.5), score(4, 300, 0.7)], settings)
    assert k == 4 and why.startswith("most stable k")


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "ward", "hdbscan"])
def test_every_algorithm_recovers_separated_groups_and_is_seeded(algorithm: str) -> None:
    centers = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]], dtype=float)
    x, truth = blobs(centers, 250, 0.7)
    settings = SegmentationSettings.model_validate({"algorithm": algorithm, "k_min": 2, "k_max": 6})
    k, _, _ = cluster.select_k(x, settings)
    first = cluster.fit(x, k, settings, settings.seed)
    again = cluster.fit(x, k, settings, settings.seed)
    assert first.k == 4
    assert adjusted_rand_score(truth, first.labels) > 0.95
    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.predict(x), first.labels)


def test_minibatch_past_the_threshold_and_pca_before_clustering() -> None:
    centers = np.array([[0, 0, 0, 0], [6, 6, 0, 0], [0, 6, 6, 0]], dtype=float)
    x, truth = blobs(centers, 400, 0.8)
    settings = SegmentationSettings(minibatch_threshold=500)
    fitted = cluster.fit(x, 3, settings, 1)
    assert adjusted_rand_score(truth, fitted.labels) > 0.95
    reduced = cluster.reduce(x, 2, 1, cluster.sample_rows(len(x), 300, 1))
    assert reduced.shape == (len(x), 2)
    assert adjusted_rand_score(truth, cluster.fit(reduced, 3, settings, 1).labels) > 0.95


def test_labels_are_ordered_by_size() -> None:
    x, _ = blobs(np.array([[0, 0], [10, 0], [0, 10]], dtype=float), 100, 0.5)
    x = np.vstack([x, x[100:200] + 0.01])  # the second group is now the largest
    labels = cluster.fit(x, 3, SegmentationSettings(), 0).labels
    assert list(np.bincount(labels)) == [200, 100, 100]


def test_nearest_and_centroids() -> None:
    x = np.array([[0.0, 0.0], [0.2, 0.0], [5.0, 5.0]])
    labels = np.array([0, 0, 1])
    cents = cluster.centroids_of(x, labels, 2)
    np.testing.assert_allclose(cents, [[0.1, 0.0], [5.0, 5.0]])
    np.testing.assert_array_equal(cluster.nearest(x, cents, chunk=2), labels)
    np.testing.assert_allclose(cluster.distances_to(x, cents, labels), [0.1, 0.1, 0.0])
