"""An order loaded while some of its lines went to quarantine is marked, warned about, and cleared once the
whole order loads."""

from __future__ import annotations

from pathlib import Path

import duckdb
from tests.quality.conftest import check_accounting, ingest_orders

from segmint.config import Settings
from segmint.quality.night import night_checks
from segmint.runs import start_run

HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price"


def write(path: Path, bad_price: str | None) -> Path:
    """Ten orders of three lines; the third line of O3 has `bad_price` when given."""
    lines = [HEADER]
    for i in range(10):
        for n in (1, 2, 3):
            price = bad_price if (i, n) == (3, 3) and bad_price is not None else "2.50"
            lines.append(f"O{i},{n},C{i},2026-11-20 10:{i:02d}:00,P{n},1,{price}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_order_missing_a_quarantined_line_is_marked_until_it_loads_whole(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    write(settings.base_dir / "orders" / "a.csv", "abc")
    run_id = start_run(con, "nightly", None)
    files = ingest_orders(con, settings, run_id)
    (a,) = files
    assert (a.status, a.rows_loaded, a.rows_quarantined, a.orders_partial, a.lines_missing) == (
        "loaded",
        29,
        1,
        1,
        1,
    )
    sentence = (
        "1 orders loaded without 1 of their lines (they are in the quarantine table with their reasons): "
        "their revenue is short until the lines are fixed in the export and the file is loaded again"
    )
    assert a.warnings == [f"a.csv: {sentence}"]
    assert con.execute(
        "select order_id, lines_loaded, lines_quarantined from order_quarantined_lines"
    ).fetchall() == [("O3", 2, 1)]
    assert con.execute("select revenue::double from orders where order_id = 'O3'").fetchone() == (5.0,)
    (check,) = [r for r in night_checks(con, settings, run_id, files) if r.key == "orders_complete"]
    assert (check.success, check.severity, check.observed["summary"]) == (False, "warning", sentence)
    check_accounting(con)

    # The corrected export arrives: the order is updated whole and no longer marked.
    write(settings.base_dir / "orders" / "b.csv", None)
    run_id = start_run(con, "nightly", None)
    files = ingest_orders(con, settings, run_id)
    b = next(f for f in files if f.path.name == "b.csv")
    assert (b.rows_loaded, b.rows_duplicate, b.rows_updated, b.orders_partial) == (3, 27, 3, 0)
    assert con.execute("select count(*) from order_quarantined_lines").fetchone() == (0,)
    assert con.execute("select revenue::double from orders where order_id = 'O3'").fetchone() == (7.5,)
    (check,) = [r for r in night_checks(con, settings, run_id, files) if r.key == "orders_complete"]
    assert check.success
    check_accounting(con)


def test_an_order_whose_every_line_is_bad_is_not_marked(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    path = settings.base_dir / "orders" / "a.csv"
    path.write_text(
        f"{HEADER}\nO1,1,C1,2026-11-20 10:00:00,P1,1,abc\nO2,1,C2,2026-11-20 10:00:00,P1,1,2.00\n"
    )
    (a,) = ingest_orders(con, settings, start_run(con, "nightly", None))
    assert (a.rows_loaded, a.rows_quarantined, a.orders_partial) == (1, 1, 0)
    assert con.execute("select count(*) from order_quarantined_lines").fetchone() == (0,)
