"""The feature contract against what the warehouse, the validation suite and the report actually have."""

from __future__ import annotations

import json
from pathlib import Path

from segmint import contract
from segmint.features import BEHAVIOUR_FEATURES, FEEDBACK_FEATURES, WEB_FEATURES
from segmint.report.actions import feature_label, feature_unit
from segmint.warehouse import connect, table_columns

SUITE = Path(__file__).resolve().parents[1] / "expectations" / "customer_features.json"


def _expectations() -> dict[str, dict[str, object]]:
    suite = json.loads(SUITE.read_text())
    return {str(e["meta"]["key"]): e for e in suite["expectations"]}


def test_every_contract_feature_is_a_customer_features_column() -> None:
    with connect(":memory:") as con:
        columns = table_columns(con, "customer_features")
    assert {f.name for f in contract.FEATURES} <= columns
    assert len({f.name for f in contract.FEATURES}) == len(contract.FEATURES)


def test_the_feature_lists_come_from_the_contract() -> None:
    assert set(BEHAVIOUR_FEATURES) | set(FEEDBACK_FEATURES) == set(contract.BY_NAME)
    assert {f.name for f in contract.FEATURES if f.source == "clickstream"} == WEB_FEATURES
    for feature in contract.FEATURES:
        assert feature_label(feature.name) == feature.label and "_" not in feature.label
        assert feature_unit(feature.name) == feature.unit


def test_the_suite_requires_and_checks_what_the_contract_says() -> None:
    expectations = _expectations()
    required = set(expectations["required_columns"]["kwargs"]["column_set"])  # type: ignore[index]
    # Feedback features exist only once a feedback source does; orders and browsing features always.
    assert set(contract.names("orders", "clickstream")) <= required
    for feature in contract.FEATURES:
        for key in feature.checked_by:
            assert key in expectations, (feature.name, key)
            kwargs = expectations[key]["kwargs"]
            assert isinstance(kwargs, dict)
            assert feature.name in (kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")), key
    # A rate the suite knows about is checked to lie in [0, 1].
    for feature in contract.FEATURES:
        if feature.unit == "ratio" and feature.checked_by:
            kwargs = expectations[feature.checked_by[0]]["kwargs"]
            assert isinstance(kwargs, dict) and (kwargs["min_value"], kwargs["max_value"]) == (0, 1)
