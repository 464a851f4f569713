"""Feedback exports load like the other sources: typed, off-scale and future rows quarantined with a reason,
customers found by id or e-mail, every row counted once (rows_read = loaded + quarantined + duplicates)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from tests.feedback.conftest import DATA, NOW, NPS, REVIEWS, load_shop

from segmint.config import SourceSettings, load_settings
from segmint.errors import ConfigError
from segmint.ingest.load import FileResult, load_file
from segmint.ingest.presets import fitting_presets
from segmint.warehouse import connect


def reasons(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    return dict(con.execute("select row_number, reason from quarantine order by 1").fetchall())


def test_judgeme_review_export(reviews_shop: tuple[duckdb.DuckDBPyConnection, FileResult]) -> None:
    con, result = reviews_shop
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        7,
        5,
        2,
    )
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate
    assert reasons(con) == {
        5: 'rating 6 is outside the stars scale 1-5 (scale = "stars" on source reviews)',
        7: "submitted_at more than a day in the future",
    }
    rows = con.execute(
        "select customer_id, email, rating, scale, product_id, submitted_at::varchar, text from feedback "
        "order by submitted_at"
    ).fetchall()
    assert rows == [
        # "Anna@Example.com": found by e-mail whatever its case; title and body are one text
        ("C1", "anna@example.com", 5, "stars", "7012345678", "2024-05-02 10:12:00",
         "Lovely mug - Arrived quickly, the glaze is beautiful."),
        # a quoted body over two lines stays one review
        ("C2", "ben@example.com", 1, "stars", "7012345679", "2024-05-20 18:40:00",
         "Broke in transit - The handle snapped off.\nNobody answered my email for a week."),
        ("C1", "anna@example.com", 4, "stars", "7012345680", "2024-05-25 08:00:00",
         "Second set - Bought another set as a gift. Still great, though one was chipped."),
        ("C3", "cara@example.org", 2, "stars", "7012345678", "2024-05-28 21:05:00",
         'Too small - Smaller than the photos suggest, "XL" is not XL.'),
        # a web review from an address no customer has: loaded, counted for nobody, said once
        (None, "stranger@example.com", 5, "stars", "7012345681", "2024-05-30 16:30:00", "Nice - Gift for my sister"),
    ]  # fmt: skip
    assert result.warnings == [
        "judgeme_reviews.csv: 1 reviews or answers name an e-mail address no customer has yet: they count for "
        "a customer once one with that address is loaded (list feedback sources after orders and customers)"
    ]
    # Feedback registers nobody: the customers are those of the customers and orders files.
    assert con.execute("select count(*) from customers").fetchone() == (4,)


def test_nps_survey_export(nps_shop: tuple[duckdb.DuckDBPyConnection, FileResult]) -> None:
    con, result = nps_shop
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
        7,
        4,
        3,
        0,
    )
    assert reasons(con) == {
        4: 'rating 11 is outside the nps scale 0-10 (scale = "nps" on source nps)',
        6: "missing customer_id and email",
        7: 'unparseable rating "n/a"',
    }
    assert con.execute(
        "select feedback_id, customer_id, rating, scale, text from feedback order by feedback_id"
    ).fetchall() == [
        ("r-1001", "C1", 9, "nps", "Great service, fast delivery"),
        ("r-1002", "C2", 3, "nps", "Took three weeks to arrive"),
        ("r-1003", "C2", 7, "nps", "Better this time, still slow"),
        ("r-1005", "C4", 10, "nps", "Love the new range"),  # by its customer id, no e-mail
    ]
    assert result.warnings == []


def test_the_same_reviews_again_are_duplicates(tmp_path: Path) -> None:
    con = connect(":memory:")
    load_shop(con, REVIEWS)
    # Judge.me has no review id: a later export repeating the reviews adds only its new one.
    copy = Path(shutil.copy(DATA / "judgeme_reviews.csv", tmp_path / "judgeme_reviews_june.csv"))
    with copy.open("a", encoding="utf-8") as f:
        f.write(
            "Meh,Fine,3,2024-05-31 09:00:00 UTC,web,ok,Cara D.,cara@example.org,7012345681,tea-towel,,,,,FR\n"
        )
    again = load_file(con, REVIEWS, copy, "run-2", now=NOW)
    assert (again.rows_read, again.rows_loaded, again.rows_quarantined, again.rows_duplicate) == (8, 1, 2, 5)
    assert again.rows_read == again.rows_loaded + again.rows_quarantined + again.rows_duplicate
    assert con.execute("select count(*) from feedback").fetchone() == (6,)


def test_a_scale_setting_overrides_the_preset(tmp_path: Path) -> None:
    con = connect(":memory:")
    path = tmp_path / "ratings.csv"
    path.write_text(
        "feedback_id,customer_id,submitted_at,rating\nf1,C1,2024-05-01 10:00:00,9\nf2,C2,2024-05-02 10:00:00,0\n"
    )
    stars = SourceSettings(name="ratings", kind="feedback", path="ratings.csv")
    result = load_file(con, stars, path, "run-1", now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (0, 2)  # canonical reads stars by default
    nps = SourceSettings(name="ratings", kind="feedback", path="ratings.csv", scale="nps")
    path.write_text(path.read_text() + "f3,C3,2024-05-03 10:00:00,10\n")  # new content, loaded anew
    result = load_file(con, nps, path, "run-2", now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 0)


def test_presets_fit_the_exports() -> None:
    judgeme = (DATA / "judgeme_reviews.csv").read_text().splitlines()[0].split(",")
    delighted = (DATA / "delighted_nps.csv").read_text().splitlines()[0].split(",")
    assert fitting_presets("feedback", judgeme) == ["judgeme"]
    assert fitting_presets("feedback", delighted) == ["nps_survey"]
    assert REVIEWS.rating_scale == "stars" and NPS.rating_scale == "nps"


def test_scale_is_only_for_feedback_and_one_per_shop(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only read for kind = 'feedback'"):
        SourceSettings(name="shop", kind="orders", path="x", scale="nps")
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[[sources]]\nname = 'reviews'\nkind = 'feedback'\npath = 'r.csv'\npreset = 'judgeme'\n"
        "[[sources]]\nname = 'nps'\nkind = 'feedback'\npath = 'n.csv'\npreset = 'nps_survey'\n"
    )
    with pytest.raises(ConfigError, match="different scales: reviews \\(stars\\), nps \\(nps\\)"):
        load_settings(config)
