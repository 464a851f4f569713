"""A hand-made shop for campaign tests: customers with and without consent, features, predictions, segments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from segmint.config import Settings
from segmint.warehouse import connect

AS_OF = date(2024, 3, 31)
# customer_id -> (email, marketing_consent, rfm_segment, segment_name, is_anomaly, frequency)
SPECIAL = {
    "c001": ("c001@example.com", True, "Champions", "VIP", False, 9),
    "c002": ("c002@example.com", False, "Champions", "VIP", False, 8),  # said no to marketing
    "c003": ("c003@example.com", None, "Champions", "VIP", False, 7),  # consent unknown, but a column exists
    "c004": ("c004@example.com", True, "Champions", "VIP", True, 90),  # anomaly (bulk buyer)
    "c005": (None, True, "Champions", "VIP", False, 6),  # no address
}
N_REGULAR = 400  # c100.. c499: 'At Risk', segment 'Regulars', consent given


def customers() -> dict[str, tuple[str | None, bool | None, str, str, bool, int]]:
    """Every hand-made customer."""
    rows = dict(SPECIAL)
    for i in range(100, 100 + N_REGULAR):
        rows[f"c{i:03d}"] = (f"c{i:03d}@example.com", True, "At Risk", "Regulars", False, 2)
    return rows


def fill(con: duckdb.DuckDBPyConnection, *, consent_column: bool = True) -> None:
    """Customers, features, a published segment run and a prediction run for AS_OF."""
    rows = [(cid, *values) for cid, values in customers().items()]
    people = pl.DataFrame(
        rows,
        schema=["customer_id", "email", "consent", "rfm", "segment", "anomaly", "frequency"],
        orient="row",
    )
    con.register("people", people)
    con.execute("begin transaction")
    con.execute(
        f"""
        insert into customers by name select customer_id, email, 'DE' as country,
            timestamp '2023-01-01' as first_seen_at, {"consent" if consent_column else "null"} as marketing_consent,
            'customers.csv' as source_file
        from people
        """
    )
    con.execute(
        """
        insert into customer_features by name select
            cast(? as date) as as_of, customer_id, false as is_prospect, 30 as recency_days,
            frequency, 100 * frequency as monetary, 0 as distinct_products, 0 as distinct_categories,
            0 as sessions_30d, 0 as product_views_30d, 0 as add_to_carts_30d, 0 as sessions_90d,
            0 as product_views_90d, 0 as add_to_carts_90d, rfm as rfm_segment, frequency as orders_total,
            0 as cancelled_orders, 0 as gross_revenue, 0 as returned_value, 0 as orders_90d,
            0 as monetary_90d, current_localtimestamp() as computed_at
        from people
        """,
        [AS_OF],
    )
    con.execute(
        "insert into segment_assignments by name select 'seg1' as run_id, customer_id, "
        "case when segment = 'VIP' then 0 else 1 end as segment_id, segment as segment_name, "
        "'cluster' as assigned_by from people"
    )
    con.execute(
        """
        insert into customer_predictions by name select 'pred1' as run_id, cast(? as date) as as_of, customer_id,
            segment as segment_name, 10.0 * frequency as clv_12m,
            case when rfm = 'At Risk' then 0.9 else 0.1 end as churn_score, anomaly as is_anomaly,
            case when anomaly then 'high frequency' end as anomaly_reason
        from people
        """,
        [AS_OF],
    )
    con.unregister("people")
    con.execute(
        """
        insert into segment_runs (run_id, as_of, created_at, algorithm, mode, k, n_customers, features, settings,
            published, status_reason)
        values ('seg1', ?, current_localtimestamp(), 'kmeans', 'recluster', 2, ?, '[]', '{}', true, 'ok')
        """,
        [AS_OF, len(rows)],
    )
    con.execute(
        "insert into prediction_runs values ('pred1', ?, 'seg1', current_localtimestamp(), ?, 1, 0, null)",
        [AS_OF, len(rows)],
    )
    con.execute(
        "insert into basket_recommendations values ('pred1', 'c100', 1, 'P2', 'Teapot', 0.5), "
        "('pred1', 'c100', 2, 'P3', 'Cups', 0.25)"
    )
    # A guest order: it belongs to nobody and must never reach an audience.
    con.execute(
        "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, source_file) "
        "values ('g1', null, '2024-03-01', false, 20, 'orders.csv')"
    )
    con.execute("commit")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Settings]]:
    """A filled warehouse file and settings whose exports go under tmp_path."""
    settings = Settings(config_path=tmp_path / "segmint.toml")
    settings.warehouse.path = tmp_path / "warehouse.duckdb"
    settings.campaigns.export_dir = tmp_path / "exports"
    con = connect(settings.warehouse.path)
    fill(con)
    yield con, settings
    con.close()
