"""A campaign on the next order: `days_to_next_order <= 7` picks who is due, and its message can say when."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl

from segmint.campaigns.build import build_campaigns
from segmint.campaigns.playbook import Playbook
from segmint.config import Settings

from .conftest import AS_OF, N_REGULAR

Shop = tuple[duckdb.DuckDBPyConnection, Settings]
DUE = Playbook.model_validate(
    {
        "campaigns": [
            {
                "name": "due-to-reorder",
                "rule": "days_to_next_order <= 7 and p_order_30d >= 0.3",
                "offer": "free shipping",
                "message": "Order by {{ next_order_date }} for {{ offer }}",
            }
        ]
    }
)


def _audience(paths: list[Path | None]) -> pl.DataFrame:
    return pl.concat([pl.read_csv(p, infer_schema=False) for p in paths if p is not None])


def test_the_rule_picks_who_is_due_within_a_week(shop: Shop) -> None:
    con, settings = shop
    # Every tenth regular is due in i % 14 days; the rest in a month; c150 is due but unlikely to order.
    con.execute(
        """
        update customer_predictions set
            days_to_next_order = case when cast(substr(customer_id, 2) as int) % 10 = 0
                then cast(substr(customer_id, 2) as int) % 14 else 30 end,
            p_order_30d = case when customer_id = 'c150' then 0.1 else 0.6 end
        """
    )
    con.execute("update customer_predictions set next_order_date = as_of + days_to_next_order")
    expected = sorted(
        f"c{i:03d}" for i in range(100, 100 + N_REGULAR) if i % 10 == 0 and i % 14 <= 7 and i != 150
    )
    [build] = build_campaigns(con, settings, AS_OF, playbook=DUE)
    audience = _audience([build.export_path, build.holdout_path]).sort("customer_id")
    assert audience["customer_id"].to_list() == expected
    first = audience.row(0, named=True)
    days = int(first["customer_id"][1:]) % 14
    assert first["message"] == f"Order by {AS_OF + timedelta(days=days)} for free shipping"
    # The next order comes from the lifetime-value purchase model: unchecked, the build says so.
    assert any(
        "days_to_next_order" in w and "lifetime" in w
        for w in build_campaigns(con, settings, AS_OF, playbook=DUE).warnings
    )


def test_no_next_order_predicted_means_not_built_with_the_reason(shop: Shop) -> None:
    con, settings = shop
    builds = build_campaigns(con, settings, AS_OF, playbook=DUE)
    assert builds == [] or all(b.name != "due-to-reorder" for b in builds)
    [warning] = [w for w in builds.warnings if "due-to-reorder" in w]
    assert "days_to_next_order" in warning and "no customer has a value for" in warning
