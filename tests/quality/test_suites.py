"""The suite files: every one is used, every expectation has a key, title and severity, mistakes are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segmint.errors import ConfigError
from segmint.quality.engine import Engine
from segmint.quality.frames import BATCH_TABLES
from segmint.quality.suites import NIGHT_CHECKS, SEVERITIES, TABLES, load_suites, read_suite, suite_files
from segmint.quality.validate import WAREHOUSE_TABLES
from segmint.schema import EVENT_TYPES


def test_every_suite_file_in_expectations_is_used(gx: Engine) -> None:
    files = {path.stem for path in suite_files()}
    assert files == set(TABLES)
    # Used: batches validate these tables as files arrive; the warehouse and tonight's features these.
    validated = (
        {t for tables in BATCH_TABLES.values() for t in tables}
        | set(WAREHOUSE_TABLES)
        | {"customer_features"}
    )
    assert validated == files
    registered = {s.name for s in gx.context.suites.all()}
    for table, suite in load_suites().items():
        for scope in ("batch", "table"):
            assert (suite.gx_name(scope) in registered) == bool(suite.for_scope(scope)), (table, scope)


def test_every_expectation_has_a_key_title_and_severity() -> None:
    for table, suite in load_suites().items():
        assert suite.expectations, table
        for e in suite.expectations:
            assert e.severity in SEVERITIES and e.title and e.key, (table, e)
        for check in suite.night_checks:
            assert check.check in NIGHT_CHECKS and check.severity in SEVERITIES, (table, check)
    # The checks the issue asks for are there, critical where they block.
    orders, lines, events = (load_suites()[t] for t in ("orders", "order_lines", "events"))
    assert orders.expectation("guest_share").severity == "critical"
    assert lines.expectation("unit_price_not_negative").severity == "critical"
    assert lines.expectation("quarantine_share").scopes == ("batch",)
    assert {c.check for c in events.night_checks} >= {"volume_low", "volume_high"}


def test_the_events_suite_knows_the_event_types_ingest_accepts() -> None:
    # The suite keeps its own literal list (analysts edit it); it must not drift from the contract.
    known = load_suites()["events"].expectation("event_type_known")
    assert tuple(known.kwargs["value_set"]) == EVENT_TYPES
    assert ", ".join(EVENT_TYPES) in known.title


def write_suite(tmp_path: Path, data: object, name: str = "orders") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def entry(**meta: object) -> dict[str, object]:
    # Severity in GX's own field, as the suite files write it; the rest in meta.
    severity = meta.pop("severity", None)
    found: dict[str, object] = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "x"},
        "meta": meta,
    }
    if severity is not None:
        found["severity"] = severity
    return found


def test_severity_lives_in_gx_own_field_and_an_older_meta_severity_is_still_read(tmp_path: Path) -> None:
    legacy = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "y"}}
    legacy["meta"] = {"key": "b", "title": "B", "severity": "warning"}
    suite = read_suite(
        write_suite(
            tmp_path,
            {"name": "orders", "expectations": [entry(key="a", title="A", severity="warning"), legacy]},
        )
    )
    for expect in suite.expectations:
        assert expect.severity == "warning"
        assert expect.config["severity"] == "warning" and "severity" not in expect.config["meta"]
    assert suite.gx_json("batch")["expectations"][1] == {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "y"},
        "severity": "warning",
        "meta": {"key": "b", "title": "B"},
    }


def test_suite_files_keep_severity_out_of_meta() -> None:
    for path in suite_files():
        for e in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            assert e["severity"] in SEVERITIES and "severity" not in e["meta"], (path.name, e["meta"]["key"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "other", "expectations": []}, "must be the file's name 'orders'"),
        (
            {"name": "orders", "expectations": [entry(key="a", title="A")]},
            "expectation 1 (a): severity must be 'critical' or 'warning', not None",
        ),
        (
            {"name": "orders", "expectations": [entry(key="a", title="A", severity="fatal")]},
            "severity must be 'critical' or 'warning', not 'fatal'",
        ),
        (
            {
                "name": "orders",
                "expectations": [
                    {
                        **entry(key="a", title="A", severity="warning"),
                        "meta": {"key": "a", "title": "A", "severity": "critical"},
                    }
                ],
            },
            "severity 'warning' and meta.severity 'critical' disagree; keep only 'severity'",
        ),
        (
            {"name": "orders", "expectations": [entry(title="A", severity="critical")]},
            "expectation 1: meta needs a 'key' and a 'title'",
        ),
        (
            {
                "name": "orders",
                "expectations": [entry(key="a", title="A", severity="warning")] * 2,
            },
            "keys must be unique in a suite; repeated: a",
        ),
        (
            {"name": "orders", "expectations": [entry(key="a", title="A", severity="warning", scope="file")]},
            "scope must be 'batch' or 'table', not 'file'",
        ),
        (
            {
                "name": "orders",
                "expectations": [],
                "meta": {"night_checks": [{"check": "moon", "severity": "critical"}]},
            },
            "night check 1: check must be one of",
        ),
    ],
)
def test_a_broken_suite_file_is_named_in_one_sentence(tmp_path: Path, data: object, message: str) -> None:
    path = write_suite(tmp_path, data)
    with pytest.raises(ConfigError, match="fix the suite file") as error:
        read_suite(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_a_suite_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"orders.json: not valid JSON"):
        read_suite(path)
