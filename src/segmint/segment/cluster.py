"""Clustering: K-means (MiniBatch past a size), Gaussian mixture, Ward, HDBSCAN; k chosen by score."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture

from segmint.config import SegmentationSettings
from segmint.errors import SegmintError

Matrix = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
Predictor = Callable[[Matrix], Labels]


@dataclass(frozen=True)
class Fitted:
    """A clustering fitted on some rows: labels 0..k-1 for those rows and a way to label any row."""

    k: int
    labels: Labels
    predict: Predictor


@dataclass(frozen=True)
class KScore:
    """The scores of one k tried."""

    k: int
    silhouette: float | None
    davies_bouldin: float | None
    calinski_harabasz: float | None
    bootstrap_ari: float | None
    bic: float | None
    chosen: bool = False
    min_segment_size: int | None = None  # customers (of the rows scored) in the smallest segment


def sample_rows(n: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    """Sorted indices of a seeded random sample of at most `size` of `n` rows."""
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def centroids_of(x: Matrix, labels: Labels, k: int) -> Matrix:
    """The mean row of each label 0..k-1 (a label without rows gets +inf, so nothing is nearest to it)."""
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, labels, x)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: Matrix = np.where(counts[:, None] > 0, sums / counts[:, None], np.inf)
    return result


def nearest(x: Matrix, centroids: Matrix, chunk: int = 200_000) -> Labels:
    """The index of the nearest centroid of each row (chunked, so a million rows stay small)."""
    out = np.empty(len(x), dtype=np.int64)
    c2 = (centroids**2).sum(axis=1)
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk]
        d = c2[None, :] - 2.0 * block @ centroids.T
        out[start : start + chunk] = np.argmin(d, axis=1)
    return out


def distances_to(x: Matrix, centroids: Matrix, labels: Labels) -> npt.NDArray[np.float64]:
    """Euclidean distance of each row to its own centroid."""
    result: npt.NDArray[np.float64] = np.sqrt(((x - centroids[labels]) ** 2).sum(axis=1))
    return result


def _relabel_by_size(labels: Labels) -> Labels:
    # Labels ordered by size make seeded runs comparable and reports stable; ids come later anyway.
    values, counts = np.unique(labels, return_counts=True)
    order = values[np.lexsort((values, -counts))]
    mapping = np.empty(int(values.max()) + 1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    result: Labels = mapping[labels]
    return result


def fit(x: Matrix, k: int, settings: SegmentationSettings, seed: int, init: Matrix | None = None) -> Fitted:
    """Fit the configured algorithm with k clusters (HDBSCAN finds its own k) on the rows of x.

    K-means past `minibatch_threshold` rows is MiniBatchKMeans; `init` (centroids of a fit on a
    sample) starts it there, so one initialisation suffices.
    """
    algorithm = settings.algorithm
    if algorithm == "kmeans":
        if len(x) > settings.minibatch_threshold:
            model: KMeans | MiniBatchKMeans = MiniBatchKMeans(
                n_clusters=k,
                random_state=seed,
                init=init if init is not None else "k-means++",
                n_init=1 if init is not None else settings.n_init,
                batch_size=8192,
                max_no_improvement=20,
            )
        else:
            model = KMeans(n_clusters=k, random_state=seed, n_init=settings.n_init)
        labels = np.asarray(model.fit_predict(x), dtype=np.int64)
    elif algorithm == "gmm":
        gmm = GaussianMixture(
            n_components=k, covariance_type="full", random_state=seed, n_init=2, reg_covar=1e-4
        )
        components = np.asarray(gmm.fit(x).predict(x), dtype=np.int64)
        labels = _relabel_by_size(components)
        mapping = _mapping(components, labels)

        def predict_gmm(rows: Matrix) -> Labels:
            result: Labels = mapping[np.asarray(gmm.predict(rows), dtype=np.int64)]
            return result

        return Fitted(len(np.unique(labels)), labels, predict_gmm)
    elif algorithm == "ward":
        labels = np.asarray(
            AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x), dtype=np.int64
        )
    else:
        min_size = max(5, int(settings.hdbscan_min_cluster_share * len(x)))
        raw = np.asarray(HDBSCAN(min_cluster_size=min_size, copy=True).fit_predict(x), dtype=np.int64)
        if (raw >= 0).sum() == 0:
            raise SegmintError(
                "HDBSCAN found no cluster in the customer base; lower segmentation.hdbscan_min_cluster_share "
                "or choose another segmentation.algorithm."
            )
        found = int(raw.max()) + 1
        # Noise points join the nearest cluster: every customer needs a segment.
        core = centroids_of(x[raw >= 0], raw[raw >= 0], found)
        raw = np.where(raw >= 0, raw, nearest(x, core))
        labels = raw
    labels = _relabel_by_size(labels)
    k_found = int(labels.max()) + 1
    cents = centroids_of(x, labels, k_found)

    def predict_nearest(rows: Matrix) -> Labels:
        return nearest(rows, cents)

    return Fitted(k_found, labels, predict_nearest)


def _mapping(before: Labels, after: Labels) -> Labels:
    mapping = np.zeros(int(before.max()) + 1, dtype=np.int64)
    mapping[before] = after
    return mapping


def reduce(x: Matrix, components: int | None, seed: int, fit_rows: npt.NDArray[np.int64]) -> Matrix:
    """Optional PCA: fitted on the sample rows, applied to all."""
    if not components or components >= x.shape[1]:
        return x
    pca = PCA(n_components=components, random_state=seed).fit(x[fit_rows])
    return np.asarray(pca.transform(x), dtype=np.float64)


def scores(x: Matrix, labels: Labels, settings: SegmentationSettings, seed: int) -> tuple[float | None, ...]:
    """Silhouette (on a sample), Davies-Bouldin and Calinski-Harabasz; None when k < 2."""
    if len(np.unique(labels)) < 2:
        return (None, None, None)
    rows = sample_rows(len(x), settings.silhouette_sample_size, seed)
    sil = float(silhouette_score(x[rows], labels[rows])) if len(np.unique(labels[rows])) > 1 else None
    # Davies-Bouldin and Calinski-Harabasz are linear in the rows; past the MiniBatch threshold a
    # sample of that size estimates them closely enough and saves seconds at a million customers.
    big = sample_rows(len(x), settings.minibatch_threshold, seed)
    if len(np.unique(labels[big])) < 2:
        big = np.arange(len(x))
    xb, lb = x[big], labels[big]
    return (sil, float(davies_bouldin_score(xb, lb)), float(calinski_harabasz_score(xb, lb)))


def bootstrap_stability(x: Matrix, reference: Labels, k: int, settings: SegmentationSettings) -> float:
    """Mean ARI between the reference labels and clusterings fitted on bootstrap resamples of x."""
    values = []
    for round_no in range(settings.bootstrap_rounds):
        seed = settings.seed + 1000 + round_no
        rng = np.random.default_rng(seed)
        rows = np.unique(rng.choice(len(x), size=len(x), replace=True))
        fitted = fit(x[rows], k, settings, seed)
        values.append(adjusted_rand_score(reference, fitted.predict(x)))
    return float(np.mean(values))


def gmm_bic(x: Matrix, k: int, seed: int) -> float:
    """BIC of a diagonal Gaussian mixture with k components (lower is better)."""
    gmm = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed, reg_covar=1e-4)
    return float(gmm.fit(x).bic(x))


def size_floor(n: int, settings: SegmentationSettings) -> int:
    """The fewest customers (of n scored) a segment may have for a k to be chosen."""
    return max(settings.min_segment_size, int(np.ceil(settings.min_segment_share * n)))


def choose_k(
    values: list[KScore], settings: SegmentationSettings, previous_k: int | None = None, n: int | None = None
) -> tuple[int, str]:
    """The documented criterion: among bootstrap-stable k whose segments are all big enough, the highest
    Calinski-Harabasz score.

    Silhouette alone rewards the coarsest split (it merges close but distinct groups); the
    variance ratio keeps rewarding a split while it removes much within-cluster variance, and
    bootstrap stability rules out splits of noise, which change from resample to resample.
    The last published k is kept while it is stable and within `k_change_margin` of the best
    score, so segments do not split and merge from one night to the next on noise.
    """
    scored = [s for s in values if s.calinski_harabasz is not None]
    if not scored:
        return values[0].k, "only k tried"
    # A k that splits off a handful of customers (outliers, a few big accounts) is noise, however well
    # separated: on a 192-customer shop k=10 had silhouette 0.64 with segments of 3 to 8 customers.
    size_note = ""
    if n is not None:
        floor = size_floor(n, settings)
        sized = [s for s in scored if s.min_segment_size is None or s.min_segment_size >= floor]
        if not sized:
            top = max(scored, key=lambda s: (s.min_segment_size or 0, -s.k))
            return (
                top.k,
                f"no k gave every segment {floor} customers; the k with the largest smallest segment",
            )
        scored = sized
        size_note = f" and every segment >= {floor} customers"
    stable = [s for s in scored if s.bootstrap_ari is None or s.bootstrap_ari >= settings.k_stability_floor]
    if not stable:
        top = max(scored, key=lambda s: s.bootstrap_ari or 0.0)
        return top.k, f"most stable k (no k had bootstrap ARI >= {settings.k_stability_floor}{size_note})"
    best = max(stable, key=lambda s: s.calinski_harabasz or 0.0)
    # A larger k must earn its place: on a shapeless base (everyone bought once, two features left)
    # the variance ratio creeps up with every split (237 at k=3 to 263 at k=8); the smallest k within
    # k_parsimony of the best score is taken instead.
    floor_score = (1 - settings.k_parsimony) * (best.calinski_harabasz or 0.0)
    chosen = min((s for s in stable if (s.calinski_harabasz or 0.0) >= floor_score), key=lambda s: s.k)
    parsimony_note = (
        f" (the smallest k within {settings.k_parsimony:.0%} of the best, k={best.k})"
        if chosen.k != best.k
        else ""
    )
    kept = next((s for s in stable if s.k == previous_k), None)
    if (
        kept is not None
        and kept.k != chosen.k
        and (kept.calinski_harabasz or 0.0)
        >= (1 - settings.k_change_margin) * (best.calinski_harabasz or 0.0)
    ):
        return kept.k, (
            f"last published k kept: stable and within {settings.k_change_margin:.0%} of the best "
            f"Calinski-Harabasz (k={best.k})"
        )
    return chosen.k, (
        f"highest Calinski-Harabasz among k with bootstrap ARI >= {settings.k_stability_floor}{size_note}"
        f"{parsimony_note}"
    )


def select_k(
    x: Matrix, settings: SegmentationSettings, previous_k: int | None = None
) -> tuple[int, list[KScore], str]:
    """Score every k in the configured range on x (a sample) and pick one; HDBSCAN reports its own k."""
    if settings.algorithm == "hdbscan":
        fitted = fit(x, 0, settings, settings.seed)
        sil, db, ch = scores(x, fitted.labels, settings, settings.seed)
        return fitted.k, [KScore(fitted.k, sil, db, ch, None, None, True)], "found by HDBSCAN"
    values: list[KScore] = []
    # No k can give every segment the minimum size past n / floor: those are not tried at all.
    top = min(settings.k_max, len(x) - 1, max(settings.k_min, len(x) // size_floor(len(x), settings)))
    # BIC is recorded for comparison on the silhouette sample (it is not part of the criterion).
    bic_rows = sample_rows(len(x), settings.silhouette_sample_size, settings.seed)
    for k in range(settings.k_min, top + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on tiny samples
            fitted = fit(x, k, settings, settings.seed)
            sil, db, ch = scores(x, fitted.labels, settings, settings.seed)
            stability = bootstrap_stability(x, fitted.labels, k, settings)
            bic = gmm_bic(x[bic_rows], k, settings.seed)
        values.append(
            KScore(k, sil, db, ch, stability, bic, min_segment_size=int(np.bincount(fitted.labels).min()))
        )
    if not values:
        raise SegmintError(
            f"Too few customers ({len(x)}) to cluster into segmentation.k_min={settings.k_min} segments; "
            "load more data or lower k_min."
        )
    k, criterion = choose_k(values, settings, previous_k, len(x))
    return k, [KScore(**{**s.__dict__, "chosen": s.k == k}) for s in values], criterion
