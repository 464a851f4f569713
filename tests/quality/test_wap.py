"""Write-audit-publish: a batch failing a critical check is held with its run id, kept row for row,
replayable by `segmint replay`; batches that pass are published; row accounting holds throughout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from segmint.config import Settings
from segmint.errors import SegmintError
from segmint.ingest import FileResult, load_file
from segmint.quality.audit import BatchAudit
from segmint.quality.replay import replay
from segmint.quality.results import stored
from segmint.runs import start_run

Accounting = Callable[[duckdb.DuckDBPyConnection], None]
HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def orders_csv(path: Path, day: str, n: int = 40, negative: int = 0, first: int = 1) -> Path:
    """n one-line orders on `day`; the first `negative` of them with a negative unit price."""
    lines = [HEADER]
    for i in range(first, first + n):
        price = -4.5 if i - first < negative else 4.5 + i % 7
        lines.append(f"O{i},1,C{i % 9},{day} {10 + i % 12:02d}:{i % 60:02d}:00,P{i % 5},1,{price},EUR")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path) -> tuple[str, FileResult]:
    run_id = start_run(con, "nightly", None)
    source = next(s for s in settings.sources if s.kind == "orders")
    return run_id, load_file(con, source, path, run_id, audit=BatchAudit(settings))


def held(
    con: duckdb.DuckDBPyConnection, settings: Settings, name: str = "orders_2026-11-20.csv"
) -> tuple[str, Path]:
    """A night whose orders file has 8 negative prices in 40 rows: held; its run id and path."""
    path = orders_csv(settings.base_dir / "orders" / name, "2026-11-20", negative=8)
    run_id, result = load(con, settings, path)
    assert result.status == "held"
    return run_id, path


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_a_clean_batch_is_published_and_its_results_stored(
    con: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path, accounting: Accounting
) -> None:
    run_id, result = load(
        con, settings, orders_csv(tmp_path / "orders" / "orders_2026-11-20.csv", "2026-11-20")
    )
    assert (result.status, result.rows_loaded, result.rows_held) == ("loaded", 40, 0)
    results = stored(con, run_id)
    assert {r.suite for r in results} == {"orders", "order_lines"}
    assert all(r.success for r in results if r.severity == "critical")
    row = con.execute(
        "select severity, success, unexpected_count, sample from validation_results "
        "where run_id = ? and suite = 'order_lines' and expectation = 'unit_price_not_negative'",
        [run_id],
    ).fetchone()
    assert row == ("critical", True, 0, "[]")
    accounting(con)


def test_a_broken_batch_is_held_with_its_run_id_and_kept_row_for_row(
    con: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path, accounting: Accounting
) -> None:
    path = orders_csv(tmp_path / "orders" / "orders_2026-11-20.csv", "2026-11-20", negative=8)
    run_id, result = load(con, settings, path)
    assert (
        result.status,
        result.rows_read,
        result.rows_loaded,
        result.rows_quarantined,
        result.rows_held,
    ) == (
        "held",
        40,
        0,
        0,
        40,
    )
    assert "Unit prices are not negative (8 of 40 rows, 20.0%)" in result.message
    # Nothing merged, nothing quarantined: the batch waits whole in staging.
    assert (
        count(con, "orders"),
        count(con, "order_lines"),
        count(con, "quarantine"),
        count(con, "loaded_files"),
    ) == (0, 0, 0, 0)
    held = con.execute(
        "select run_id, source, status, rows_read, min_at::varchar from held_batches"
    ).fetchall()
    assert held == [(run_id, "orders", "held", 40, "2026-11-20 10:12:00")]
    first = con.execute("select row_number, raw_record from held_rows order by row_number limit 1").fetchone()
    assert first is not None and first[0] == 1 and json.loads(first[1])["unit_price"] == "-4.5"
    failing = con.execute(
        "select unexpected_count, sample from validation_results where run_id = ? and expectation = 'unit_price_not_negative'",
        [run_id],
    ).fetchone()
    assert failing is not None and failing[0] == 8
    sample = json.loads(failing[1])
    assert len(sample) == 8 and sample[0] == {"unit_price": -4.5, "__row": 1, "order_id": "O1", "line_no": 1}
    accounting(con)
    # The same file is not loaded (or held) again while it waits.
    _, again = load(con, settings, path)
    assert again.status == "skipped" and f"segmint replay {run_id}" in again.message
    assert count(con, "held_batches") == 1


def test_a_few_bad_rows_are_quarantined_and_the_batch_published(
    con: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path, accounting: Accounting
) -> None:
    _, result = load(
        con, settings, orders_csv(tmp_path / "orders" / "o.csv", "2026-11-20", n=400, negative=3)
    )
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 397, 3)
    accounting(con)


def test_replay_after_a_threshold_change_publishes_the_kept_copy_even_without_the_file(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    run_id, path = held(con, settings)
    path.unlink()
    with pytest.raises(SegmintError, match="held no batch back; there is nothing to replay"):
        replay(con, settings, start_run(con, "nightly", None))
    settings.quality.max_bad_row_share = 0.25
    settings.quality.max_quarantine_share = 0.25
    outcome = replay(con, settings, run_id)
    assert outcome.status == "completed" and outcome.still_held == []
    assert [(f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in outcome.files] == [
        ("loaded", 40, 32, 8)
    ]
    assert con.execute("select status, resolved_by from held_batches").fetchall() == [
        ("replayed", outcome.run_id)
    ]
    assert count(con, "held_rows") == 0
    # Quarantined rows keep their row numbers in the original file.
    assert con.execute(
        "select min(row_number), max(row_number), any_value(run_id) from quarantine"
    ).fetchone() == (
        1,
        8,
        outcome.run_id,
    )
    assert con.execute("select flow, status from runs where run_id = ?", [outcome.run_id]).fetchone() == (
        "replay",
        "completed",
    )
    accounting(con)
    with pytest.raises(SegmintError, match="already published or replaced"):
        replay(con, settings, run_id)


def test_a_held_batch_keeps_its_malformed_lines_for_replay(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    path = orders_csv(settings.base_dir / "orders" / "orders_2026-11-20.csv", "2026-11-20", negative=8)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "O99,1,C1,2026-11-20 10:00:00,P1,1,4.5,EUR,surplus")  # row 3 of 41
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_id, result = load(con, settings, path)
    assert (result.status, result.rows_read, result.rows_held) == ("held", 41, 41)
    accounting(con)
    path.unlink()
    settings.quality.max_bad_row_share = 0.25
    settings.quality.max_quarantine_share = 0.25
    outcome = replay(con, settings, run_id)
    assert [(f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in outcome.files] == [
        ("loaded", 41, 32, 9)
    ]
    assert con.execute("select raw_record, reason from quarantine where row_number = 3").fetchall() == [
        (
            '{"line":"O99,1,C1,2026-11-20 10:00:00,P1,1,4.5,EUR,surplus"}',
            "malformed line: more fields than the header",
        )
    ]
    # The rows after it keep their numbers in the file: O40 is row 41.
    assert con.execute("select count(*) from order_lines where order_id = 'O40'").fetchone() == (1,)
    assert con.execute("select max(row_number) from quarantine").fetchone() == (9,)
    accounting(con)


def test_replay_of_a_fixed_file_supersedes_the_held_batch(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    run_id, path = held(con, settings)
    orders_csv(path, "2026-11-20")  # the owner re-exports the day, fixed, to the same path
    outcome = replay(con, settings, run_id)
    assert [(f.status, f.rows_loaded) for f in outcome.files] == [("loaded", 40)]
    assert con.execute("select status, resolved_by from held_batches").fetchall() == [
        ("superseded", outcome.run_id)
    ]
    assert count(con, "orders") == 40
    accounting(con)


def test_a_replay_that_still_fails_keeps_the_batch_held_until_forced(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    run_id, path = held(con, settings)
    outcome = replay(con, settings, run_id)
    assert outcome.status == "held" and outcome.still_held == [str(path.resolve())]
    assert con.execute("select run_id, status from held_batches").fetchall() == [(run_id, "held")]
    forced = replay(con, settings, run_id, force=True)
    assert forced.status == "completed" and forced.forced
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in forced.files] == [("loaded", 32, 8)]
    assert con.execute("select status from runs where run_id = ?", [outcome.run_id]).fetchone() == ("held",)
    accounting(con)


def test_the_next_nights_export_under_the_same_name_does_not_replace_a_held_batch(
    con: duckdb.DuckDBPyConnection, settings: Settings, accounting: Accounting
) -> None:
    run_id, path = held(con, settings, "orders_latest.csv")
    orders_csv(path, "2026-11-21", first=100)  # tomorrow's export overwrites the file name
    _, tomorrow = load(con, settings, path)
    assert tomorrow.status == "loaded"
    assert con.execute("select status from held_batches").fetchall() == [("held",)]
    settings.quality.max_bad_row_share = settings.quality.max_quarantine_share = 0.25
    outcome = replay(con, settings, run_id)  # the file at the path is already loaded: the kept copy replays
    assert [(f.status, f.rows_loaded) for f in outcome.files] == [("loaded", 32)]
    assert count(con, "orders") == 72
    accounting(con)


def test_replay_of_an_unknown_run_says_so(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    with pytest.raises(SegmintError, match="There is no run 'nope' in the warehouse"):
        replay(con, settings, "nope")
