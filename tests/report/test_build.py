"""The report's data model from hand-written warehouse rows: exact numbers for every section."""

from __future__ import annotations

import html
import json
from datetime import date, datetime, timedelta
from types import ModuleType

import duckdb
import numpy as np
import pytest

from segmint.config import Settings
from segmint.report import build_report
from segmint.report.model import Migration, Projection, RfmGrid, SizeHistory, Unavailable
from segmint.report.render import render_email, render_web
from segmint.segment.customer_map import draw_stored_run
from segmint.segment.scaling import FeatureTransform
from segmint.warehouse import connect


def test_kpis_compare_the_week_with_the_week_before(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    data = build_report(shop_con, shop.AS_OF)
    assert (data.period.start, data.period.end) == (date(2026, 11, 2), date(2026, 11, 8))
    assert (data.previous.start, data.previous.end) == (date(2026, 10, 26), date(2026, 11, 1))
    assert data.period.iso_week == "2026-W45"
    kpis = {k.key: (k.current, k.previous) for k in data.kpis}
    # This week: o7 (c1, at 00:00 on the first day), o8 (c2), o9 (c4, cancelled by o10), o11 (guest), o12 (c5);
    # o13 falls on the day after as_of. Previous week: o3 (c1), o4 + o6 (c3, 23:59:59 on its last day), o5 (guest).
    assert kpis == {
        "active_customers": (4, 2),
        "new_customers": (2, 1),  # c4 and c5 / c3
        "orders": (5, 4),  # cancellations are not orders
        "revenue": (245, 200),  # net: o10's -200 counts
        "average_order_value": (49, 50),  # net, as in the features: 245 / 5 and 200 / 4
        "repeat_rate": (0.5, 0.5),  # c1, c2 of 4 had ordered before / c1 of 2
        "guest_share": (0.2, 0.25),
    }
    guest = next(k for k in data.kpis if k.key == "guest_share")
    assert guest.higher_is_better is False and guest.delta == pytest.approx(-0.05)
    orders = next(k for k in data.kpis if k.key == "orders")
    assert orders.change == pytest.approx(0.25)


def test_revenue_and_average_order_value_are_net_of_cancellations_and_refunds(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    # o8 (c2, this week) is partly refunded: the refund comes off revenue and the order value alike.
    shop_con.execute("update orders set refunded_amount = 20 where order_id = 'o8'")
    data = build_report(shop_con, shop.AS_OF)
    kpis = {k.key: k for k in data.kpis}
    assert kpis["revenue"].current == 225  # 445 - 200 (o10 cancels o9) - 20
    assert kpis["average_order_value"].current == 45  # the same net revenue over the 5 kept orders
    assert kpis["average_order_value"].label == "Average order value (net)"
    assert kpis["revenue"].label == "Revenue (net)"


def test_a_refund_larger_than_the_order_takes_it_to_nothing_not_below(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    # A Shopify refund includes the shipping the order's lines never held: it nets the order to 0.
    revenue = shop_con.execute("select revenue::double from orders where order_id = 'o8'").fetchone()
    assert revenue is not None
    shop_con.execute("update orders set refunded_amount = ? where order_id = 'o8'", [revenue[0] + 4.9])
    data = build_report(shop_con, shop.AS_OF)
    kpis = {k.key: k for k in data.kpis}
    assert kpis["revenue"].current == pytest.approx(245 - revenue[0])  # 445 - 200 (o10 cancels o9) - o8


def test_the_published_run_is_the_latest_published_on_or_before_the_day(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    data = build_report(shop_con, shop.AS_OF)
    assert not isinstance(data.segment_run, Unavailable)
    assert data.segment_run.run_id == "seg_cur"  # seg_unpub (2026-11-08) was not published
    assert data.notes == [
        "The segments shown are from the last published run (2026-11-07); later nights were not published "
        "(see Data quality)."
    ]
    earlier = build_report(shop_con, date(2026, 11, 6))
    assert not isinstance(earlier.segment_run, Unavailable)
    assert earlier.segment_run.run_id == "seg_prev"


def test_segment_table(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    data = build_report(shop_con, shop.AS_OF)
    assert isinstance(data.segments, list)
    rows = {s.name: s for s in data.segments}
    assert [s.name for s in data.segments] == ["Regulars", "Newcomers", "Window shoppers"]  # by size
    assert [(s.size, s.previous_size, s.change) for s in data.segments] == [(3, 2, 1), (2, 2, 0), (1, 2, -1)]
    assert [s.share for s in data.segments] == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    regulars = rows["Regulars"]  # c1, c4, c5 at 2026-11-07
    assert regulars.mean_recency == pytest.approx((5 + 3 + 9) / 3)
    assert regulars.mean_frequency == pytest.approx((3 + 1 + 1) / 3)
    assert regulars.mean_monetary == pytest.approx((300 + 200 + 0) / 3)
    assert regulars.revenue_share == pytest.approx(0.7)
    assert regulars.mean_clv is None  # no predictions yet
    window = rows["Window shoppers"]  # c6: a prospect, recency unknown
    assert window.mean_recency is None and window.mean_frequency == 0
    # The shop has no clickstream: no browse-based action, whatever an earlier night named the segment.
    assert window.action is not None and window.action.segment_type == "sign_ups"
    assert "viewed" not in window.action.offer
    assert all(s.action is not None and s.action.source == "default" for s in data.segments)


def test_browsers_get_a_browse_based_action_only_in_a_shop_with_a_clickstream(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    shop.insert(
        shop_con,
        "events",
        [{"event_id": "e1", "occurred_at": shop.ts("2026-11-06 10:00:00"), "customer_id": "c6",
          "session_id": "s1", "event_type": "product_view", "product_id": "p1", "source_file": "web.csv"}],
    )  # fmt: skip
    data = build_report(shop_con, shop.AS_OF)
    assert isinstance(data.segments, list)
    types = {s.name: s.action.segment_type for s in data.segments if s.action is not None}
    assert types["Window shoppers"] == "browsers"
    assert types["Regulars"] == "loyal"  # the type follows the rule-checked name


def test_defining_features_are_the_largest_z_scores(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    data = build_report(shop_con, shop.AS_OF, features=Settings().segmentation.features)
    assert isinstance(data.segments, list)
    window = next(s for s in data.segments if s.name == "Window shoppers")
    # frequency over the 6 customers: 3, 2, 2, 1, 1, 0 -> mean 1.5; its z-score is the clustering's, in the
    # logged space segmentation clustered in (segment_profiles.defining_features, as `segmint segments` shows)
    frequency = next(d for d in window.defining if d.feature == "frequency")
    assert frequency.base_mean == pytest.approx(1.5)
    logged = np.log1p([3, 2, 2, 1, 1, 0])
    assert frequency.z == pytest.approx((logged[-1] - logged.mean()) / logged.std())
    assert window.defining[0].feature == "sessions_90d"  # 3 visits against 1 for everyone else: z = +2.24
    assert [abs(d.z) for d in window.defining] == sorted((abs(d.z) for d in window.defining), reverse=True)
    assert len(window.defining) == 3


def test_top_products_are_net_of_cancellations(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    data = build_report(shop_con, shop.AS_OF)
    assert isinstance(data.segments, list)
    regulars = next(s for s in data.segments if s.name == "Regulars")
    # c1: o3 4 x 20, o7 2 x 20 + 1 x 80; c4: o9 2 x 100 cancelled by o10; c5: o12 1 x 70 (o14 voided).
    # o13 is after as_of.
    assert [(p.product_id, p.name, p.units, p.revenue, p.customers) for p in regulars.top_products] == [
        ("p1", "Green tea", 7, 190.0, 2),
        ("p2", shop.EVIL, 1, 80.0, 2),
    ]
    newcomers = next(s for s in data.segments if s.name == "Newcomers")
    assert [(p.product_id, p.revenue) for p in newcomers.top_products] == [("p3", 30.0)]


def test_migration_matrix_with_revenue(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    data = build_report(shop_con, shop.AS_OF)
    m = data.migration
    assert isinstance(m, Migration)
    assert (m.previous_run_id, m.previous_as_of) == ("seg_prev", date(2026, 11, 1))
    cells = {(c.from_id, c.to_id): (c.customers, c.revenue) for c in m.cells}
    assert cells == {
        (1, 1): (1, 300.0),  # c1 stays a regular
        (1, 2): (1, 80.0),  # c2
        (2, 2): (1, 100.0),  # c3
        (3, 1): (2, 200.0),  # c4 (200) and c5 (0)
        (None, 3): (1, 0.0),  # c6 is new
        (2, None): (1, 0.0),  # c7 is gone
    }
    assert (m.customers_compared, m.moved, m.revenue_moved) == (5, 3, 280.0)
    assert m.from_labels == {1: "Regulars", 2: "Newcomers", 3: "Window shoppers", None: "new"}
    assert m.to_labels == {1: "Regulars", 2: "Newcomers", 3: "Window shoppers", None: "gone"}
    assert [(c.from_id, c.to_id) for c in m.top_moves] == [(3, 1), (1, 2)]


def test_size_history_takes_the_latest_published_run_of_each_week(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    history = build_report(shop_con, shop.AS_OF).history
    assert isinstance(history, SizeHistory)
    assert history.weeks == [shop.AS_OF - timedelta(days=7 * i) for i in range(11, -1, -1)]
    assert history.sizes == {
        1: [None] * 9 + [2, 2, 3],
        2: [None] * 9 + [2, 2, 2],
        3: [None] * 9 + [1, 2, 1],
    }
    assert history.names == shop.SEGMENTS


def test_rfm_grid_leaves_prospects_out(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    rfm = build_report(shop_con, shop.AS_OF).rfm
    assert isinstance(rfm, RfmGrid)
    cells = {(r + 1, f + 1): n for r, row in enumerate(rfm.counts) for f, n in enumerate(row) if n}
    assert cells == {(5, 5): 1, (2, 3): 1, (5, 3): 1, (5, 1): 1, (4, 1): 1}
    assert rfm.mean_monetary[4][4] == 300.0
    assert rfm.named == [
        ("At Risk", 1, 80.0),
        ("Champions", 1, 300.0),
        ("New Customers", 1, 200.0),
        ("Potential Loyalists", 1, 100.0),
        ("Promising", 1, 0.0),
    ]


def test_projection_samples_per_segment(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    projection = build_report(shop_con, shop.AS_OF).projection
    assert isinstance(projection, Projection)
    assert (projection.n_sampled, projection.n_total) == (6, 6)
    assert sorted(projection.segment_ids) == [1, 1, 1, 2, 2, 3]
    assert len(projection.x) == len(projection.y) == 6
    assert 0 < projection.explained[1] <= projection.explained[0] <= 1


def published_run_of(customers: int) -> duckdb.DuckDBPyConnection:
    """A warehouse whose published segment run 'r' of 2026-01-01 covers `customers` customers."""
    con = connect(":memory:")
    con.execute(
        """
        insert into segment_runs (run_id, as_of, created_at, algorithm, mode, k, n_customers, features, settings,
            published, status_reason)
        values ('r', date '2026-01-01', timestamp '2026-01-01', 'kmeans', 'recluster', 2, ?, '[]', '{}', true, 'ok')
        """,
        [customers],
    )
    return con


def draw_map(con: duckdb.DuckDBPyConnection, sample: int = 4000) -> None:
    """Store run r's customer map as segmentation does, in the space of a transform fitted on its night."""
    from segmint.config import SegmentationSettings
    from segmint.segment.customer_map import draw_stored_run
    from segmint.segment.run import load_frame
    from segmint.segment.scaling import fit_transform

    features = SegmentationSettings().features
    _, transform = fit_transform(load_frame(con, date(2026, 1, 1), features), features)
    con.execute(
        "insert into segment_models (run_id, features, transform, centroids) values ('r', ?, ?, '{}')",
        [json.dumps(features), transform.to_json()],
    )
    draw_stored_run(con, "r", sample)


def test_projection_sample_is_bounded_and_keeps_small_segments(tmp_path: object) -> None:
    con = published_run_of(5010)
    con.execute(
        """
        insert into segment_assignments (run_id, customer_id, segment_id, segment_name, assigned_by)
        select 'r', 'c' || i, case when i < 10 then 2 else 1 end, 'x', 'cluster' from range(5010) t(i)
        """
    )
    con.execute(
        """
        insert into customer_features by name
        select date '2026-01-01' as as_of, 'c' || i as customer_id, false as is_prospect, (i % 97) as recency_days,
            1 + i % 7 as frequency, (i % 13) * 10.0 as monetary, 0 as distinct_products, 0 as distinct_categories,
            0 as sessions_30d, 0 as product_views_30d, 0 as add_to_carts_30d, i % 5 as sessions_90d,
            0 as product_views_90d, 0 as add_to_carts_90d, 0 as orders_total, 0 as cancelled_orders,
            0 as gross_revenue, 0 as returned_value, 0 as orders_90d, 0 as monetary_90d,
            timestamp '2026-01-01' as computed_at
        from range(5010) t(i)
        """
    )
    draw_map(con, sample=500)
    projection = build_report(con, date(2026, 1, 1)).projection
    assert isinstance(projection, Projection)
    assert projection.n_total == 5010
    assert projection.segment_ids.count(2) == 10  # a segment of 10 keeps all of them (at least 30 each)
    assert 490 <= projection.segment_ids.count(1) <= 500
    draw_stored_run(con, "r", 500)  # drawn again, as the next segmentation of the same night would
    again = build_report(con, date(2026, 1, 1)).projection
    assert isinstance(again, Projection) and again.x == projection.x  # deterministic sample


def test_the_customer_map_is_drawn_in_the_space_the_customers_were_clustered_in() -> None:
    con = published_run_of(4)
    con.execute(
        "insert into segment_assignments (run_id, customer_id, segment_id, segment_name, assigned_by) values "
        "('r', 'b1', 1, 'Buyers', 'cluster'), ('r', 'b5', 1, 'Buyers', 'cluster'), "
        "('r', 'b9', 1, 'Buyers', 'cluster'), ('r', 'p', 2, 'Browsers', 'cluster')"
    )
    con.execute(
        """
        insert into customer_features by name
        select date '2026-01-01' as as_of, id as customer_id, recency is null as is_prospect, recency as recency_days,
            frequency, 0 as monetary, 0 as distinct_products, 0 as distinct_categories, 0 as sessions_30d,
            0 as product_views_30d, 0 as add_to_carts_30d, 0 as sessions_90d, 0 as product_views_90d,
            0 as add_to_carts_90d, 0 as orders_total, 0 as cancelled_orders, 0 as gross_revenue,
            0 as returned_value, 0 as orders_90d, 0 as monetary_90d, timestamp '2026-01-01' as computed_at
        from (values ('b1', 1, 3), ('b5', 5, 2), ('b9', 9, 1), ('p', null, 0)) t(id, recency, frequency)
        """
    )
    # The clustering filled a missing recency with 400 days: a browser is far from every buyer.
    transform = FeatureTransform(
        ("recency_days", "frequency"), (False, True), (400.0, 0.0), (5.0, 0.7), (4.0, 0.3)
    )
    con.execute(
        "insert into segment_models values ('r', '[\"recency_days\", \"frequency\"]', ?, '{}', null)",
        [transform.to_json()],
    )
    draw_stored_run(con, "r")
    projection = build_report(con, date(2026, 1, 1)).projection
    assert isinstance(projection, Projection)
    points = dict(zip(["b1", "b5", "b9", "p"], zip(projection.x, projection.y, strict=True), strict=True))

    def apart(a: str, b: str) -> float:
        return float(np.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1]))

    # Filling the gap with 0 would have drawn the browser beside the most recent buyer.
    assert apart("p", "b1") > 10 * max(apart("b1", "b5"), apart("b5", "b9"), apart("b1", "b9"))


def test_data_quality_of_the_week(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    q = build_report(shop_con, shop.AS_OF).quality
    # r_old computed the night before the week; the ingest run has no as_of and started inside the week.
    assert [r.run_id for r in q.runs] == ["r_ingest", "r_mon", "r_sun"]
    assert q.status_counts == {"completed": 2, "held": 1}
    assert [
        (x.source, x.files, x.rows_read, x.rows_loaded, x.rows_quarantined, x.rows_duplicate) for x in q.loads
    ] == [
        ("shop", 2, 110, 105, 5, 2),
        ("web", 1, 50, 50, 0, 0),
    ]
    assert q.quarantine_reasons == [("shop", "negative unit_price", 3), ("shop", "duplicate order_id", 2)]
    assert q.failed_checks == [] and q.checks_run == 0
    assert q.partial_orders == (0, 0)


def test_orders_loaded_without_some_lines_are_named_in_every_report(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    shop_con.execute(
        "insert into order_quarantined_lines values ('o1', 'a.csv', 'r_sun', 2, 1, now()), "
        "('o2', 'a.csv', 'r_sun', 1, 2, now())"
    )
    data = build_report(shop_con, shop.AS_OF)
    assert data.quality.partial_orders == (2, 3)
    sentence = "2 orders were loaded without 3 of their lines (quarantined)"
    html, text = render_email(data, [])
    for page in (render_web(data, []), html, text):
        assert sentence in " ".join(page.split())


def test_failed_checks_held_batches_and_unpublished_nights(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    con = shop_con
    check = {"batch": "f.csv", "validated_at": datetime(2026, 11, 9, 2, 1)}
    shop.insert(
        con,
        "validation_results",
        [
            {**check, "run_id": "r_sun", "suite": "orders", "expectation": "order_id_unique", "severity": "critical",
             "success": False, "unexpected_count": 12},
            {**check, "run_id": "r_sun", "suite": "events", "expectation": "events_volume", "severity": "warning",
             "success": False, "unexpected_count": None},
            {**check, "run_id": "r_sun", "suite": "orders", "expectation": "price_positive", "severity": "critical",
             "success": False, "unexpected_count": 3},
            {**check, "run_id": "r_mon", "suite": "orders", "expectation": "order_id_unique", "severity": "critical",
             "success": True, "unexpected_count": 0},
            {**check, "run_id": "r_old", "suite": "orders", "expectation": "order_id_unique", "severity": "critical",
             "success": False, "unexpected_count": 99},
        ],
    )  # fmt: skip
    shop.insert(
        con,
        "publication_decisions",
        [{"run_id": "r_sun", "as_of": date(2026, 11, 8), "segment_run_id": "seg_unpub", "published": False,
          "reasons": '["orders failed order_id_unique (12 rows).", "Kept run seg_cur."]', "kept_run_id": "seg_cur",
          "decided_at": datetime(2026, 11, 9, 2, 3)}],
    )  # fmt: skip
    shop.insert(
        con,
        "held_batches",
        [{"run_id": "r_sun", "source": "shop", "kind": "orders", "path": "/in/orders-3.csv", "sha256": "x",
          "rows_read": 40, "reason": "duplicated order ids", "held_at": datetime(2026, 11, 9, 2, 2), "status": "held"}],
    )  # fmt: skip
    q = build_report(con, shop.AS_OF).quality
    assert isinstance(q.failed_checks, list)
    assert [(c.suite, c.expectation, c.severity, c.unexpected_count) for c in q.failed_checks] == [
        ("orders", "order_id_unique", "critical", 12),
        ("orders", "price_positive", "critical", 3),
        ("events", "events_volume", "warning", None),
    ]
    assert q.checks_run == 4  # r_old is not in the week
    assert q.not_published == [
        (date(2026, 11, 8), "orders failed order_id_unique (12 rows). Kept run seg_cur.")
    ]
    [(night, said)] = q.held_nights
    assert night == date(2026, 11, 8)
    assert said.startswith(
        "The segments computed on 8 Nov 2026 did not pass the checks for reliable segments"
    )
    assert said.endswith("the earlier segments (from 7 Nov 2026) stay in use.")
    assert q.held_batches == [("shop", "orders-3.csv", "duplicated order ids", 40)]


def test_campaigns_replace_the_default_action_and_results_show(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    con = shop_con
    shop.insert(
        con,
        "campaigns",
        [
            {"campaign_id": "winback-20261105", "name": "Win back", "as_of": date(2026, 11, 5), "channel": "email",
             "offer": "15% off", "targeting": "Newcomers", "window_start": date(2026, 11, 6),
             "window_end": date(2026, 11, 19), "n_treatment": 9, "n_holdout": 1},
            {"campaign_id": "welcome-20261001", "name": "Welcome", "as_of": date(2026, 10, 1), "channel": "email",
             "offer": None, "targeting": "all", "window_start": date(2026, 10, 2),
             "window_end": date(2026, 10, 15), "n_treatment": 90, "n_holdout": 10},
        ],
    )  # fmt: skip
    shop.insert(
        con,
        "campaign_audiences",
        [
            {
                "campaign_id": "winback-20261105",
                "customer_id": "c2",
                "segment_name": "Newcomers",
                "group": "treatment",
            },
            {
                "campaign_id": "winback-20261105",
                "customer_id": "c3",
                "segment_name": "Newcomers",
                "group": "holdout",
            },
        ],
    )
    result = {
        "window_start": date(2026, 10, 2),
        "window_end": date(2026, 10, 15),
        "n_treatment": 90,
        "n_holdout": 10,
    }
    shop.insert(
        con,
        "campaign_results",
        [
            {**result, "campaign_id": "welcome-20261001", "segment_name": "all", "measured_at": datetime(2026, 10, 20),
             "measured_as_of": date(2026, 10, 19), "uplift_abs": 0.1, "uplift_ci_low": 0.02, "uplift_ci_high": 0.18},
            # an earlier measurement of the same campaign: replaced by the later one
            {**result, "campaign_id": "welcome-20261001", "segment_name": "all", "measured_at": datetime(2026, 10, 16),
             "measured_as_of": date(2026, 10, 15), "uplift_abs": 0.0, "uplift_ci_low": -0.1, "uplift_ci_high": 0.1},
            {**result, "campaign_id": "welcome-20261001", "segment_name": "Regulars",
             "measured_at": datetime(2026, 10, 20), "measured_as_of": date(2026, 10, 19), "uplift_abs": 0.0,
             "uplift_ci_low": -0.2, "uplift_ci_high": 0.2},
            # measured after the report day: not shown
            {**result, "campaign_id": "winback-20261105", "segment_name": "all", "measured_at": datetime(2026, 12, 1),
             "measured_as_of": date(2026, 11, 30), "uplift_abs": 0.5, "uplift_ci_low": 0.4, "uplift_ci_high": 0.6},
        ],
    )  # fmt: skip
    data = build_report(con, shop.AS_OF)
    campaigns = data.campaigns
    assert not isinstance(campaigns, Unavailable)
    assert [(c.campaign_id, c.n_treatment, c.n_holdout) for c in campaigns.built] == [
        ("winback-20261105", 9, 1)
    ]
    # The latest measurement per campaign and segment, measured on or before the report day, 'all' first.
    assert [(r.campaign_id, r.segment_name, r.uplift_abs, r.significant) for r in campaigns.results] == [
        ("welcome-20261001", "all", 0.1, True),
        ("welcome-20261001", "Regulars", 0.0, False),
    ]
    assert isinstance(data.segments, list)
    newcomers = next(s for s in data.segments if s.name == "Newcomers")
    assert newcomers.action is not None
    assert (newcomers.action.source, newcomers.action.title, newcomers.action.offer) == (
        "campaign",
        "Win back",
        "15% off",
    )
    assert newcomers.campaigns == ["Win back (email): 1 targeted, 1 held out"]


PASSED_CLV_CHECK = {"run_id": "p1", "as_of": date(2026, 11, 7), "calibration_end": date(2026, 8, 9),
                    "holdout_days": 90, "n_customers": 5, "actual_purchases": 10.0, "predicted_purchases": 11.0,
                    "purchases_ratio": 1.1, "purchases_mae": 0.5, "baseline_predicted_purchases": 9.0,
                    "baseline_ratio": 0.9, "baseline_mae": 0.6, "actual_revenue": 500.0}  # fmt: skip


@pytest.mark.parametrize(
    ("check", "message", "reason"),
    [
        (None, None, "has not been checked against held-out purchases yet"),
        ({"purchases_ratio": 3.4, "purchases_mae": 2.0}, None, "it expected 3.4 times the purchases"),
        ({"purchases_mae": 0.9}, None, "less well than each customer's past buying rate"),
        ({"message": "dropout at its bound"}, None, "failed its holdout check (dropout at its bound)"),
        (
            {},
            "churn skipped: x; CLV not reliable for this shop: spend has no finite mean",
            "spend has no finite mean",
        ),
        (
            {},
            "churn skipped: x; Lifetime values are not reliable for this shop: spend has no finite mean",
            "spend has no finite mean",
        ),
    ],
)
def test_clv_not_validated_or_not_reliable_is_shown_as_a_dash_with_the_reason(
    shop_con: duckdb.DuckDBPyConnection,
    shop: ModuleType,
    check: dict[str, object] | None,
    message: str | None,
    reason: str,
) -> None:
    con = shop_con
    shop.insert(
        con,
        "prediction_runs",
        [
            {
                "run_id": "p1",
                "as_of": date(2026, 11, 7),
                "created_at": datetime(2026, 11, 8),
                "message": message,
            }
        ],
    )
    shop.insert(
        con,
        "customer_predictions",
        [
            {"run_id": "p1", "as_of": date(2026, 11, 7), "customer_id": c, "clv_12m": 100.0}
            for c in ("c1", "c2")
        ],
    )
    if check is not None:
        shop.insert(con, "clv_validation", [PASSED_CLV_CHECK | check])
    data = build_report(con, shop.AS_OF)
    assert isinstance(data.segments, list)
    assert all(s.mean_clv is None and s.clv_withheld and reason in s.clv_withheld for s in data.segments)
    web = html.unescape(render_web(data, []))
    assert "Expected spend is shown as — because " in web and reason in web
    # A dash said to be withheld is not also said to be waiting for its first prediction.
    assert "Expected spend appears once lifetime values are predicted" not in web


def test_predictions_add_clv_per_segment_and_anomalies(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    con = shop_con
    shop.insert(
        con,
        "prediction_runs",
        [
            {"run_id": "p_old", "as_of": date(2026, 10, 31), "created_at": datetime(2026, 11, 1)},
            {"run_id": "p1", "as_of": date(2026, 11, 7), "created_at": datetime(2026, 11, 8)},
            {"run_id": "p_future", "as_of": date(2026, 11, 9), "created_at": datetime(2026, 11, 10)},
        ],
    )
    clv = {"c1": 600.0, "c4": 300.0, "c5": 0.0, "c2": 50.0, "c3": 150.0}
    shop.insert(
        con,
        "customer_predictions",
        [
            {"run_id": "p1", "as_of": date(2026, 11, 7), "customer_id": c, "clv_12m": v, "churn_score": v / 1000,
             "is_anomaly": c == "c4"}
            for c, v in clv.items()
        ]
        + [{"run_id": "p_old", "as_of": date(2026, 10, 31), "customer_id": "c1", "clv_12m": 9999.0}],
    )  # fmt: skip
    shop.insert(
        con,
        "anomalies",
        [{"run_id": "p1", "as_of": date(2026, 11, 7), "customer_id": "c4", "score": -0.2,
          "reason": "bulk order: 200 in one order"}],
    )  # fmt: skip
    shop.insert(
        con,
        "churn_models",
        [{"run_id": "p1", "as_of": date(2026, 11, 7), "model": "gradient_boosting", "f1": 0.75, "roc_auc": 0.86,
          "baseline_roc_auc": 0.7}],
    )  # fmt: skip
    # The night's holdout check backed the lifetime values: they are shown as numbers.
    shop.insert(con, "clv_validation", [PASSED_CLV_CHECK])
    data = build_report(con, shop.AS_OF)
    assert isinstance(data.segments, list)
    means = {s.name: s.mean_clv for s in data.segments}
    assert means == {
        "Regulars": pytest.approx(300.0),
        "Newcomers": pytest.approx(100.0),
        "Window shoppers": 0.0,  # never bought: no lifetime value, counted as 0
    }
    p = data.predictions
    assert not isinstance(p, Unavailable)
    assert (p.run_id, p.churn_auc, p.churn_f1, p.churn_baseline_auc, p.n_anomalies) == (
        "p1",
        0.86,
        0.75,
        0.7,
        1,
    )
    assert [(a.customer_id, a.reason) for a in p.anomalies] == [("c4", "bulk order: 200 in one order")]
    web = html.unescape(render_web(data, []))
    assert "Expected spend appears once lifetime values are predicted" not in web  # they are shown
    assert "£300.00" in web or "300.00" in web


@pytest.mark.parametrize(
    ("scored", "said"), [(False, "Unusual customers were not looked for"), (True, "0 customers look unusual")]
)
def test_a_night_too_small_to_look_for_unusual_customers_does_not_say_it_found_none(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, scored: bool, said: str
) -> None:
    shop.insert(
        shop_con,
        "prediction_runs",
        [{"run_id": "p1", "as_of": date(2026, 11, 7), "created_at": datetime(2026, 11, 8)}],
    )
    shop.insert(
        shop_con,
        "customer_predictions",
        [
            {
                "run_id": "p1",
                "as_of": date(2026, 11, 7),
                "customer_id": c,
                "anomaly_score": 0.1 if scored else None,
            }
            for c in ("c1", "c2")
        ],
    )
    data = build_report(shop_con, shop.AS_OF)
    assert not isinstance(data.predictions, Unavailable) and data.predictions.anomalies_checked is scored
    web = html.unescape(render_web(data, []))
    assert said in web


def test_the_expected_spend_footnote_stays_until_lifetime_values_exist(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    web = html.unescape(render_web(build_report(shop_con, shop.AS_OF), []))
    assert "Expected spend appears once lifetime values are predicted" in web


def test_a_night_whose_lifetime_values_are_unreliable_says_so_in_the_nightly_words(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    from segmint.predict.runner import CLV_NOT_RELIABLE

    shop.insert(
        shop_con,
        "runs",
        [
            {
                "run_id": "n1",
                "flow": "nightly",
                "as_of": shop.AS_OF,
                "started_at": datetime(2026, 11, 9, 3),
                "status": "completed",
                "message": "CLV not reliable for this shop: spend has no finite mean",
            }
        ],
    )
    data = build_report(shop_con, shop.AS_OF)
    [banner] = [b for b in data.banners if b.kind == "skipped"]
    assert banner.text.startswith(CLV_NOT_RELIABLE + "spend has no finite mean")
    assert "only rough" not in banner.text


def test_an_empty_warehouse_gives_a_report_of_absent_sections(duck: duckdb.DuckDBPyConnection) -> None:
    data = build_report(duck, date(2026, 11, 8), generated_at=datetime(2026, 11, 9, 7, 0))
    assert all(
        k.current == (None if k.kind in {"ratio"} or k.key == "average_order_value" else 0) for k in data.kpis
    )
    for section in (data.segment_run, data.segments, data.migration, data.history, data.rfm, data.projection):
        assert isinstance(section, Unavailable)
        assert "No published segmentation up to 2026-11-08 yet" in section.reason
    assert isinstance(data.campaigns, Unavailable) and isinstance(data.predictions, Unavailable)
    assert data.quality.runs == [] and data.quality.loads == []


def test_a_shop_too_small_to_segment_says_why_in_the_report(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute(
        "insert into runs (run_id, flow, as_of, started_at, finished_at, status, code_version, message) "
        "values ('r1', 'nightly', date '2026-11-08', now()::timestamp, now()::timestamp, "
        "'completed', null, 'segments not computed: Only 3 customers have features for 2026-11-08, fewer than "
        "segmentation.min_customers (100); segments are computed once the shop has more.; churn skipped: x')"
    )
    data = build_report(duck, date(2026, 11, 8), generated_at=datetime(2026, 11, 9, 7, 0))
    assert isinstance(data.segments, Unavailable)
    assert data.segments.reason == (
        "No segments yet: Only 3 customers have features for 2026-11-08, fewer than "
        "segmentation.min_customers (100); segments are computed once the shop has more."
    )


def test_segments_held_back_say_so(shop_con: duckdb.DuckDBPyConnection, shop: ModuleType) -> None:
    shop_con.execute("update segment_runs set published = false, status_reason = 'one segment holds 95%'")
    data = build_report(shop_con, shop.AS_OF)
    assert isinstance(data.segments, Unavailable)
    assert data.segments.reason == (
        "No segmentation has been published up to 2026-11-08 yet: the segments computed for 2026-11-08 were "
        "held back (one segment holds 95%); see Data quality."
    )


def _rename_segment(con: duckdb.DuckDBPyConnection, segment_id: int, name: str) -> None:
    for table in ("segment_profiles", "segment_assignments"):
        con.execute(f"update {table} set segment_name = ? where segment_id = ?", [name, segment_id])


def test_a_lapsed_segment_spending_more_than_most_is_won_back_personally(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    # Segment 1 (c1, c4, c5) spends more than the base on average; segment 2 (c2, c3) less.
    _rename_segment(shop_con, 1, "Lapsed regulars")
    _rename_segment(shop_con, 2, "Lapsed customers")
    data = build_report(shop_con, shop.AS_OF)
    assert isinstance(data.segments, list)
    actions = {s.name: s.action for s in data.segments}
    high, low = actions["Lapsed regulars"], actions["Lapsed customers"]
    assert high is not None and high.segment_type == "lapsed_high_value" and "low spend" not in high.why
    assert low is not None and low.segment_type == "lapsed" and "low spend" in low.why


@pytest.mark.parametrize(
    ("targeting", "cycle", "replaced"),
    [
        # Newcomers last ordered 20 days ago on average; the shop's customers come back every 30 days.
        ("rfm_segments: At Risk, Cannot Lose Them", 30.0, False),
        ("rfm_segments: At Risk, Cannot Lose Them", 5.0, True),  # 20 days is four cycles: long ago here
        ("segments: Newcomers", 30.0, True),  # not a reminder: it stands for the segment
    ],
)
def test_a_reminder_for_lapsing_customers_is_not_the_action_of_a_recent_segment(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, targeting: str, cycle: float, replaced: bool
) -> None:
    con = shop_con
    con.execute("update customer_features set mean_days_between_orders = ? where frequency >= 2", [cycle])
    shop.insert(
        con,
        "campaigns",
        [{"campaign_id": "remind-20261105", "name": "at-risk-reminder", "as_of": date(2026, 11, 5),
          "channel": "email", "offer": "free shipping this week", "targeting": targeting,
          "window_start": date(2026, 11, 6), "window_end": date(2026, 11, 19), "n_treatment": 1, "n_holdout": 0}],
    )  # fmt: skip
    shop.insert(
        con,
        "campaign_audiences",
        [{"campaign_id": "remind-20261105", "customer_id": "c2", "segment_name": "Newcomers", "group": "treatment"}],
    )  # fmt: skip
    data = build_report(con, shop.AS_OF)
    assert isinstance(data.segments, list)
    newcomers = next(s for s in data.segments if s.name == "Newcomers")
    assert newcomers.mean_recency == pytest.approx(20.5)
    assert newcomers.action is not None
    assert (newcomers.action.title == "at-risk-reminder") is replaced
    assert newcomers.campaigns == ["at-risk-reminder (email): 1 targeted, 0 held out"]  # still listed


FRESHNESS = (
    "failed critical check: night: Orders are fresh (your newest order is 2011-12-09, 3 days before the night "
    "of 2011-12-12: the export may have stopped; pass --as-of 2011-12-09 to compute that night)"
)


@pytest.mark.parametrize(
    ("reasons", "segment_run", "kept", "says", "never"),
    [
        # Held by the freshness check on a first night: no segments were computed, none to keep.
        (
            [FRESHNESS, "no segmentation was computed tonight"],
            None,
            None,
            [
                "The night of 12 Dec 2011 was held by a data check (night: Orders are fresh",
                "no segments were computed that night",
                "there are no earlier segments to keep",
            ],
            ["did not pass the checks for reliable segments", "earlier segments stay", "earlier segments ("],
        ),
        # Held by a data check, earlier segments in force.
        (
            [FRESHNESS],
            "seg_new",
            "seg_cur",
            ["held by a data check (night: Orders are fresh", "its segments were not published",
             "the earlier segments (from 7 Nov 2026) stay in use."],
            ["did not pass the checks for reliable segments", "no earlier segments"],
        ),
        # The segment gate itself, and nothing earlier to keep.
        (
            ["weak segmentation: silhouette 0.080 is below the floor 0.10"],
            "seg_new",
            None,
            ["The segments computed on 12 Dec 2011 did not pass the checks for reliable segments",
             "there are no earlier segments to keep"],
            ["data check", "stay in use"],
        ),
    ],
)  # fmt: skip
def test_a_held_night_says_what_held_it_and_what_stays(
    reasons: list[str], segment_run: str | None, kept: str | None, says: list[str], never: list[str]
) -> None:
    from segmint.report.build import held_night_sentence

    said = held_night_sentence(
        date(2011, 12, 12), json.dumps(reasons), segment_run, kept, date(2026, 11, 7) if kept else None
    )
    for part in says:
        assert part in said
    for part in never:
        assert part not in said


def test_a_night_held_by_freshness_without_earlier_segments_is_reported_as_such(
    duck: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    shop.insert(
        duck,
        "publication_decisions",
        [{"run_id": "r1", "as_of": date(2026, 11, 7), "segment_run_id": None, "published": False,
          "reasons": json.dumps([FRESHNESS, "no segmentation was computed tonight"]), "kept_run_id": None,
          "decided_at": datetime(2026, 11, 8, 2, 3)}],
    )  # fmt: skip
    data = build_report(duck, date(2026, 11, 8))
    html_part, text = render_email(data, [])
    for page in (html.unescape(render_web(data, [])), html.unescape(html_part), text):
        flat = " ".join(page.split())
        assert "The night of 7 Nov 2026 was held by a data check (night: Orders are fresh" in flat
        assert "there are no earlier segments to keep" in flat
        assert "did not pass the checks for reliable segments" not in flat
        assert "the earlier ones stay in use" not in flat and "earlier segments stay in use" not in flat


def test_a_segment_whose_cancellations_exceed_its_orders_shows_its_negative_net_revenue(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    from segmint.report.render import MINUS, currency_prefix

    _rename_segment(shop_con, 2, "Customers who cancelled every order")
    shop_con.execute(
        "update customer_features set monetary = -6614.5 where customer_id in ('c2', 'c3') and as_of = ?",
        [date(2026, 11, 7)],
    )
    shop.store_segmentation(shop_con)  # segmentation's profiles of those features
    data = build_report(shop_con, shop.AS_OF)
    assert isinstance(data.segments, list)
    seg = next(s for s in data.segments if s.name == "Customers who cancelled every order")
    assert seg.net_revenue == pytest.approx(-13229.0)
    amount = f"{MINUS}{currency_prefix(data.currency)}13,229.00 (net of cancellations)"
    html_part, _ = render_email(data, [])
    for page in (html.unescape(render_web(data, [])), html.unescape(html_part)):
        assert amount in page
    assert seg.action is not None and seg.action.offer.startswith("To the members who cancelled")


def _built_campaign_pages(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, n_treatment: int
) -> tuple[str, str]:
    """The web report and the e-mail's HTML with one campaign built this week, held out from nobody."""
    shop.insert(
        shop_con,
        "campaigns",
        [{"campaign_id": "vip-20261105", "name": "vip", "as_of": date(2026, 11, 5), "channel": "email",
          "offer": "early access", "targeting": "segments: Regulars", "window_start": date(2026, 11, 6),
          "window_end": date(2026, 11, 19), "n_treatment": n_treatment, "n_holdout": 0}],
    )  # fmt: skip
    data = build_report(shop_con, shop.AS_OF)
    html_part, _ = render_email(data, [])
    return html.unescape(render_web(data, [])), html_part


def test_a_campaign_without_a_holdout_is_not_given_a_date_to_measure_after(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    web, html_part = _built_campaign_pages(shop_con, shop, n_treatment=3)
    assert (
        "cannot be measured: no holdout" in web and "19 Nov 2026" not in web.split('id="campaigns"')[1][:3000]
    )
    flat = " ".join(html.unescape(html_part).split())
    assert "0 held out; it cannot be measured without a holdout." in flat
    assert "measured after 19 Nov 2026" not in flat


@pytest.mark.parametrize(
    ("last_day", "week"),
    [
        (date(2026, 11, 8), "2026-W45"),  # Monday to Sunday: that week
        (date(2026, 11, 30), "2026-W48"),  # Tuesday 24 to Monday 30: six of the days are in W48, not W49
        (date(2027, 1, 3), "2026-W53"),  # across the new year, as ISO counts it
    ],
)
def test_the_week_is_named_by_the_iso_week_most_of_its_days_fall_in(last_day: date, week: str) -> None:
    from segmint.report.model import week_ending

    assert week_ending(last_day).iso_week == week


def test_a_campaign_that_matched_nobody_is_not_given_a_date_to_measure_after(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType
) -> None:
    web, html_part = _built_campaign_pages(shop_con, shop, n_treatment=0)
    campaigns = web.split('id="campaigns"')[1][:3000]
    assert "nothing to measure: nobody matched" in campaigns and "19 Nov 2026" not in campaigns
    flat = " ".join(html.unescape(html_part).split())
    assert "nobody matched it, so there is nothing to measure." in flat
    assert "measured after 19 Nov 2026" not in flat
