"""Faults in one file stay in that file: a bad value is a quarantined row, an unreadable file is rejected
alone with one sentence, and the rest of the night's files load. Every test uses a real DuckDB file."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from segmint.config import SourceSettings
from segmint.ingest.load import FileResult, ingest_files, load_file
from segmint.warehouse import connect

NOW = datetime(2024, 6, 1, 12, 0, 0)
HEADER = "order_id,line_no,customer_id,ordered_at,product_id,product_name,category,quantity,unit_price,currency,is_cancellation"


def orders_source(**kw: object) -> SourceSettings:
    return SourceSettings(name="shop", kind="orders", path="*.csv", **kw)  # type: ignore[arg-type]


def good_lines(n: int = 20, prefix: str = "O") -> list[str]:
    return [f"{prefix}{i},1,C{i % 7},2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false" for i in range(n)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def wh(tmp_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a fresh warehouse file."""
    with connect(tmp_warehouse) as con:
        yield con


def load(con: duckdb.DuckDBPyConnection, path: Path, **kw: object) -> FileResult:
    source = kw.pop("source", None) or orders_source()
    return load_file(con, source, path, "run-1", now=NOW, **kw)  # type: ignore[arg-type]


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return con.execute("select row_number, reason from quarantine order by row_number").fetchall()


def balanced(result: FileResult) -> bool:
    return result.rows_read == (
        result.rows_loaded + result.rows_quarantined + result.rows_duplicate + result.rows_held
    )


def test_a_line_total_beyond_decimal_18_4_is_a_quarantined_row(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # 1,000,000 x 99,999,999,999.99 overflows decimal(18,4): DuckDB raised, and the whole ingest aborted.
    lines = [
        HEADER,
        *good_lines(),
        "X1,1,C1,2024-05-01 10:00:00,P1,Pen,office,1000000,99999999999.99,EUR,false",
    ]
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 20, 1)
    assert quarantined(wh) == [(21, "line total exceeds the largest amount segmint stores")]
    assert wh.execute("select count(*) from order_lines where order_id = 'X1'").fetchone() == (0,)


def test_lines_that_fit_but_add_up_past_the_largest_amount_quarantine_their_order(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    big = [f"X1,{n},C1,2024-05-01 10:00:00,P1,Pen,office,1,60000000000000,EUR,false" for n in (1, 2)]
    result = load(wh, write(tmp_path / "orders.csv", [HEADER, *good_lines(), *big]))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 20, 2)
    assert {r for _, r in quarantined(wh)} == {"order total exceeds the largest amount segmint stores"}
    assert wh.execute("select count(*) from orders where order_id = 'X1'").fetchone() == (0,)


def test_one_very_large_number_is_one_bad_row_not_a_rejected_file(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    huge = "9" * 400
    lines = [HEADER, *good_lines(), f"X1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,{huge},EUR,false"]
    lines.append(f"X2,1,C1,2024-05-01 10:00:00,P1,Pen,office,{huge},1.50,EUR,false")
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 20, 2)
    # A reason quotes at most 100 characters of the value; the raw record keeps it whole.
    assert quarantined(wh) == [
        (21, f'unit_price "{huge[:100]}..." exceeds the largest amount segmint stores'),
        (22, f'quantity "{huge[:100]}..." is out of range'),
    ]
    (raw,) = wh.execute("select raw_record from quarantine where row_number = 21").fetchone()  # type: ignore[misc]
    assert json.loads(raw)["unit_price"] == huge


def test_a_number_first_in_a_column_of_text_does_not_reject_the_file(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Type sniffing would call the column numeric from its first values and then fail on the text ones.
    lines = [HEADER] + [
        f"{i},1,{10**30 + i},2024-05-01 10:00:00,{i},Pen,office,2,1.50,EUR,false" for i in range(3000)
    ]
    lines += ["A-1,1,C-x,2024-05-01 10:00:00,SKU-9,Pen,office,2,1.50,EUR,false"]
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 3001, 0)
    assert wh.execute("select customer_id from orders where order_id = 'A-1'").fetchone() == ("C-x",)


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        ("2.5", 'quantity "2.5" is not a whole number'),
        ("1e2", 'quantity "1e2" is not a whole number'),
        ("0x10", 'unparseable quantity "0x10"'),
        ("1_000", 'quantity "1_000" is not a whole number'),
        ("99999999999", 'quantity "99999999999" is out of range'),
    ],
)
def test_a_quantity_that_is_not_a_whole_number_is_quarantined(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, quantity: str, reason: str
) -> None:
    # DuckDB's own cast loads "2.5" as 3, "1e2" as 100 and "0x10" as 16.
    lines = [HEADER, *good_lines(3), f"X1,1,C1,2024-05-01 10:00:00,P1,Pen,office,{quantity},1.50,EUR,false"]
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
    assert quarantined(wh) == [(4, reason)]


def test_whole_numbers_written_with_a_sign_or_a_zero_fraction_load(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    lines = [HEADER] + [
        f"X{i},1,C1,2024-05-01 10:00:00,P1,Pen,office,{q},1.50,EUR,false"
        for i, q in enumerate(["6.0", "+3", " 4 ", "-2", "7.00"])
    ]
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert (result.rows_loaded, result.rows_quarantined) == (5, 0)
    quantities = wh.execute("select quantity from order_lines order by order_id").fetchall()
    assert quantities == [(6,), (3,), (4,), (-2,), (7,)]


def test_a_line_over_max_line_bytes_is_a_malformed_line_in_its_place(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    long_name = "n" * 5_000
    lines = [HEADER, *good_lines(10)]
    lines.insert(6, f"X1,1,C1,2024-05-01 10:00:00,P1,{long_name},office,2,1.50,EUR,false")
    result = load(wh, write(tmp_path / "orders.csv", lines), max_line_bytes=4_096)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        11,
        10,
        1,
    )
    ((row, reason),) = quarantined(wh)
    assert row == 6  # the sixth data row, the seventh line of the file
    assert reason.startswith("malformed line: the line is longer than max_line_bytes (4,096 bytes")


def test_a_line_over_duckdbs_two_megabytes_loads_under_the_default_limit(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # DuckDB's default max_line_size is 2 MB: such a line used to reject its file with "Line: 1".
    long_name = "n" * 3_000_000
    lines = [HEADER, *good_lines(10)]
    lines.insert(4, f"X1,1,C1,2024-05-01 10:00:00,P1,{long_name},office,2,1.50,EUR,false")
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 11, 0)
    assert wh.execute("select length(product_name) from order_lines where order_id = 'X1'").fetchone() == (
        3_000_000,
    )


def test_rejected_lines_of_one_file_are_not_taken_for_the_next_files(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    broken = [
        HEADER,
        *good_lines(10, "A"),
        "A99,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false,extra",
    ]
    first = load(wh, write(tmp_path / "a.csv", broken))
    assert (first.rows_read, first.rows_quarantined) == (11, 1)
    second = load(wh, write(tmp_path / "b.csv", [HEADER, *good_lines(10, "B")]))
    assert (second.rows_read, second.rows_loaded, second.rows_quarantined) == (10, 10, 0)


def test_line_endings_quoting_and_a_byte_order_mark_read_alike(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = ['O1,1,C1,2024-05-01 10:00:00,P1,"Pen, blue",office,2,1.50,EUR,false', *good_lines(4, "Q")]
    for name, newline, bom in (("lf", "\n", ""), ("crlf", "\r\n", "\ufeff"), ("cr", "\r", "")):
        (tmp_path / f"{name}.csv").write_bytes((bom + newline.join([HEADER, *rows]) + newline).encode())
    for name in ("lf", "crlf", "cr"):
        con = connect(tmp_path / f"{name}.duckdb")
        result = load(con, tmp_path / f"{name}.csv")
        assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 5, 0), name
        assert con.execute("select product_name from order_lines where order_id = 'O1'").fetchone() == (
            "Pen, blue",
        )
        con.close()


def test_an_error_while_typing_one_file_rejects_it_and_the_others_load(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # An invalid timestamp_format makes DuckDB raise while typing: before, it aborted the list of files.
    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    folder_a.mkdir()
    folder_b.mkdir()
    broken_source = SourceSettings(name="erp", kind="orders", path="a/*.csv", timestamp_format="%Q")
    bad = write(folder_a / "orders.csv", [HEADER, *good_lines(5, "E")])
    good = write(folder_b / "orders.csv", [HEADER, *good_lines(5, "G")])
    corrupt = folder_b / "late.csv.gz"
    corrupt.write_bytes(gzip.compress(("\n".join([HEADER, *good_lines(5, "Z")]) + "\n").encode())[:40])
    not_a_file = folder_b / "folder.csv"
    not_a_file.mkdir()
    results = ingest_files(
        wh, [(broken_source, [bad]), (orders_source(), [corrupt, not_a_file, good])], "run-1", now=NOW
    )
    assert [r.status for r in results] == ["rejected", "rejected", "rejected", "loaded"]
    for r in results[:3]:
        assert r.message.startswith(str(r.path)) and "\n" not in r.message and "Traceback" not in r.message
    assert "InvalidInputException" in results[0].message
    assert "gzip" in results[1].message
    assert wh.execute("select count(*) from orders").fetchone() == (5,)
    assert wh.execute("select count(*) from loaded_files").fetchone() == (1,)


def test_a_file_that_vanishes_after_listing_is_skipped_with_one_line(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    gone = write(tmp_path / "gone.csv", [HEADER, *good_lines(3, "V")])
    kept = write(tmp_path / "kept.csv", [HEADER, *good_lines(3, "K")])
    listed = [gone, kept]
    gone.unlink()
    results = ingest_files(wh, [(orders_source(), listed)], "run-1", now=NOW)
    assert [r.status for r in results] == ["skipped", "loaded"]
    assert results[0].warnings == [f"{gone}: the file vanished before it was read; it is skipped this run"]
    assert results[0].message == results[0].warnings[0]


def test_the_ledger_hash_is_of_the_bytes_loaded(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", [HEADER, *good_lines(4)])
    result = load(wh, path)
    assert result.status == "loaded"
    (sha,) = wh.execute("select sha256 from loaded_files").fetchone()  # type: ignore[misc]
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    # No copy is left behind beside the warehouse.
    assert not list(tmp_path.glob(".segmint-read-*"))


def test_a_file_that_changed_since_it_was_found_settled_is_skipped(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "orders.csv", [HEADER, *good_lines(4)])
    stat = path.stat()
    with path.open("a", encoding="utf-8") as handle:
        handle.write("O99,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false\n")
    result = load(wh, path, settled=(stat.st_size, stat.st_mtime_ns))
    assert result.status == "skipped"
    assert "changed while it was being read" in result.message
    assert wh.execute("select count(*) from loaded_files").fetchone() == (0,)


def test_a_malformed_line_keeps_its_text_in_quarantine(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    lines = [HEADER, *good_lines(6), 'X1,1,C1,"2024-05-01,P1,Pen']
    result = load(wh, write(tmp_path / "orders.csv", lines))
    assert balanced(result) and result.rows_quarantined == 1
    (raw,) = wh.execute("select raw_record from quarantine").fetchone()  # type: ignore[misc]
    assert json.loads(raw)["line"].startswith("X1,1,C1,")


def test_json_lines_are_read_as_text_and_a_bad_line_is_one_malformed_row(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    def order(order_id: object, quantity: object = 2, price: object = 1.5) -> str:
        return json.dumps(
            {
                "order_id": order_id,
                "line_no": 1,
                "customer_id": "C1",
                "ordered_at": "2024-05-01 10:00:00",
                "quantity": quantity,
                "unit_price": price,
            }
        )

    lines = [order(f"O{i}") for i in range(20)]
    # A numeric id among text ones: DuckDB's read_json typed the column as JSON and every id kept its quotes.
    lines += [
        order(17),
        '{"order_id": "broken", ',
        "[1, 2]",
        order("X", price=10**40),
        order("Y", quantity=2.5),
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load(wh, path, source=SourceSettings(name="shop", kind="orders", path="*.jsonl"))
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        25,
        21,
        4,
    )
    assert wh.execute("select count(*) from orders where order_id in ('O0', '17')").fetchone() == (2,)
    assert quarantined(wh) == [
        (22, "malformed line: not a JSON object"),
        (23, "malformed line: not a JSON object"),
        (24, f'unit_price "{10**40}" exceeds the largest amount segmint stores'),
        (25, 'quantity "2.5" is not a whole number'),
    ]
