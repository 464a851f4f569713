"""A campaign targeting by lifetime value warns when the night's lifetime values are not to be trusted."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from segmint.campaigns.build import build_campaigns
from segmint.campaigns.playbook import Playbook
from segmint.config import Settings
from segmint.predict.runner import CLV_NOT_RELIABLE, clv_unreliable

from .conftest import AS_OF

Shop = tuple[duckdb.DuckDBPyConnection, Settings]
BIG_SPENDERS = Playbook.model_validate({"campaigns": [{"name": "big", "rule": "clv_12m > 50"}]})
CHECK = {
    "holdout_days": 90,
    "n_customers": 400,
    "actual_purchases": 100.0,
    "predicted_purchases": 110.0,
    "purchases_ratio": 1.1,
    "purchases_mae": 0.4,
    "baseline_predicted_purchases": 100.0,
    "baseline_mae": 0.5,
    "actual_revenue": 1000.0,
}


def _check(con: duckdb.DuckDBPyConnection, **values: Any) -> None:
    row = CHECK | {"run_id": "pred1", "as_of": AS_OF, "calibration_end": AS_OF} | values
    con.execute(
        f"insert into clv_validation ({', '.join(row)}) values ({', '.join('?' for _ in row)})",
        list(row.values()),
    )


@pytest.mark.parametrize(
    ("check", "message", "said"),
    [
        ({"purchases_ratio": 3.0}, None, "failed its holdout check"),
        ({"purchases_mae": 0.9}, None, "failed its holdout check"),
        # The Pareto/NBD fallback's own check failed: its message is stored with the row.
        ({"model": "pareto_nbd", "message": "dropout at its bound"}, None, "failed its holdout check"),
        (None, None, "has not been checked"),
        ({}, f"{CLV_NOT_RELIABLE}spend has no finite mean", "not reliable for this shop"),
        ({}, "CLV not reliable for this shop: spend has no finite mean", "not reliable for this shop"),
    ],
)
def test_a_clv_rule_warns_when_the_report_withholds_lifetime_values(
    shop: Shop, check: dict[str, Any] | None, message: str | None, said: str
) -> None:
    con, settings = shop
    if check is not None:
        _check(con, **check)
    if message is not None:
        con.execute("update prediction_runs set message = ? where run_id = 'pred1'", [message])
    reason = clv_unreliable(con, "pred1")  # what the report shows beside its dashes
    assert reason is not None and said in reason
    builds = build_campaigns(con, settings, AS_OF, playbook=BIG_SPENDERS)
    [warning] = [w for w in builds.warnings if "clv_12m" in w]
    assert warning.startswith("campaign 'big' uses clv_12m, but ") and reason in warning


def test_a_rule_on_p_alive_rests_on_the_same_model(shop: Shop) -> None:
    con, settings = shop
    _check(con, purchases_ratio=3.0)
    con.execute("update customer_predictions set p_alive = 0.8")
    playbook = Playbook.model_validate({"campaigns": [{"name": "alive", "rule": "p_alive > 0.5"}]})
    [warning] = build_campaigns(con, settings, AS_OF, playbook=playbook).warnings
    assert warning.startswith("campaign 'alive' uses p_alive, but the lifetime-value model failed")


def test_a_clv_rule_on_checked_lifetime_values_does_not_warn(shop: Shop) -> None:
    con, settings = shop
    _check(con)
    builds = build_campaigns(con, settings, AS_OF, playbook=BIG_SPENDERS)
    assert not [w for w in builds.warnings if "clv_12m" in w]
