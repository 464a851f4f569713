"""Validation in chunks gives the result GX gives on the whole frame, duplicates across chunks included."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from segmint.config import QualitySettings
from segmint.quality.engine import Engine
from segmint.quality.frames import INDEX_COLUMNS
from segmint.quality.suites import Scope

from .test_expectations import CASES, PARAMS, SCOPES, good, scopes_of

# 20 rows in chunks of 8: three chunks, the last one short (duplicates chunks apart: their own test).
CHUNK = 8


def run(
    gx: Engine,
    table: str,
    scope: Scope,
    frame: pd.DataFrame | pa.Table,
    chunk_rows: int | None,
    params: dict[str, Any] = PARAMS,
) -> dict[str, Any]:
    results = gx.validate(
        table,
        scope,
        frame,
        params,
        batch="chunks",
        run_id="chunks",
        index_columns=INDEX_COLUMNS[table],
        sample_rows=4,
        chunk_rows=chunk_rows,
    )
    return {r.key: r for r in results}


def facts(result: Any) -> tuple[Any, ...]:
    observed = result.observed
    return (
        result.success,
        result.unexpected_count,
        result.element_count,
        observed.get("missing_count"),
        observed.get("observed_value"),
        bool(observed.get("error")),
        result.sample,
    )


def test_chunk_rows_default_is_a_million() -> None:
    assert QualitySettings().chunk_rows == 1_000_000


def _case(table: str, key: str) -> Any:
    """Every check runs in chunks in the slow suite; the default suite keeps the ones combined across
    chunks (uniqueness, tolerances, medians) and one row check per table."""
    across = ("unique", "quarantine_share", "guest_share", "median", "count")
    first_of_table = key == min(k for t, k in CASES if t == table and k != "required_columns")
    fast = any(word in key for word in across) or first_of_table
    return pytest.param(table, key, marks=() if fast else pytest.mark.slow)


@pytest.mark.parametrize(("table", "key"), [_case(*k) for k in sorted(CASES) if k[1] != "required_columns"])
def test_chunked_results_equal_whole_frame_results(gx: Engine, table: str, key: str) -> None:
    for scope in scopes_of(table, key):
        frame = CASES[(table, key)](good(table, scope))
        if len(frame) <= CHUNK:
            continue  # the empty-table case is never chunked
        whole = run(gx, table, scope, frame, None)
        chunked = run(gx, table, scope, frame, CHUNK)
        assert chunked.keys() == whole.keys()
        for k in whole:
            assert facts(chunked[k]) == facts(whole[k]), (scope, k)
        assert not chunked[key].success


@pytest.mark.parametrize("table", list(SCOPES))
def test_arrow_rows_in_chunks_pass_like_the_frame(gx: Engine, table: str) -> None:
    for scope in ("batch", "table"):
        if not SCOPES[table].for_scope(scope):
            continue
        frame = good(table, scope)
        results = run(gx, table, scope, pa.Table.from_pandas(frame, preserve_index=False), CHUNK)
        assert {k for k, r in results.items() if not r.success} == set(), scope


def test_a_duplicate_chunks_apart_fails_uniqueness_and_names_both_rows(gx: Engine) -> None:
    frame = good("customers", "table")
    frame.loc[19, "customer_id"] = frame.loc[0, "customer_id"]  # first and last chunk
    results = run(gx, "customers", "table", frame, 5)
    unique = results["customer_id_unique"]
    assert not unique.success
    assert (unique.unexpected_count, unique.element_count) == (2, 20)
    assert [row["customer_id"] for row in unique.sample] == ["C001", "C001"]
    assert {k for k, r in results.items() if not r.success} == {"customer_id_unique"}


def test_tolerance_is_judged_on_the_whole_table_not_per_chunk(gx: Engine) -> None:
    frame = good("order_lines", "table")
    frame["order_id"] = frame["order_id"].astype("object")
    frame.loc[[1, 12], "order_id"] = None  # 2 of 20 (10 %), each chunk alone 1 of 8 (12.5 %)
    lenient = {**PARAMS, "mostly": 0.9}
    whole = run(gx, "order_lines", "table", frame, None, lenient)["order_id_not_null"]
    chunked = run(gx, "order_lines", "table", frame, CHUNK, lenient)["order_id_not_null"]
    assert whole.success and chunked.success
    assert (chunked.unexpected_count, chunked.element_count) == (2, 20)
    strict = run(gx, "order_lines", "table", frame, CHUNK)["order_id_not_null"]
    assert not strict.success


def test_a_chunked_validation_is_stored_once_with_the_combined_result(gx: Engine) -> None:
    from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

    frame = good("events", "batch")
    frame.loc[[0, 10, 19], "price"] = -1.0
    results = run(gx, "events", "batch", frame, 4)
    assert results["price_not_negative"].unexpected_count == 3
    store: Any = gx.context.validation_results_store
    keys = [
        k
        for k in store.list_keys()
        if isinstance(k, ValidationResultIdentifier)
        and k.expectation_suite_identifier.name == "events.batch"
        and k.run_id.run_name == "chunks chunks"
    ]
    stored = store.get(max(keys, key=lambda k: k.run_id.run_time))
    assert stored.meta["segmint_chunks"] == {"rows": 20, "chunk_rows": 4}
    (price,) = [r for r in stored.results if r.expectation_config.meta["key"] == "price_not_negative"]
    assert price.result["unexpected_count"] == 3 and price.result["element_count"] == 20
    assert stored.success is False
    assert stored.statistics["unsuccessful_expectations"] == 1


def test_a_missing_key_column_fails_its_checks_in_chunks_too(gx: Engine) -> None:
    frame = good("customers", "batch").drop(columns=["customer_id"])
    results = run(gx, "customers", "batch", frame, CHUNK)
    assert not results["required_columns"].success
    unique = results["customer_id_unique"]
    assert not unique.success and unique.observed.get("error")
