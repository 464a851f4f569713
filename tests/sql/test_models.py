"""Conventions of the feature models: headers, dependency order, grain, and every model tested."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.sql.conftest import add_customer, add_events, add_order

from segmint.features import FEATURE_MODELS, Model, _drop_temporaries, model_references, run_model
from segmint.resources import resource_dir

WAREHOUSE = {"orders", "order_lines", "customers", "events", "feedback", "rfm_segments"}
AS_OF = date(2024, 1, 31)
TESTS = Path(__file__).parent


def header(model: Model) -> str:
    lines = model.sql().splitlines()
    comment = []
    for line in lines:
        if not line.startswith("--"):
            break
        comment.append(line)
    return "\n".join(comment)


@pytest.mark.parametrize("model", FEATURE_MODELS, ids=lambda m: m.name)
def test_each_model_opens_with_purpose_grain_and_key(model: Model) -> None:
    text = header(model)
    assert text, f"{model.path} must open with a comment"
    assert "Grain:" in text and "Key:" in text, f"{model.path}: say the grain and the key"
    assert model.sql().rstrip().splitlines()[-1].startswith("select * from final") or (
        "select * from final" in model.sql()
    )


def test_models_read_only_the_warehouse_and_earlier_models() -> None:
    seen: set[str] = set()
    for model in FEATURE_MODELS:
        unknown = model_references(model) - WAREHOUSE - seen
        assert not unknown, f"{model.name} reads {unknown} before they are built"
        seen.add(model.name)


def test_every_model_file_runs_and_is_tested() -> None:
    files = {
        p.relative_to(resource_dir("sql")).as_posix()
        for layer in ("staging", "intermediate")
        for p in (resource_dir("sql") / layer).glob("*.sql")
    }
    assert files <= {m.path for m in FEATURE_MODELS}
    tests = "\n".join(p.read_text() for p in TESTS.glob("test_*.py"))
    for model in FEATURE_MODELS:
        if model.name in {"customer_features", "rfm_segments"}:
            continue  # tested through build_features in test_customer_features.py and test_rfm.py
        assert f'"{model.name}"' in tests, f"no test names {model.name}"


def _key(model: Model) -> list[str]:
    match = re.search(r"Key: \(?([a-z_, ]+)\)?", header(model))
    assert match, model.path
    return [c.strip() for c in match.group(1).split(",")]


def _seed(con: duckdb.DuckDBPyConnection) -> None:
    add_customer(con, "A", "2023-12-01 00:00:00")
    add_customer(con, "B", "2024-02-10 00:00:00")  # after as_of
    add_order(con, "o1", "A", "2024-01-01 10:00:00", [(2, 10.0, "P1", "tea"), (-1, 10.0, "P1", "tea")])
    add_order(con, "o2", "A", "2024-01-11 10:00:00", [(1, 30.0, "P2", "cups")], refunded=5.0)
    add_order(con, "c1", "A", "2024-01-12 10:00:00", [(-1, 30.0, "P2", "cups")], cancellation=True)
    add_order(con, "g1", None, "2024-01-12 10:00:00", [(1, 30.0, "P2", "cups")])
    add_order(con, "o3", "C", "2024-02-12 10:00:00", [(1, 30.0, "P2", "cups")])  # after as_of
    add_events(con, "A", "s1", "2024-01-30 10:00:00", ["product_view", "add_to_cart"])
    add_events(con, "D", "s2", "2024-01-20 10:00:00", ["product_view", "add_to_cart", "purchase"])
    add_events(con, None, "s3", "2024-01-20 10:00:00", ["product_view"])


def _materialize(con: duckdb.DuckDBPyConnection, upto: str) -> list[dict[str, Any]]:
    for model in FEATURE_MODELS:
        run_model(con, model, AS_OF)
        if model.name == upto:
            cursor = con.execute(f"select * from {upto}")
            names = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchall()
            _drop_temporaries(con)
            return [dict(zip(names, r, strict=True)) for r in rows]
    raise AssertionError(upto)


@pytest.mark.parametrize("model", FEATURE_MODELS, ids=lambda m: m.name)
def test_each_model_is_unique_on_its_key(duck: duckdb.DuckDBPyConnection, model: Model) -> None:
    _seed(duck)
    rows = _materialize(duck, model.name)
    key = _key(model)
    keys = [tuple(row[c] for c in key) for row in rows]
    assert len(keys) == len(set(keys)), f"{model.name} repeats its key {key}"


def test_staging_keeps_only_what_was_known_at_the_end_of_the_day(duck: duckdb.DuckDBPyConnection) -> None:
    _seed(duck)
    orders = _materialize(duck, "stg_warehouse__orders")
    assert sorted(r["order_id"] for r in orders) == ["c1", "g1", "o1", "o2"]
    lines = _materialize(duck, "stg_warehouse__order_lines")
    assert len(lines) == 5
    events = _materialize(duck, "stg_warehouse__events")
    assert {r["customer_id"] for r in events} == {"A", "D"}
    customers = _materialize(duck, "stg_warehouse__customers")
    assert [r["customer_id"] for r in customers] == ["A"]


def test_int_orders_valued_splits_gross_returned_and_net(duck: duckdb.DuckDBPyConnection) -> None:
    _seed(duck)
    rows = {r["order_id"]: r for r in _materialize(duck, "int_orders_valued")}
    assert set(rows) == {"o1", "o2", "c1"}  # the guest order is nobody's
    got = {
        k: (float(v["gross_value"]), float(v["returned_value"]), float(v["net_value"]), v["has_return"])
        for k, v in rows.items()
    }
    assert got == {
        "o1": (20.0, 10.0, 10.0, True),
        "o2": (30.0, 5.0, 25.0, True),
        "c1": (0.0, 30.0, -30.0, True),
    }


def test_int_customer_orders_aggregated(duck: duckdb.DuckDBPyConnection) -> None:
    _seed(duck)
    (row,) = _materialize(duck, "int_customer_orders_aggregated")
    assert {
        k: row[k] for k in ("customer_id", "frequency", "orders_total", "recency_days", "tenure_days")
    } == {
        "customer_id": "A",
        "frequency": 2,
        "orders_total": 3,
        "recency_days": 20,
        "tenure_days": 30,
    }
    assert float(row["monetary"]) == 5.0


def test_int_sessions_summarised_and_activity(duck: duckdb.DuckDBPyConnection) -> None:
    _seed(duck)
    sessions = _materialize(duck, "int_sessions_summarised")
    got = {
        (r["customer_id"], r["session_key"]): (r["product_views"], r["add_to_carts"], r["has_purchase"])
        for r in sessions
    }
    assert got == {("A", "s1"): (1, 1, False), ("D", "s2"): (1, 1, True)}
    activity = {r["customer_id"]: r for r in _materialize(duck, "int_customer_activity_windowed")}
    assert activity["A"]["cart_abandonment_rate_30d"] == 1.0
    assert activity["D"]["view_to_purchase_rate_30d"] == 1.0
    assert activity["D"]["days_since_last_visit"] == 11


def test_int_customers_unioned_and_rfm_scored(duck: duckdb.DuckDBPyConnection) -> None:
    _seed(duck)
    customers = _materialize(duck, "int_customers_unioned")
    assert sorted(r["customer_id"] for r in customers) == ["A", "D"]
    scored = _materialize(duck, "int_customer_rfm_scored")
    assert [(r["customer_id"], r["r_score"], r["fm_score"]) for r in scored] == [("A", 1, 1)]
