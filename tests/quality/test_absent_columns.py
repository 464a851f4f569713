"""An optional column that disappears from a source is a warning on that file, in the run summary, the
night checks and the alert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from tests.quality.conftest import ingest_orders

from segmint.config import Settings
from segmint.quality.alerts import build_alert, render
from segmint.quality.night import night_checks
from segmint.quality.results import CheckResult
from segmint.runs import start_run

WITH_NAMES = "order_id,line_no,customer_id,ordered_at,product_id,product_name,quantity,unit_price,currency"
WITHOUT = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def write(path: Path, header: str, rows: int, first: int, named: bool) -> Path:
    lines = [header]
    for i in range(first, first + rows):
        name = f"Item {i}," if named else ""
        lines.append(f"O{i},1,C{i % 4},2026-11-20 10:00:00,P{i % 3},{name}1,2.50,EUR")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_product_names_gone_from_the_export_warn_on_that_file(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    folder = settings.base_dir / "orders"
    write(folder / "a.csv", WITH_NAMES, 5, 1, named=True)
    first = ingest_orders(con, settings, start_run(con, "ingest", None))
    assert [f.warnings for f in first if f.source == "orders"] == [[]]
    write(folder / "b.csv", WITHOUT, 281, 100, named=False)
    run_id = start_run(con, "nightly", None)
    files = ingest_orders(con, settings, run_id)
    (b,) = [f for f in files if f.path.name == "b.csv"]
    assert b.status == "loaded"
    assert b.warnings == ["b.csv: column product_name absent: 281 lines without names"]
    assert b.absent_columns == {"product_name": 281}
    results = night_checks(con, settings, run_id, files)
    (check,) = [r for r in results if r.key == "optional_columns_kept" and r.suite == "orders"]
    assert (check.success, check.severity) == (False, "warning")
    assert check.observed["summary"] == "b.csv: column product_name absent: 281 lines without names"
    # A night that alerts for a critical problem lists the warning too.
    problem = CheckResult("orders", "source orders (tonight)", "x", "Something critical", "critical", False)
    alert = build_alert(con, run_id, None, results=[*results, problem])
    assert alert is not None
    assert any("column product_name absent: 281 lines without names" in w for w in alert.warnings)
    assert "column product_name absent: 281 lines without names" in render(alert).text


def test_a_source_that_never_had_the_column_does_not_warn(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    folder = settings.base_dir / "orders"
    write(folder / "a.csv", WITHOUT, 5, 1, named=False)
    ingest_orders(con, settings, start_run(con, "ingest", None))
    write(folder / "b.csv", WITHOUT, 5, 10, named=False)
    files = ingest_orders(con, settings, start_run(con, "ingest", None))
    assert all(not f.warnings and not f.absent_columns for f in files)


@pytest.mark.slow  # two `segmint ingest` processes, each starting Great Expectations
def test_segmint_ingest_prints_the_warning(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'orders/*.csv'\n",
        encoding="utf-8",
    )
    command = [
        sys.executable,
        "-c",
        "from segmint.cli import main; main()",
        "ingest",
        "--config",
        str(config),
    ]
    write(folder / "a.csv", WITH_NAMES, 5, 1, named=True)
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0
    write(folder / "b.csv", WITHOUT, 3, 100, named=False)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: b.csv: column product_name absent: 3 lines without names" in done.stdout
