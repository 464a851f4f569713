"""Real shop exports pass their batch suites: only genuine oddities are reported, as warnings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from segmint.config import Settings, SourceKind, SourceSettings
from segmint.ingest import load_file
from segmint.quality.audit import BatchAudit
from segmint.runs import start_run

REAL = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize(
    ("kind", "preset", "file", "warnings"),
    [
        pytest.param(
            "orders",
            "online_retail",
            "real/online_retail/online_retail.csv.gz",
            # The two 74,215- and 80,995-unit orders and their cancellations are real outliers.
            {"revenue_plausible", "quantity_plausible"},
            marks=pytest.mark.slow,
        ),
        ("orders", "online_retail", "real/online_retail_ii/online_retail_ii_head5000.csv.gz", set()),
        ("orders", "cdnow", "real/cdnow/CDNOW_master.txt", set()),
        # An events-only export: its visitors are in no customers file, which is worth knowing.
        ("events", "rees46", "real/rees46_sample/2019-Oct-head1000.csv", {"customer_known"}),
        ("orders", "shopify_orders", "shopify/orders_export.csv", set()),
    ],
)
def test_a_real_export_is_published_with_only_its_real_oddities_reported(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    kind: SourceKind,
    preset: str,
    file: str,
    warnings: set[str],
) -> None:
    source = SourceSettings(name="real", kind=kind, path="x", preset=preset)
    audit = BatchAudit(settings)
    result = load_file(con, source, REAL / file, start_run(con, "nightly", None), audit=audit)
    assert result.status == "loaded", result.message
    assert {r.key for r in audit.results if not r.success} == warnings
    assert all(r.severity == "warning" for r in audit.results if not r.success)
