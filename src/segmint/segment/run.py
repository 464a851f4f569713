"""One night's segmentation: scale, cluster (or assign), align, name, explain, store, publish."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segmint.config import SegmentationSettings
from segmint.errors import SegmintError
from segmint.features import DEMOGRAPHIC_FEATURES, has_clickstream, require_features, web_gap
from segmint.segment import cluster
from segmint.segment.align import Alignment, Match, align
from segmint.segment.customer_map import compute_map, store_map
from segmint.segment.explain import Explanation, SegmentQuality, explain, load_forest
from segmint.segment.history import (
    RunRef,
    StoredModel,
    assignments,
    load_model,
    next_segment_id,
    previous_published,
    segment_names,
)
from segmint.segment.profile import (
    MEAN_COLUMNS,
    MemberFacts,
    base_means,
    defining_features,
    defining_json,
    describe,
    finite,
    member_facts,
    name_holds,
    naming_zscores,
    profile_table,
    segment_name,
    unique_name,
    zscores,
)
from segmint.segment.publish import GateCheck, Publication, decide_publication
from segmint.segment.representation import represent
from segmint.segment.scaling import (
    DroppedFeature,
    FeatureTransform,
    Matrix,
    check_features,
    dropped_message,
    fit_transform,
    informative_features,
)
from segmint.warehouse import insert_frame, insert_row, query_frame, query_one, table_columns, transaction

PENDING = "pending: awaiting the publication gate"


class TooFewCustomersError(SegmintError):
    """The base is too small to segment; a nightly run goes on without a new segmentation."""


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "FLOAT", "DECIMAL", "HUGEINT")


@dataclass
class SegmentationResult:
    """What one night's segmentation did."""

    run_id: str
    as_of: date
    mode: str
    algorithm: str
    k: int
    silhouette: float | None
    davies_bouldin: float | None
    calinski_harabasz: float | None
    n_customers: int
    stability_ari: float | None
    kept_segment_share: float | None
    published: bool
    status_reason: str
    k_criterion: str
    seconds: float
    k_scores: list[cluster.KScore] = field(default_factory=list)
    profiles: pl.DataFrame = field(default_factory=pl.DataFrame)
    features: list[str] = field(default_factory=list)  # the features clustered tonight
    dropped_features: list[DroppedFeature] = field(default_factory=list)
    representation: str = "features"  # what was clustered: "features" or "autoencoder"
    notes: list[str] = field(default_factory=list)  # e.g. why the autoencoder fell back to the features

    @property
    def messages(self) -> list[str]:
        """Plain sentences for the run's message and summary (which features were left out, and why)."""
        note = dropped_message(self.dropped_features)
        return ([note] if note else []) + self.notes


@dataclass
class _Outcome:
    """The labels of a night and what they came from."""

    segment_ids: np.ndarray
    space: Matrix  # the matrix scores are computed in (after PCA if any)
    scaled: Matrix  # scaled features (before PCA): centroids, distances, forest
    transform: FeatureTransform
    alignment: Alignment
    names: dict[int, str]
    quality: dict[int, SegmentQuality]
    importance: dict[int, np.ndarray]
    forest: bytes | None
    rf_accuracy: float | None
    k_scores: list[cluster.KScore]
    criterion: str
    model_run_id: str
    assigned_by: str
    representation: str = "features"
    notes: tuple[str, ...] = ()


def _numeric_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_name = 'customer_features'"
    ).fetchall()
    skip = {"r_score", "f_score", "m_score", "fm_score"}
    return [str(n) for n, t in rows if str(t).startswith(_NUMERIC) and n not in skip]


def _demographics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The demographic columns (and country) of customer_features: absent in a warehouse before migration 015."""
    present = table_columns(con, "customer_features")
    return [c for c in ("country", *DEMOGRAPHIC_FEATURES) if c in present]


def load_frame(con: duckdb.DuckDBPyConnection, as_of: date, features: Sequence[str]) -> pl.DataFrame:
    """The columns segmentation needs of customer_features for `as_of`, ordered by customer_id."""
    # Order counts tell customers who cancelled every order from those who never ordered (names).
    counts = ["orders_total", "cancelled_orders"]
    # The demographic columns ride along for the profiles' mix only: they are never clustered by default.
    wanted = list(
        dict.fromkeys(
            ["customer_id", "is_prospect", "monetary", *counts, *MEAN_COLUMNS, *features, *_demographics(con)]
        )
    )
    columns = ", ".join(wanted)
    return query_frame(
        con, f"select {columns} from customer_features where as_of = ? order by customer_id", [as_of]
    )


def _previous_centroids(
    previous: RunRef | None, model: StoredModel | None, transform: FeatureTransform
) -> dict[int, Matrix] | None:
    # Yesterday's centroids move into tonight's scaled space through the log space both share.
    if previous is None or model is None or not model.transform.compatible(transform):
        return None
    return {
        seg: transform.scale_matrix(model.transform.unscale(c[None, :]))[0]
        for seg, c in model.centroids.items()
    }


def _fit_labels(
    space: Matrix, rows: npt.NDArray[np.int64], k: int, settings: SegmentationSettings
) -> cluster.Labels:
    """Every customer's cluster at `k`: K-means fits them all, the other algorithms fit the sample."""
    if settings.algorithm == "kmeans":
        # Past the MiniBatch threshold K-means starts from the sample's fit.
        init = None
        if len(space) > settings.minibatch_threshold:
            sample_fit = cluster.fit(space[rows], k, settings, settings.seed)
            init = cluster.centroids_of(space[rows], sample_fit.labels, sample_fit.k)
        return cluster.fit(space, k, settings, settings.seed, init=init).labels
    fitted = cluster.fit(space[rows], k, settings, settings.seed)
    labels = fitted.predict(space)
    labels[rows] = fitted.labels
    return labels


def _recluster(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    frame: pl.DataFrame,
    settings: SegmentationSettings,
    previous: RunRef | None,
    previous_names: dict[int, str],
    run_id: str,
    features: Sequence[str],
) -> _Outcome:
    scaled, transform = fit_transform(frame, features, settings.log_features)
    rows = cluster.sample_rows(len(scaled), settings.sample_size, settings.seed)
    learnt = represent(con, as_of, frame["customer_id"], scaled, settings)
    space = cluster.reduce(learnt.matrix, settings.pca_components, settings.seed, rows)
    prev_model = load_model(con, previous.run_id) if previous else None
    previous_k = len(prev_model.centroids) if prev_model else None
    k, k_scores, criterion = cluster.select_k(space[rows], settings, previous_k)
    labels = _fit_labels(space, rows, k, settings)
    k = int(labels.max()) + 1
    centroids = cluster.centroids_of(scaled, labels, k)
    alignment = align(
        centroids,
        _previous_centroids(previous, prev_model, transform),
        next_segment_id(con, as_of),
        settings.max_match_distance,
    )
    segment_ids = alignment.segment_ids()[labels]
    explanation: Explanation = explain(
        scaled, segment_ids, sample_size=settings.sample_size, trees=settings.forest_trees, seed=settings.seed
    )
    return _Outcome(
        segment_ids,
        space,
        scaled,
        transform,
        alignment,
        {
            m.segment_id: previous_names[m.previous_segment_id]
            for m in alignment.matches
            if m.previous_segment_id in previous_names
        },
        explanation.quality,
        explanation.importance,
        explanation.forest_bytes(),
        explanation.accuracy,
        k_scores,
        criterion + learnt.describe(),
        run_id,
        "cluster",
        learnt.kind,
        (learnt.note,) if learnt.note else (),
    )


def _assign(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, model_run: str) -> _Outcome:
    model = load_model(con, model_run)
    assert model.forest is not None
    forest = load_forest(model.forest)
    scaled = model.transform.apply(frame)
    segment_ids = np.asarray(forest.predict(scaled), dtype=np.int64)
    present = sorted(int(s) for s in np.unique(segment_ids))
    matches = [Match(i, seg, seg, 0.0) for i, seg in enumerate(present)]
    vanished = [s for s in model.centroids if s not in present]
    quality, importance = _stored_explanations(con, model_run, model.transform.features)
    return _Outcome(
        segment_ids,
        scaled,
        scaled,
        model.transform,
        Alignment(matches, vanished),
        segment_names(con, model_run),
        quality,
        importance,
        None,
        None,
        [],
        f"assigned by the forest of re-cluster {model_run}",
        model_run,
        "forest",
    )


def _stored_explanations(
    con: duckdb.DuckDBPyConnection, run_id: str, features: Sequence[str]
) -> tuple[dict[int, SegmentQuality], dict[int, np.ndarray]]:
    # Nights between re-clusters reuse the forest, so they report its held-out quality and importances.
    quality = {
        int(r[0]): SegmentQuality(float(r[1]), float(r[2]), float(r[3]))
        for r in con.execute(
            "select segment_id, rf_precision, rf_recall, rf_f1 from segment_profiles where run_id = ?",
            [run_id],
        ).fetchall()
    }
    position = {f: j for j, f in enumerate(features)}
    importance: dict[int, np.ndarray] = {}
    for seg, feature, value in con.execute(
        "select segment_id, feature, importance from segment_features where run_id = ?", [run_id]
    ).fetchall():
        if feature in position:
            importance.setdefault(int(seg), np.zeros(len(features)))[position[feature]] = float(value)
    return quality, importance


def _uses_stored_model(
    con: duckdb.DuckDBPyConnection,
    previous: RunRef | None,
    as_of: date,
    settings: SegmentationSettings,
    features: Sequence[str],
) -> str | None:
    if previous is None or settings.recluster_every_days <= 1:
        return None
    row = query_one(
        con,
        """
        select r.as_of, r.features, m.forest is not null
        from segment_runs r join segment_models m using (run_id) where run_id = ?
        """,
        [previous.model_run_id],
    )
    if row is None or json.loads(str(row[1])) != list(features):
        return None
    if (as_of - row[0]).days >= settings.recluster_every_days:
        return None
    return previous.model_run_id if row[2] else None


def _stability(
    con: duckdb.DuckDBPyConnection, previous: RunRef | None, tonight: pl.DataFrame
) -> tuple[float | None, float | None]:
    if previous is None:
        return None, None
    common = assignments(con, previous.run_id).join(tonight, on="customer_id", suffix="_now")
    if common.height == 0:
        return None, None
    before = common["segment_id"].to_numpy()
    after = common["segment_id_now"].to_numpy()
    return float(adjusted_rand_score(before, after)), float((before == after).mean())


def _names(
    with_ids: pl.DataFrame, outcome: _Outcome, ids: list[int], facts: Mapping[int, MemberFacts]
) -> dict[int, str]:
    """Each segment's name: yesterday's while its claims still hold for tonight's members, else the
    first rule whose claims hold, told apart from a segment already carrying it."""
    naming_z = naming_zscores(with_ids, outcome.segment_ids, ids)
    kept = {s: outcome.names[s] for s in ids if s in outcome.names and name_holds(outcome.names[s], facts[s])}
    taken: dict[str, list[float]] = {kept[s]: list(naming_z[i]) for i, s in enumerate(ids) if s in kept}
    names: dict[int, str] = {}
    for i, seg in enumerate(ids):
        name = kept.get(seg)
        if name is None:
            name = unique_name(segment_name(facts[seg]), taken, list(naming_z[i]))
            taken[name] = list(naming_z[i])
        names[seg] = name
    return names


def _feature_rows(
    with_ids: pl.DataFrame,
    transformed: Matrix,
    z: Matrix,
    ids: list[int],
    outcome: _Outcome,
    features: Sequence[str],
) -> pl.DataFrame:
    """segment_features rows: per segment and clustered feature, its means in the clustering's space and
    in the feature's own units (what the report shows), its z-score and its importance to the forest."""
    base_means = transformed.mean(axis=0)
    raw = [pl.col(f).cast(pl.Float64).mean().alias(f) for f in features]
    raw_base = with_ids.select(raw).row(0, named=True)
    raw_segments = {
        int(r["segment_id"]): r for r in with_ids.group_by("segment_id").agg(raw).iter_rows(named=True)
    }
    rows = []
    for i, seg in enumerate(ids):
        importance = outcome.importance.get(seg, np.zeros(len(features)))
        seg_means = transformed[outcome.segment_ids == seg].mean(axis=0)
        for j, feature in enumerate(features):
            rows.append(
                {
                    "segment_id": seg,
                    "feature": feature,
                    "segment_mean": float(seg_means[j]),
                    "base_mean": float(base_means[j]),
                    "z_score": float(z[i, j]),
                    "importance": float(importance[j]),
                    "raw_segment_mean": finite(raw_segments[seg][feature]),
                    "raw_base_mean": finite(raw_base[feature]),
                }
            )
    return pl.DataFrame(rows, schema_overrides={"raw_segment_mean": pl.Float64, "raw_base_mean": pl.Float64})


def _profiles(
    frame: pl.DataFrame, outcome: _Outcome, features: Sequence[str], has_events: bool | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """segment_profiles rows (without run_id) and segment_features rows."""
    with_ids = frame.with_columns(pl.Series("segment_id", outcome.segment_ids))
    table = profile_table(with_ids)
    ids = [int(s) for s in table["segment_id"].to_list()]
    transformed = outcome.transform.transformed(frame)
    z = zscores(transformed, outcome.segment_ids, ids)
    by_match = {m.segment_id: m for m in outcome.alignment.matches}
    facts = member_facts(with_ids, has_events)
    names = _names(with_ids, outcome, ids, facts)
    records = []
    for i, (seg, row) in enumerate(zip(ids, table.iter_rows(named=True), strict=True)):
        defining = defining_features(z[i], features)
        importance = outcome.importance.get(seg, np.zeros(len(features)))
        top = [
            {"feature": features[j], "importance": round(float(importance[j]), 4)}
            for j in np.argsort(-importance, kind="stable")[:3]
        ]
        quality = outcome.quality.get(seg)
        match = by_match.get(seg)
        records.append(
            {
                **row,
                "segment_name": names[seg],
                "description": describe(row, defining, facts[seg]),
                "defining_features": defining_json(defining),
                "top_features": defining_json(top),
                "rf_precision": quality.precision if quality else None,
                "rf_recall": quality.recall if quality else None,
                "rf_f1": quality.f1 if quality else None,
                "lineage": match.lineage if match else "appeared",
                "previous_segment_id": match.previous_segment_id if match else None,
                "match_distance": match.distance if match else None,
            }
        )
    feature_rows = _feature_rows(with_ids, transformed, z, ids, outcome, features)
    return pl.DataFrame(records, infer_schema_length=None), feature_rows


def segment_customers(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    settings: SegmentationSettings | None = None,
    *,
    run_id: str | None = None,
    checks: Sequence[GateCheck] = (),
    publish: bool = True,
) -> SegmentationResult:
    """Segment the customers with features for `as_of`, store the run, and publish it if the gate allows.

    With `publish=False` the run is stored pending, for an outside gate (the nightly flow's quality
    gate) to publish with `publish_run` or hold with `hold_run`.
    """
    settings = settings or SegmentationSettings()
    started = time.perf_counter()
    run_id = run_id or f"seg-{as_of:%Y%m%d}-{uuid.uuid4().hex[:6]}"
    # One OpenMP/BLAS thread: the fits are many and small, and on a busy two-core machine spinning
    # worker threads made K-means over ten times slower (measured 1.7 s vs 0.13 s per fit).
    with threadpool_limits(limits=1):
        return _segment(con, as_of, settings, run_id, checks if publish else None, started)


def segmentation_blocker(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: SegmentationSettings | None = None
) -> str | None:
    """The one sentence saying why `as_of` cannot be segmented (too few customers or informative features)."""
    settings = settings or SegmentationSettings()
    try:
        _night_frame(con, as_of, settings)
    except SegmintError as exc:
        return str(exc)
    return None


def _night_frame(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: SegmentationSettings
) -> tuple[pl.DataFrame, list[str], list[DroppedFeature]]:
    # Tonight's rows and the configured features that carry information for this shop.
    try:
        n = require_features(con, as_of)
    except SegmintError as exc:
        # A night with no customer yet is too few to segment: the nightly says so and goes on.
        raise TooFewCustomersError(str(exc)) from exc
    if n < settings.min_customers:
        raise TooFewCustomersError(
            f"Only {n} customers have features for {as_of}, fewer than segmentation.min_customers "
            f"({settings.min_customers}); segments are computed once the shop has more."
        )
    check_features(_numeric_columns(con), settings.features)
    frame = load_frame(con, as_of, settings.features)
    features, dropped = informative_features(frame, settings.features, web_gap=web_gap(con, as_of))
    if len(features) < 2:
        left = f"only {features[0]} varies" if features else "none varies"
        raise TooFewCustomersError(
            f"Segments need at least two features that vary between customers and {left} for {as_of}: "
            + dropped_message(dropped)
            + "; choose others in segmentation.features."
        )
    return frame, features, dropped


@dataclass(frozen=True)
class _Night:
    """What one segmentation computed, before anything is stored."""

    frame: pl.DataFrame
    features: list[str]
    dropped: list[DroppedFeature]
    previous: RunRef | None
    previous_names: dict[int, str]
    outcome: _Outcome
    mode: str  # assign | recluster
    ids: list[int]
    scores: tuple[float | None, ...]  # silhouette, Davies-Bouldin, Calinski-Harabasz
    centroids: dict[int, np.ndarray]
    profiles: pl.DataFrame
    feature_rows: pl.DataFrame
    assigned: pl.DataFrame
    stability: float | None
    kept: float | None


def _compute(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: SegmentationSettings, run_id: str
) -> _Night:
    frame, features, dropped = _night_frame(con, as_of, settings)
    previous = previous_published(con, as_of)
    prev_names = segment_names(con, previous.run_id) if previous else {}
    model_run = _uses_stored_model(con, previous, as_of, settings, features)
    if model_run:
        outcome, mode = _assign(con, frame, model_run), "assign"
    else:
        outcome = _recluster(con, as_of, frame, settings, previous, prev_names, run_id, features)
        mode = "recluster"
    labels = outcome.segment_ids
    _, dense = np.unique(labels, return_inverse=True)
    scores = cluster.scores(outcome.space, dense.astype(np.int64), settings, settings.seed)
    ids = sorted(int(s) for s in np.unique(labels))
    centroids = {s: outcome.scaled[labels == s].mean(axis=0) for s in ids}
    # dense is each customer's index into the sorted ids, i.e. into the centroid matrix's rows
    distances = cluster.distances_to(
        outcome.scaled, np.vstack([centroids[s] for s in ids]), dense.astype(np.int64)
    )
    profiles, feature_rows = _profiles(frame, outcome, features, has_clickstream(con, as_of))
    names = dict(zip(profiles["segment_id"].to_list(), profiles["segment_name"].to_list(), strict=True))
    assigned = pl.DataFrame(
        {
            "run_id": run_id,
            "customer_id": frame["customer_id"],
            "segment_id": pl.Series(labels, dtype=pl.Int32),
            "distance": distances,
            "assigned_by": outcome.assigned_by,
        }
    ).with_columns(pl.col("segment_id").replace_strict(names, return_dtype=pl.String).alias("segment_name"))
    stability, kept = _stability(con, previous, assigned.select("customer_id", "segment_id"))
    return _Night(
        frame=frame,
        features=list(features),
        dropped=dropped,
        previous=previous,
        previous_names=prev_names,
        outcome=outcome,
        mode=mode,
        ids=ids,
        scores=scores,
        centroids=centroids,
        profiles=profiles,
        feature_rows=feature_rows,
        assigned=assigned,
        stability=stability,
        kept=kept,
    )


def _k_score_rows(run_id: str, night: _Night) -> pl.DataFrame:
    return pl.DataFrame(
        [{"run_id": run_id, **s.__dict__} for s in night.outcome.k_scores],
        schema={
            "run_id": pl.String,
            "k": pl.Int32,
            "silhouette": pl.Float64,
            "davies_bouldin": pl.Float64,
            "calinski_harabasz": pl.Float64,
            "bootstrap_ari": pl.Float64,
            "bic": pl.Float64,
            "chosen": pl.Boolean,
            "min_segment_size": pl.Int64,
        },
    )


def _lineage_rows(run_id: str, night: _Night) -> pl.DataFrame | None:
    """How each segment relates to the previous published run's: matched, new, split, or vanished."""
    names = dict(
        zip(night.profiles["segment_id"].to_list(), night.profiles["segment_name"].to_list(), strict=True)
    )
    previous = night.previous.run_id if night.previous else None
    rows = [
        {
            "segment_id": m.segment_id,
            "segment_name": names.get(m.segment_id, ""),
            "event": m.lineage,
            "previous_run_id": previous if m.previous_segment_id is not None else None,
            "previous_segment_id": m.previous_segment_id,
            "match_distance": m.distance,
        }
        for m in night.outcome.alignment.matches
        if m.segment_id in names
    ] + [
        {
            "segment_id": seg,
            "segment_name": night.previous_names.get(seg, ""),
            "event": "vanished",
            "previous_run_id": previous,
            "previous_segment_id": seg,
            "match_distance": None,
        }
        for seg in night.outcome.alignment.vanished
    ]
    if not rows:
        return None
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.lit(run_id).alias("run_id"))


def _run_row(
    night: _Night, run_id: str, as_of: date, settings: SegmentationSettings, seconds: float
) -> dict[str, object]:
    """The segment_runs row of a night: unpublished, pending its gate."""
    outcome, (silhouette, davies_bouldin, calinski) = night.outcome, night.scores
    return {
        "run_id": run_id,
        "as_of": as_of,
        "created_at": datetime.now(),
        "algorithm": settings.algorithm,
        "mode": night.mode,
        "k": len(night.ids),
        "k_criterion": outcome.criterion,
        "silhouette": silhouette,
        "davies_bouldin": davies_bouldin,
        "calinski_harabasz": calinski,
        "n_customers": night.frame.height,
        "previous_run_id": night.previous.run_id if night.previous else None,
        "stability_ari": night.stability,
        "kept_segment_share": night.kept,
        "max_segment_share": float(night.profiles["share"].cast(pl.Float64).max() or 0.0),  # type: ignore[arg-type]
        "features": json.dumps(night.features),
        "settings": settings.model_dump_json(),
        "model_run_id": outcome.model_run_id,
        "rf_accuracy": outcome.rf_accuracy,
        "published": False,
        "published_at": None,
        "status_reason": PENDING,
        "seconds": seconds,
        "dropped_features": json.dumps([{"feature": d.feature, "reason": d.reason} for d in night.dropped]),
        "base_means": json.dumps(base_means(night.frame)),
    }


def _store(
    con: duckdb.DuckDBPyConnection,
    night: _Night,
    run_id: str,
    as_of: date,
    settings: SegmentationSettings,
    seconds: float,
) -> None:
    """The run (unpublished, pending its gate), its scores, members, profiles, lineage, model and map."""
    insert_row(con, "segment_runs", _run_row(night, run_id, as_of, settings, seconds))
    insert_frame(con, "segment_k_scores", _k_score_rows(run_id, night))
    insert_frame(con, "segment_assignments", night.assigned)
    insert_frame(con, "segment_profiles", night.profiles.with_columns(pl.lit(run_id).alias("run_id")))
    insert_frame(con, "segment_features", night.feature_rows.with_columns(pl.lit(run_id).alias("run_id")))
    lineage = _lineage_rows(run_id, night)
    if lineage is not None:
        insert_frame(con, "segment_lineage", lineage)
    insert_row(
        con,
        "segment_models",
        {
            "run_id": run_id,
            "features": json.dumps(night.features),
            "transform": night.outcome.transform.to_json(),
            "centroids": json.dumps({str(s): c.tolist() for s, c in night.centroids.items()}),
            "forest": night.outcome.forest,
        },
    )
    # The map is drawn from the members just stored, in the space they were clustered in.
    store_map(con, run_id, compute_map(con, run_id, as_of, night.outcome.transform, settings.map_sample))


def _segment(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    settings: SegmentationSettings,
    run_id: str,
    checks: Sequence[GateCheck] | None,
    started: float,
) -> SegmentationResult:
    night = _compute(con, as_of, settings, run_id)
    with transaction(con):
        _store(con, night, run_id, as_of, settings, time.perf_counter() - started)
        if checks is None:
            publication = Publication(run_id, False, (PENDING,))
        else:
            publication = decide_publication(con, run_id, settings, checks)
    outcome, (silhouette, davies_bouldin, calinski) = night.outcome, night.scores
    return SegmentationResult(
        run_id=run_id,
        as_of=as_of,
        mode=night.mode,
        algorithm=settings.algorithm,
        k=len(night.ids),
        silhouette=silhouette,
        davies_bouldin=davies_bouldin,
        calinski_harabasz=calinski,
        n_customers=night.frame.height,
        stability_ari=night.stability,
        kept_segment_share=night.kept,
        published=publication.published,
        status_reason=PENDING if checks is None else publication.status_reason,
        k_criterion=outcome.criterion,
        seconds=time.perf_counter() - started,
        k_scores=outcome.k_scores,
        profiles=night.profiles,
        features=night.features,
        dropped_features=night.dropped,
        representation=outcome.representation,
        notes=list(outcome.notes),
    )
