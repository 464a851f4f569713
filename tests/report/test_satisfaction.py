"""Satisfaction per segment in the report: read from the stored profiles, with its week-over-week change,
only for a shop with feedback; a segment mostly of detractors gets the customised-service action."""

from __future__ import annotations

from datetime import datetime
from types import ModuleType

import duckdb

from segmint.config import Settings
from segmint.report.build import build_report
from segmint.report.charts import render_charts
from segmint.report.render import render_email, render_web

# segment_id -> (share with feedback, mean rating, detractors, promoters), this week and a week earlier
NOW = {1: (0.5, 4.6, 0.0, 0.8), 2: (0.4, 1.8, 0.75, 0.0), 3: (None, None, None, None)}
BEFORE = {1: (0.5, 4.2, 0.1, 0.6), 2: (0.4, 2.5, 0.5, 0.1)}


def add_feedback(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "insert into feedback values ('f1', ?, 'c1', null, 9, 'nps', null, null, 'Great', 'nps.csv')",
        [datetime(2026, 11, 3, 9, 0)],
    )
    for run_id, values in (("seg_cur", NOW), ("seg_prev", BEFORE)):
        for seg, (share, mean, detractors, promoters) in values.items():
            con.execute(
                "update segment_profiles set feedback_share = ?, mean_rating_mean = ?, mean_is_detractor = ?, "
                "mean_is_promoter = ? where run_id = ? and segment_id = ?",
                [share, mean, detractors, promoters, run_id, seg],
            )


def test_no_feedback_no_satisfaction_section(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    data = build_report(shop_con, shop.AS_OF)
    assert data.satisfaction is None
    web = render_web(data, render_charts(data))
    html, text = render_email(data, [], report_url=None)
    assert "satisfaction" not in web.lower() and "satisfaction" not in html.lower()
    assert "SATISFACTION" not in text


def test_satisfaction_per_segment_and_its_change(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    add_feedback(shop_con)
    data = build_report(shop_con, shop.AS_OF, features=Settings().segmentation.features)
    assert data.satisfaction is not None and data.satisfaction.scale == "nps" and data.satisfaction.compared
    rows = {r.segment_id: r for r in data.satisfaction.rows}
    assert rows[1].rating_mean == 4.6 and abs((rows[1].rating_change or 0) - 0.4) < 1e-9
    assert abs((rows[1].nps or 0) - 80) < 1e-9 and abs((rows[1].nps_change or 0) - 30) < 1e-9
    assert abs((rows[2].nps or 0) + 75) < 1e-9 and abs((rows[2].nps_change or 0) + 35) < 1e-9
    assert rows[3].rating_mean is None and rows[3].nps is None
    # Three of four raters in segment 2 are detractors: service before any campaign.
    actions = {s.segment_id: s.action for s in data.segment_list}
    assert actions[2] is not None and actions[2].title == "Customised service"
    assert all(a is None or a.title != "Customised service" for sid, a in actions.items() if sid != 2)
    web = render_web(data, render_charts(data))
    section = web[web.index('<section id="satisfaction">') : web.index('<section id="migration">')]
    assert (
        "4.6" in section and "+0.4" in section and "+80" in section and "+30" in section and "-75" in section
    )
    assert '<a href="#satisfaction">' in web
    html, text = render_email(data, [], report_url=None)
    assert 'id="satisfaction"' in html
    name = rows[2].name
    assert f"- {name}: mean rating 1.8 (-0.7 this week), detractors 75.0%, promoters 0.0%, NPS -75" in text
