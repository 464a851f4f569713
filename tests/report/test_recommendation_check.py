"""The report's table of the last night's recommendation evaluation, read from recommendation_evaluations."""

from __future__ import annotations

import re
from datetime import date
from types import ModuleType

import duckdb

from segmint.config import Settings
from segmint.predict.recommend import Evaluation, Scores, store_evaluation
from segmint.report import build_report
from segmint.report.charts import render_charts
from segmint.report.render import render_web


def _night(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, hit: float) -> None:
    con.execute(
        "insert into prediction_runs values (?, ?, null, current_localtimestamp(), 6, 0, 0, null)",
        [run_id, as_of],
    )
    scores = (
        Scores("neighbours", 40, 40, hit, 0.106, 0.24),
        Scores("popularity", 40, 40, 0.206, 0.05, 0.009),
        Scores("rules", 40, 40, 0.227, 0.059, 0.049),  # an "auto" night judges all three
    )
    store_evaluation(con, run_id, Evaluation(as_of, date(2026, 8, 10), 90, 5, 300, scores), "neighbours")


def _table(html: str) -> str:
    found = re.search(r'<table id="recommendation-check">(.*?)</table>', html, re.S)
    assert found is not None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_the_last_nights_recommender_is_shown_beside_popularity(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    _night(shop_con, "p-old", date(2026, 11, 1), 0.1)
    _night(shop_con, "p-new", shop.AS_OF, 0.346)
    data = build_report(shop_con, shop.AS_OF, features=Settings().segmentation.features)
    web = render_web(data, render_charts(data))
    table = _table(web)
    # The night's own rows only (not the week before), the one in use first, popularity beside it, no rules.
    assert table.startswith("Suggestions from Customers who bought one of their 5 (hit rate at 5)")
    assert "Similar products (bought by the same customers) (in use) 34.6% 10.6% 24.0%" in table
    assert table.endswith("Best sellers 20.6% 5.0% 0.9%")
    assert "bought together" not in table and "10.0%" not in table
    assert "trained on the orders up to 10 Aug 2026" in " ".join(web.split())
    # A report before any evaluation has no table, and an older report day shows that day's night.
    earlier = build_report(shop_con, date(2026, 11, 2), features=Settings().segmentation.features)
    assert "Similar products (bought by the same customers) (in use) 10.0%" in _table(
        render_web(earlier, render_charts(earlier))
    )


def test_no_evaluation_no_table(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    shop_con.execute(
        "insert into prediction_runs values ('p', ?, null, current_localtimestamp(), 6, 0, 0, "
        "'recommendations not evaluated: 0 customers bought before 2026-08-10 and then a product new to "
        "them in the 90 days after, fewer than the 20 a hit rate needs (it judges what returning customers "
        "buy next)')",
        [shop.AS_OF],
    )
    data = build_report(shop_con, shop.AS_OF, features=Settings().segmentation.features)
    web = render_web(data, render_charts(data))
    assert 'id="recommendation-check"' not in web
    assert "recommendations not evaluated: 0 customers bought before 2026-08-10" in " ".join(web.split())
