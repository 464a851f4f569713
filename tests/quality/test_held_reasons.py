"""A held batch says what to fix: its rows' own reasons first (a missing exchange rate, decimal commas),
with the config key, in the file's result, the alert and the CLI (where "[shop]" must survive)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from segmint.config import Settings
from segmint.currency import sync_shop
from segmint.ingest.load import ingest_files
from segmint.quality.alerts import build_alert, render
from segmint.quality.audit import BatchAudit
from segmint.runs import start_run

HEADER = "order_id,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def orders(path: Path, rows: list[str], delimiter: str = ",") -> None:
    path.write_text("\n".join([HEADER.replace(",", delimiter), *rows]) + "\n", encoding="utf-8")


def load(con: duckdb.DuckDBPyConnection, settings: Settings, name: str) -> tuple[str, str]:
    source = next(s for s in settings.sources if s.name == name)
    run_id = start_run(con, "nightly", None)
    sync_shop(con, settings.shop)
    (result,) = [
        r
        for r in ingest_files(
            con, [(source, settings.source_files(source))], run_id, audit=BatchAudit(settings)
        )
        if r.status != "skipped"
    ]
    assert result.status == "held", result
    return run_id, result.message


def test_a_currency_without_rates_holds_with_the_config_key(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    folder = settings.base_dir / "orders"
    orders(folder / "a.csv", [f"G{i},C{i},2024-02-01 10:00:00,P1,1,5.00,GBP" for i in range(20)])
    load_ok = ingest_files(
        con,
        [(settings.sources[1], settings.source_files(settings.sources[1]))],
        start_run(con, "nightly", None),
    )
    assert [r.status for r in load_ok] == ["loaded"]
    orders(
        folder / "b.csv",
        [f"U{i},C{i},2024-02-{1 + i % 9:02d} 10:00:00,P1,1,5.00,USD" for i in range(12)]
        + [f"H{i},C{i},2024-02-03 10:00:00,P1,1,5.00,GBP" for i in range(8)],
    )
    run_id, message = load(con, settings, "orders")
    assert message.startswith(
        "b.csv held back: 12 of 20 rows cannot be loaded: no exchange rate for USD on or before 2024-02-01; "
        "add it to [shop] exchange_rates (12 rows). Failed checks: "
    ), message
    alert = build_alert(con, run_id, None)
    assert alert is not None
    rendered = render(alert)
    cause = "no exchange rate for USD on or before 2024-02-01; add it to [shop] exchange_rates (12 rows)"
    assert cause in rendered.text and cause in rendered.html
    assert cause in str(rendered.webhook)


def test_decimal_commas_hold_with_a_hint_to_set_the_separator(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    orders(
        settings.base_dir / "orders" / "eu.csv",
        [f'E{i},C{i},2024-02-01 10:00:00,P1,1,"{i},50",EUR' for i in range(1, 21)],
    )
    _, message = load(con, settings, "orders")
    assert message.startswith(
        'eu.csv held back: 20 of 20 rows cannot be loaded: unparseable unit_price "1,50" (20 rows) '
        '(the export writes decimal commas: set decimal_separator = "," and thousands_separator = "." '
        "on source 'orders'). Failed checks: "
    ), message


def test_the_cli_prints_config_keys_in_brackets_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from segmint.cli import print_files
    from segmint.ingest import FileResult

    held = FileResult(
        "shop", Path("b.csv"), "held", 3, message="b.csv held back: add it to [shop] exchange_rates"
    )
    warned = FileResult("shop", Path("c.csv"), "loaded", 3, 3, warnings=["set [alerts] recipients"])
    print_files([held, warned])
    out = capsys.readouterr().out
    assert "held: b.csv held back: add it to [shop] exchange_rates" in out
    assert "warning: set [alerts] recipients" in out


def test_a_cp1252_export_holds_with_a_hint_to_set_the_encoding(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    path = settings.base_dir / "orders" / "excel.csv"
    rows = [
        f"B{i},K{i},2024-02-01 10:00:00,{'Käse' if i % 4 == 1 else 'Brot'},1,2.50,EUR" for i in range(1, 21)
    ]
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252"))
    _, message = load(con, settings, "orders")
    assert message.startswith("excel.csv held back: 5 of 20 rows cannot be loaded: malformed line: "), message
    assert (
        '(the file is not UTF-8: set encoding = "cp1252" (the usual encoding of Excel exports in Western '
        "Europe) on source 'orders', or re-save it as UTF-8). Failed checks: "
    ) in message
    # Once the source names the encoding, the next night reads the held file again from its bytes.
    source = settings.sources[1].model_copy(update={"encoding": "cp1252"})
    (again,) = ingest_files(
        con, [(source, [path])], start_run(con, "nightly", None), audit=BatchAudit(settings)
    )
    assert (again.status, again.rows_loaded) == ("loaded", 20), again
    assert con.execute("select status from held_batches").fetchall() == [("superseded",)]
    assert con.execute("select count(*) from held_rows").fetchone() == (0,)
    names = con.execute("select distinct product_id from order_lines order by 1").fetchall()
    assert names == [("Brot",), ("Käse",)]
