"""The hand-written feedback exports of tests/data/feedback loaded into a fresh warehouse, one per scale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from segmint.config import SourceSettings
from segmint.features import build_features
from segmint.ingest.load import FileResult, load_file
from segmint.warehouse import connect

DATA = Path(__file__).parent.parent / "data" / "feedback"
NOW = datetime(2024, 6, 1, 12, 0, 0)
AS_OF = date(2024, 5, 31)
CUSTOMERS = SourceSettings(name="crm", kind="customers", path="customers.csv")
ORDERS = SourceSettings(name="shop", kind="orders", path="orders.csv")
REVIEWS = SourceSettings(name="reviews", kind="feedback", path="judgeme_reviews.csv", preset="judgeme")
NPS = SourceSettings(name="nps", kind="feedback", path="delighted_nps.csv", preset="nps_survey")


def load_shop(con: duckdb.DuckDBPyConnection, feedback: SourceSettings | None) -> FileResult | None:
    """Customers and orders of the four-customer shop, then (if given) its feedback export."""
    for source in (CUSTOMERS, ORDERS):
        assert load_file(con, source, DATA / source.path, "run-1", now=NOW).status == "loaded"
    if feedback is None:
        return None
    return load_file(con, feedback, DATA / feedback.path, "run-1", now=NOW)


@pytest.fixture
def reviews_shop() -> Iterator[tuple[duckdb.DuckDBPyConnection, FileResult]]:
    """The shop with its Judge.me reviews loaded and features built for AS_OF."""
    con = connect(":memory:")
    result = load_shop(con, REVIEWS)
    assert result is not None
    build_features(con, AS_OF)
    yield con, result
    con.close()


@pytest.fixture
def nps_shop() -> Iterator[tuple[duckdb.DuckDBPyConnection, FileResult]]:
    """The shop with its NPS survey answers loaded and features built for AS_OF."""
    con = connect(":memory:")
    result = load_shop(con, NPS)
    assert result is not None
    build_features(con, AS_OF)
    yield con, result
    con.close()
