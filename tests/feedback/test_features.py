"""Feedback features per customer, worked out by hand from the fixture exports; a rule on them; a shop
without feedback gets the same features as before, with the feedback columns null."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.feedback.conftest import AS_OF, load_shop

from segmint.campaigns.build import candidates, unevaluable
from segmint.campaigns.playbook import Playbook, load_playbook
from segmint.config import SegmentationSettings
from segmint.features import FEEDBACK_FEATURES, build_features, has_feedback
from segmint.ingest.load import FileResult
from segmint.warehouse import connect

COLUMNS = "customer_id, " + ", ".join(FEEDBACK_FEATURES)


def features(con: duckdb.DuckDBPyConnection, as_of: date = AS_OF) -> list[tuple[object, ...]]:
    return con.execute(
        f"select {COLUMNS} from customer_features where as_of = ? order by customer_id", [as_of]
    ).fetchall()


def test_star_review_features(reviews_shop: tuple[duckdb.DuckDBPyConnection, FileResult]) -> None:
    con, _ = reviews_shop
    assert features(con) == [
        # count, mean, last, detractor (1-2 stars), promoter (5 stars), days since the last review
        ("C1", 2, 4.5, 4, False, False, 6),  # 5 on 05-02, then 4 on 05-25
        ("C2", 1, 1.0, 1, True, False, 11),  # 1 on 05-20 (the July review is quarantined)
        ("C3", 1, 2.0, 2, True, False, 3),  # 2 on 05-28
        ("C4", 0, None, None, None, None, None),  # only an off-scale 6, quarantined
    ]


def test_nps_features(nps_shop: tuple[duckdb.DuckDBPyConnection, FileResult]) -> None:
    con, _ = nps_shop
    assert features(con) == [
        ("C1", 1, 9.0, 9, False, True, 21),  # 9 on 05-10: a promoter
        ("C2", 2, 5.0, 7, False, False, 1),  # 3 then 7: a passive now, no longer a detractor
        ("C3", 0, None, None, None, None, None),  # 11 and "n/a", both quarantined
        ("C4", 1, 10.0, 10, False, True, 2),  # by customer id
    ]


def test_features_are_point_in_time(reviews_shop: tuple[duckdb.DuckDBPyConnection, FileResult]) -> None:
    con, _ = reviews_shop
    build_features(con, date(2024, 5, 21))
    assert features(con, date(2024, 5, 21)) == [
        ("C1", 1, 5.0, 5, False, True, 19),
        ("C2", 1, 1.0, 1, True, False, 1),
        ("C3", 0, None, None, None, None, None),
        ("C4", 0, None, None, None, None, None),
    ]


def test_a_rule_selects_the_detractors(reviews_shop: tuple[duckdb.DuckDBPyConnection, FileResult]) -> None:
    con, _ = reviews_shop
    playbook = Playbook.model_validate(
        {"campaigns": [{"name": "service", "rule": "is_detractor and days_since_feedback <= 30"}]}
    )
    assert unevaluable(con, playbook, AS_OF, None, None) == {}
    frame = candidates(con, playbook, AS_OF, None, None)
    assert sorted(frame.filter(frame["match_0"])["customer_id"].to_list()) == ["C2", "C3"]


def test_the_example_service_campaign_selects_the_detractors(
    reviews_shop: tuple[duckdb.DuckDBPyConnection, FileResult], tmp_path: Path
) -> None:
    con, _ = reviews_shop
    text = (Path(__file__).parents[2] / "campaigns.example.toml").read_text(encoding="utf-8")
    start = text.index('# [[campaigns]]\n# name = "detractor-service-follow-up"')
    block = text[start : text.index("\n\n", start)]
    uncommented = (
        text[:start] + "\n".join(line[2:] for line in block.splitlines()) + text[start + len(block) :]
    )
    (tmp_path / "campaigns.toml").write_text(uncommented, encoding="utf-8")
    playbook = load_playbook(tmp_path / "campaigns.toml")
    assert playbook.active()[0].name == "detractor-service-follow-up"
    frame = candidates(con, playbook, AS_OF, None, None)
    assert sorted(frame.filter(frame["match_0"])["customer_id"].to_list()) == ["C2", "C3"]


def test_a_shop_without_feedback_is_unchanged(
    reviews_shop: tuple[duckdb.DuckDBPyConnection, FileResult],
) -> None:
    without = connect(":memory:")
    load_shop(without, None)
    build_features(without, AS_OF)
    assert not has_feedback(without, AS_OF)
    rows = without.execute(
        f"select {', '.join(FEEDBACK_FEATURES)} from customer_features where as_of = ?", [AS_OF]
    ).fetchall()
    assert rows == [(None,) * len(FEEDBACK_FEATURES)] * 4  # absent: null for everyone, even the count
    # Every other feature is the same with or without feedback: reviews change nothing else.
    others = (
        "select * exclude (computed_at, "
        + ", ".join(FEEDBACK_FEATURES)
        + ") from customer_features order by 2"
    )
    with_feedback, _ = reviews_shop
    assert without.execute(others).fetchall() == with_feedback.execute(others).fetchall()
    # Segmentation does not cluster on feedback unless configured to.
    assert not set(FEEDBACK_FEATURES) & set(SegmentationSettings().features)
    # A rule on feedback in such a shop is skipped with a sentence, not built empty.
    playbook = Playbook.model_validate({"campaigns": [{"name": "service", "rule": "is_detractor"}]})
    reasons = unevaluable(without, playbook, AS_OF, None, None)
    assert "no reviews or survey answers yet" in reasons["service"]


@pytest.mark.parametrize("feature", FEEDBACK_FEATURES)
def test_feedback_features_are_in_the_contract(feature: str) -> None:
    from segmint.campaigns.playbook import FEATURE_COLUMNS
    from segmint.report.actions import feature_label
    from segmint.segment.profile import LABELS, MEAN_COLUMNS

    assert feature in FEATURE_COLUMNS and feature in MEAN_COLUMNS and feature in LABELS
    assert feature_label(feature) != feature.replace("_", " ")
