"""A night's segmentation end to end on a generated shop: history, stability, assignment, publication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.segment.conftest import NIGHT_1, NIGHT_2

from segmint.config import SegmentationSettings
from segmint.errors import ConfigError, SegmintError
from segmint.segment import current_run, hold_run, publish_run, segment_customers, segment_migration


def rows(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return con.execute(sql, list(params)).fetchall()


def names(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[int, str]:
    return {
        int(r[0]): str(r[1])
        for r in rows(con, "select segment_id, segment_name from segment_profiles where run_id = ?", run_id)
    }


def test_a_night_is_segmented_named_explained_and_published(shop: duckdb.DuckDBPyConnection) -> None:
    result = segment_customers(shop, NIGHT_2, run_id="night-2")
    n = rows(shop, "select count(*) from customer_features where as_of = ?", NIGHT_2)[0][0]
    assert result.published and result.status_reason == "published" and result.mode == "recluster"
    assert 3 <= result.k <= 10 and result.n_customers == n
    assert result.silhouette and result.davies_bouldin and result.calinski_harabasz
    assert current_run(shop) == "night-2"
    assert rows(shop, "select count(*), count(distinct customer_id) from segment_assignments") == [(n, n)]
    profiles = rows(
        shop,
        """
        select segment_id, segment_name, size, share, description, defining_features, top_features,
            rf_precision, rf_recall, rf_f1, lineage, mean_frequency, mean_recency_days
        from segment_profiles where run_id = 'night-2'
        """,
    )
    assert len(profiles) == result.k
    assert sum(int(str(p[2])) for p in profiles) == n
    assert abs(sum(float(str(p[3])) for p in profiles) - 1) < 1e-9
    assert len({p[1] for p in profiles}) == result.k  # names are unique
    for p in profiles:
        assert str(p[4]).endswith(".") and "customers" in str(p[4])
        assert len(json.loads(str(p[6]))) == 3
        assert all(0 <= float(str(v)) <= 1 for v in p[7:10])
        assert p[10] == "appeared"
    scores = rows(
        shop,
        "select k, chosen, silhouette, davies_bouldin, calinski_harabasz, bootstrap_ari, bic from segment_k_scores",
    )
    assert [s[0] for s in scores] == list(range(3, 11))
    assert [s[0] for s in scores if s[1]] == [result.k]
    assert all(None not in s for s in scores)
    features = len(SegmentationSettings().features)
    assert rows(shop, "select count(*) from segment_features") == [(result.k * features,)]
    assert rows(shop, "select forest is not null from segment_models") == [(True,)]
    assigned = rows(
        shop,
        "select count(*) from segment_assignments a join segment_profiles p using (run_id, segment_id) where a.segment_name = p.segment_name",
    )
    assert assigned == [(n,)]


def test_rerunning_a_night_gives_the_same_segments(shop: duckdb.DuckDBPyConnection) -> None:
    first = segment_customers(shop, NIGHT_2, run_id="a")
    again = segment_customers(shop, NIGHT_2, run_id="b")
    assert (first.k, first.silhouette) == (again.k, again.silhouette)
    differ = rows(
        shop,
        """
        select count(*) from segment_assignments a join segment_assignments b using (customer_id)
        where a.run_id = 'a' and b.run_id = 'b'
          and (a.segment_id <> b.segment_id or a.segment_name <> b.segment_name)
        """,
    )
    assert differ == [(0,)]
    # one published run per night: the rerun supersedes the first
    assert rows(shop, "select run_id, published, status_reason from segment_runs order by run_id") == [
        ("a", False, "superseded by b"),
        ("b", True, "published"),
    ]


def test_the_next_night_keeps_segment_ids_and_records_stability(shop: duckdb.DuckDBPyConnection) -> None:
    first = segment_customers(shop, NIGHT_1, run_id="n1")
    second = segment_customers(shop, NIGHT_2, run_id="n2")
    assert second.stability_ari is not None and second.stability_ari > 0.8
    assert second.kept_segment_share is not None and second.kept_segment_share >= 0.95
    before, after = names(shop, "n1"), names(shop, "n2")
    assert first.k == second.k and before == after
    lineage = rows(
        shop, "select event, previous_run_id, count(*) from segment_lineage where run_id = 'n2' group by all"
    )
    assert lineage == [("matched", "n1", second.k)]
    assert rows(shop, "select previous_run_id from segment_runs where run_id = 'n2'") == [("n1",)]

    moves = segment_migration(shop, "n1", "n2")
    n2 = rows(shop, "select count(*) from segment_assignments where run_id = 'n2'")[0][0]
    new = moves.filter(moves["from_segment_id"].is_null())["customers"].sum()
    assert moves["customers"].sum() == n2 + moves.filter(moves["to_segment_id"].is_null())["customers"].sum()
    stayed = moves.filter(moves["stayed"] & moves["from_segment_id"].is_not_null())["customers"].sum()
    common = n2 - new
    assert abs(stayed / common - second.kept_segment_share) < 1e-9
    assert moves["revenue_after"].is_not_null().all()


def test_between_reclusters_the_forest_assigns_every_customer(shop: duckdb.DuckDBPyConnection) -> None:
    settings = SegmentationSettings(recluster_every_days=7)
    segment_customers(shop, NIGHT_1, settings, run_id="n1")
    second = segment_customers(shop, NIGHT_2, settings, run_id="n2")
    assert second.mode == "assign" and second.k_criterion == "assigned by the forest of re-cluster n1"
    assert rows(shop, "select model_run_id, mode from segment_runs where run_id = 'n2'") == [("n1", "assign")]
    assert rows(shop, "select distinct assigned_by from segment_assignments where run_id = 'n2'") == [
        ("forest",)
    ]
    newcomers = rows(
        shop,
        """
        select count(*) from segment_assignments a where run_id = 'n2'
          and not exists (select 1 from segment_assignments b where b.run_id = 'n1' and b.customer_id = a.customer_id)
        """,
    )[0][0]
    assert isinstance(newcomers, int) and newcomers > 0  # customers who signed up on night 2 get a segment
    names_1, names_2 = names(shop, "n1"), names(shop, "n2")
    assert names_2.items() <= names_1.items()
    assert second.stability_ari is not None and second.stability_ari > 0.8


def test_a_run_below_a_floor_is_held_and_the_last_published_stays(shop: duckdb.DuckDBPyConnection) -> None:
    segment_customers(shop, NIGHT_1, run_id="good")
    held = segment_customers(shop, NIGHT_2, SegmentationSettings(min_silhouette=0.99), run_id="weak")
    assert not held.published
    assert (
        held.status_reason.startswith("held: silhouette")
        and "below min_silhouette 0.99" in held.status_reason
    )
    assert current_run(shop) == "good"
    assert current_run(shop, NIGHT_2) is None


def test_a_pending_run_is_published_or_held_by_an_outside_gate(shop: duckdb.DuckDBPyConnection) -> None:
    pending = segment_customers(shop, NIGHT_1, run_id="p1", publish=False)
    assert not pending.published and pending.status_reason.startswith("pending")
    assert current_run(shop) is None
    publish_run(shop, "p1")
    assert current_run(shop) == "p1"
    segment_customers(shop, NIGHT_2, run_id="p2", publish=False)
    hold_run(shop, "p2", ["failed critical check: orders volume"])
    assert current_run(shop) == "p1"
    assert rows(shop, "select status_reason from segment_runs where run_id = 'p2'") == [
        ("held: failed critical check: orders volume",)
    ]


def test_an_extra_gate_check_can_hold_a_run(shop: duckdb.DuckDBPyConnection) -> None:
    result = segment_customers(shop, NIGHT_2, checks=[lambda con, run_id: "campaign freeze"])
    assert not result.published and result.status_reason == "held: campaign freeze"


@pytest.mark.parametrize(
    "settings",
    [
        SegmentationSettings(algorithm="gmm", k_max=6),
        SegmentationSettings(algorithm="ward", k_max=6, sample_size=800),
        SegmentationSettings(algorithm="hdbscan"),
        SegmentationSettings(
            pca_components=3,
            features=["recency_days", "frequency", "monetary", "sessions_90d", "product_views_90d"],
        ),
    ],
    ids=["gmm", "ward-on-a-sample", "hdbscan", "pca"],
)
def test_other_algorithms_segment_the_shop(
    shop: duckdb.DuckDBPyConnection, settings: SegmentationSettings
) -> None:
    result = segment_customers(shop, NIGHT_2, settings)
    assert result.k >= 2 and result.algorithm == settings.algorithm
    n = rows(shop, "select count(*) from customer_features where as_of = ?", NIGHT_2)[0][0]
    assert rows(shop, "select count(*) from segment_assignments where run_id = ?", result.run_id) == [(n,)]


def test_user_errors_are_one_sentence(shop: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ConfigError, match=r"segmentation.features: lifetime is not a numeric column"):
        segment_customers(shop, NIGHT_2, SegmentationSettings(features=["frequency", "lifetime"]))
    with pytest.raises(SegmintError, match=r"No customer features for 2020-01-01; run `segmint run nightly"):
        segment_customers(shop, NIGHT_2.replace(year=2020, month=1, day=1))
    with pytest.raises(SegmintError, match="Segment run nope does not exist"):
        segment_migration(shop, "nope", "nope")


def test_segmint_segments_prints_the_table(
    small_shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from segmint.cli import main
    from segmint.warehouse import connect

    path = tmp_path / "w.duckdb"
    shutil.copy(small_shop, path)
    with connect(path) as con:
        segment_customers(con, NIGHT_1, run_id="n1")
        segment_customers(con, NIGHT_2, run_id="n2")
    config = tmp_path / "segmint.toml"
    config.write_text(f'[warehouse]\npath = "{path}"\n')
    main(["segments", "--config", str(config)])
    out = capsys.readouterr().out
    assert "Segments of run n2 for 2026-06-30" in out and "published" in out
    assert "adjusted Rand index" in out and "Calinski-Harabasz" in out
    main(["segments", "--config", str(config), "--run", "n1"])
    assert "Segments of run n1 for 2026-06-29" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["segments", "--config", str(config), "--run", "missing"])
    assert exit_info.value.code == 1
    assert "Segment run missing does not exist" in capsys.readouterr().err
