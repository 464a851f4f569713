"""Ingest: each file once, bad rows quarantined with reasons, bad files rejected whole, nothing lost."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from segmint.config import SourceSettings
from segmint.errors import SourceFileError
from segmint.ingest.load import Batch, FileResult, ingest_files, load_file

NOW = datetime(2024, 6, 1, 12, 0, 0)
ORDER_HEADER = "order_id,line_no,customer_id,ordered_at,product_id,product_name,category,quantity,unit_price,currency,is_cancellation"


def orders_source(**kw: object) -> SourceSettings:
    return SourceSettings(name="shop", kind="orders", path="*.csv", **kw)  # type: ignore[arg-type]


def events_source(**kw: object) -> SourceSettings:
    return SourceSettings(name="web", kind="events", path="*.csv", **kw)  # type: ignore[arg-type]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = ("orders", "order_lines", "customers", "events", "quarantine", "loaded_files")
    return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}  # type: ignore[index]


def load(con: duckdb.DuckDBPyConnection, source: SourceSettings, path: Path) -> FileResult:
    return load_file(con, source, path, "run-1", now=NOW)


def test_canonical_orders_load_with_lines_customers_and_ledger(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "orders.csv",
        [
            ORDER_HEADER,
            "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false",
            "O1,2,C1,2024-05-01 10:00:00,P2,Ink,office,1,4.00,EUR,false",
            "O2,1,,2024-05-02 11:00:00,P1,Pen,office,1,1.50,EUR,false",
            "R1,1,C1,2024-05-03 09:00:00,P1,Pen,office,-1,1.50,EUR,true",
        ],
    )
    result = load(duck, orders_source(), path)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        4,
        4,
        0,
    )
    orders = duck.execute(
        "select order_id, customer_id, is_cancellation, revenue::double from orders order by order_id"
    ).fetchall()
    assert orders == [("O1", "C1", False, 7.0), ("O2", None, False, 1.5), ("R1", "C1", True, -1.5)]
    assert duck.execute("select customer_id, first_seen_at from customers").fetchall() == [
        ("C1", datetime(2024, 5, 1, 10, 0))
    ]
    ledger = duck.execute(
        "select rows_read, rows_loaded, rows_quarantined, run_id from loaded_files"
    ).fetchall()
    assert ledger == [(4, 4, 0, "run-1")]


def test_loading_the_same_file_twice_changes_nothing(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path / "orders.csv", [ORDER_HEADER, "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false"]
    )
    load(duck, orders_source(), path)
    before = counts(duck)
    again = load(duck, orders_source(), path)
    assert again.status == "skipped"
    assert counts(duck) == before


def test_a_new_file_repeating_loaded_keys_skips_and_counts_them(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = write(
        tmp_path / "day1.csv", [ORDER_HEADER, "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false"]
    )
    second = write(
        tmp_path / "day2.csv",
        [
            ORDER_HEADER,
            "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false",  # overlap with day 1
            "O2,1,C2,2024-05-02 10:00:00,P1,Pen,office,1,1.50,EUR,false",
        ],
    )
    load(duck, orders_source(), first)
    result = load(duck, orders_source(), second)
    # The identical repeat is skipped and counted, not quarantined: read = loaded + quarantined + duplicate.
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
        2,
        1,
        0,
        1,
    )
    assert duck.execute("select count(*) from order_lines where order_id = 'O1'").fetchone() == (1,)
    assert duck.execute("select count(*) from quarantine").fetchone() == (0,)
    assert duck.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_held from file_accounting "
        "where path like '%day2.csv'"
    ).fetchall() == [(2, 1, 0, 1, 0)]


def test_a_key_repeated_within_a_file_loads_once_and_quarantines_the_later_rows(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    orders = write(
        tmp_path / "orders.csv",
        [
            ORDER_HEADER,
            "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false",
            "O1,2,C1,2024-05-01 10:00:00,P2,Ink,office,1,4.00,EUR,false",
            "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,2,1.50,EUR,false",  # line 1 again
            "O2,1,C2,2024-05-02 10:00:00,P1,Pen,office,1,1.50,EUR,false",
        ],
    )
    result = load(duck, orders_source(), orders)
    # A key repeated inside one file is an export defect: quarantined, not a duplicate of a loaded row.
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
        4,
        3,
        1,
        0,
    )
    # The order counts its repeated line once.
    assert duck.execute("select order_id, revenue::double from orders order by 1").fetchall() == [
        ("O1", 7.0),
        ("O2", 1.5),
    ]
    assert duck.execute("select row_number, reason from quarantine").fetchall() == [
        (3, "duplicate key within the file")
    ]
    events = write(
        tmp_path / "events.csv",
        [
            "event_id,occurred_at,customer_id,session_id,event_type,product_id,price",
            "E1,2024-05-01 10:00:00,C1,S1,page_view,,",
            "E2,2024-05-01 10:01:00,C1,S1,product_view,P1,1.50",
            "E1,2024-05-01 10:00:00,C1,S1,page_view,,",
        ],
    )
    assert load(duck, events_source(), events).rows_loaded == 2
    customers = write(
        tmp_path / "customers.csv",
        ["customer_id,email,country", "C9,a@example.com,DE", "C9,b@example.com,FR", "C8,c@example.com,NL"],
    )
    result = load(duck, SourceSettings(name="crm", kind="customers", path="*.csv"), customers)
    assert (result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (2, 1, 0)
    assert duck.execute("select email from customers where customer_id = 'C9'").fetchall() == [
        ("a@example.com",)
    ]
    assert duck.execute(
        "select count(*) from quarantine where reason = 'duplicate key within the file'"
    ).fetchone() == (3,)


class FailingChecks:
    """An audit whose checks fail with an error after the merge has run beside them."""

    def __call__(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> FailingChecks:
        return self

    def failing_rows(self) -> list[tuple[str, str]]:
        return []

    def wait(self) -> str | None:
        raise RuntimeError("the checks broke")

    def record(self, con: duckdb.DuckDBPyConnection) -> None:
        raise AssertionError("a failed audit records nothing")


def test_an_audit_that_fails_rolls_back_the_merge_it_ran_beside(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "orders.csv",
        [ORDER_HEADER, "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,0,1.50,EUR,false"],  # one row to quarantine
    )
    before = counts(duck)
    with pytest.raises(RuntimeError, match="the checks broke"):
        load_file(duck, orders_source(), path, "run-1", now=NOW, audit=FailingChecks())
    assert counts(duck) == before
    assert load(duck, orders_source(), path).status == "loaded"  # and the file is not marked as loaded


def test_ten_thousand_rows_with_one_bad_row(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    lines = [ORDER_HEADER] + [
        f"O{i},1,C{i % 500},2024-05-01 10:00:00,P{i % 40},Item,misc,1,2.00,EUR,false" for i in range(10_000)
    ]
    lines[5001] = "O5000,1,C0,not-a-date,P1,Item,misc,1,2.00,EUR,false"
    result = load(duck, orders_source(), write(tmp_path / "orders.csv", lines))
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (10_000, 9_999, 1)
    row_number, raw, reason = duck.execute("select row_number, raw_record, reason from quarantine").fetchone()  # type: ignore[misc]
    assert row_number == 5001
    assert reason == 'unparseable ordered_at "not-a-date"'
    assert json.loads(raw)["order_id"] == "O5000"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",1,C1,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false", "missing order_id"),
        ("O9,1,C1,2024-05-01 10:00:00,P1,Pen,office,two,1.50,EUR,false", 'unparseable quantity "two"'),
        ("O9,1,C1,2024-05-01 10:00:00,P1,Pen,office,1,1;50,EUR,false", 'unparseable unit_price "1;50"'),
        ("O9,1,C1,2024-05-01 10:00:00,P1,Pen,office,1,-1.50,EUR,false", "negative unit_price"),
        ("O9,1,C1,2024-05-01 10:00:00,P1,Pen,office,0,1.50,EUR,false", "zero quantity"),
        (
            "O9,1,C1,2024-06-03 10:00:00,P1,Pen,office,1,1.50,EUR,false",
            "ordered_at more than a day in the future",
        ),
        ("O9,,C1,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false", "missing line_no"),
        ("O9,first,C1,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false", 'unparseable line_no "first"'),
    ],
)
def test_each_kind_of_bad_order_row_is_quarantined_with_its_reason(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path, row: str, reason: str
) -> None:
    good = "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false"
    result = load(duck, orders_source(), write(tmp_path / "orders.csv", [ORDER_HEADER, good, row]))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert duck.execute("select reason from quarantine").fetchall() == [(reason,)]


def test_events_normalise_types_and_quarantine_unknown_ones(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "events.csv",
        [
            "event_id,occurred_at,customer_id,session_id,event_type,product_id,price",
            "E1,2024-05-01 10:00:00,C1,S1,view,P1,1.50",
            "E2,2024-05-01 10:01:00,C1,S1,cart,P1,1.50",
            "E3,2024-05-01 10:02:00,,S2,page_view,,",
            "E4,2024-05-01 10:03:00,C1,S1,wishlist,P1,1.50",
            "E5,2024-06-05 10:03:00,C1,S1,purchase,P1,1.50",
        ],
    )
    result = load(duck, events_source(), path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 3, 2)
    assert duck.execute(
        "select event_id, event_type, customer_id from events order by event_id"
    ).fetchall() == [
        ("E1", "product_view", "C1"),
        ("E2", "add_to_cart", "C1"),
        ("E3", "page_view", None),
    ]
    assert sorted(r[0] for r in duck.execute("select reason from quarantine").fetchall()) == [
        "occurred_at more than a day in the future",
        'unknown event_type "wishlist"',
    ]


def test_column_mapping_reads_any_layout(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path / "erp.csv",
        ["Order Number;Order Date;Client;SKU;Qty;Price", "A-1;01/05/2024 10:00;K7;X1;3;2.00"],
    )
    source = orders_source(
        delimiter=";",
        timestamp_format="%d/%m/%Y %H:%M",
        columns={
            "order_id": "Order Number",
            "ordered_at": "Order Date",
            "customer_id": "Client",
            "product_id": "SKU",
            "quantity": "Qty",
            "unit_price": "Price",
        },
    )
    assert load(duck, source, path).rows_loaded == 1
    assert duck.execute(
        "select order_id, customer_id, ordered_at, revenue::double from orders"
    ).fetchall() == [("A-1", "K7", datetime(2024, 5, 1, 10, 0), 6.0)]


def test_customers_file_fills_details_of_customers_first_met_in_orders(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load(
        duck,
        orders_source(),
        write(tmp_path / "o.csv", [ORDER_HEADER, "O1,1,C1,2024-05-01 10:00:00,P1,Pen,x,1,1.5,EUR,false"]),
    )
    customers = write(
        tmp_path / "customers.csv",
        [
            "customer_id,email,country,first_seen_at,marketing_consent",
            "C1,c1@example.com,DE,2024-04-01 00:00:00,false",
        ],
    )
    result = load(duck, SourceSettings(name="crm", kind="customers", path="*.csv"), customers)
    assert result.rows_loaded == 1
    assert duck.execute(
        "select email, country, first_seen_at, marketing_consent from customers"
    ).fetchall() == [("c1@example.com", "DE", datetime(2024, 4, 1), False)]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("truncated.csv.gz", None, "the gzip stream is truncated or corrupt"),
        (
            "nocolumn.csv",
            "order_id,line_no,customer_id,ordered_at,quantity\nO1,1,C1,2024-05-01,1\n",
            "required column unit_price is missing",
        ),
        ("empty.csv", "", "the file is empty"),
        ("header_only.csv", ORDER_HEADER + "\n", "the file has a header but no rows"),
    ],
)
def test_unreadable_files_are_rejected_whole_with_one_sentence(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path, name: str, content: str | None, problem: str
) -> None:
    bad = tmp_path / name
    if content is None:
        rows = "\n".join(
            [ORDER_HEADER]
            + [f"O{i},1,C1,2024-05-01 10:00:00,P1,Pen,x,1,1.5,EUR,false" for i in range(20_000)]
        )
        blob = gzip.compress(rows.encode())
        bad.write_bytes(blob[: len(blob) // 2])
    else:
        bad.write_text(content, encoding="utf-8")
    good = write(
        tmp_path / "good.csv", [ORDER_HEADER, "O1,1,C1,2024-05-01 10:00:00,P1,Pen,x,1,1.5,EUR,false"]
    )
    with pytest.raises(SourceFileError) as info:
        load(duck, orders_source(), bad)
    message = str(info.value)
    assert message.startswith(str(bad)) and problem in message
    assert "\n" not in message
    assert counts(duck)["order_lines"] == 0 and counts(duck)["loaded_files"] == 0
    results = ingest_files(duck, [(orders_source(), [bad, good])], "run-2", now=NOW)
    assert [r.status for r in results] == ["rejected", "loaded"]
    assert counts(duck)["order_lines"] == 1


def test_a_malformed_line_of_a_crlf_file_is_kept_without_the_line_break_before_it(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    lines = [
        ORDER_HEADER,
        "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false",
        "O2,1,C2,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false,surplus",
        "O3,1,C3,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false",
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    result = load(duck, orders_source(), path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    [(record,)] = duck.execute("select raw_record from quarantine").fetchall()
    assert json.loads(record) == {
        "line": "O2,1,C2,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false,surplus"
    }


def test_a_malformed_line_is_quarantined_in_its_place_and_the_rest_loads(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "orders.csv",
        [
            ORDER_HEADER,
            'O1,1,C1,2024-05-01 10:00:00,P1,"Pen, blue\nfine tip",office,1,1.50,EUR,false',  # one row, two lines
            "O2,1,C2,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false,surplus",
            "O3,1,C3,2024-05-01 10:00:00,P1,Pen,office,1",
            "O4,1,C4,2024-05-01 10:00:00,P1,Pen,office,0,1.50,EUR,false",  # zero quantity: row 4
            "O5,1,C5,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false",
        ],
    )
    result = load(duck, orders_source(), path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 2, 3)
    quarantined = duck.execute("select row_number, raw_record, reason from quarantine order by 1").fetchall()
    assert [(row, reason) for row, _, reason in quarantined] == [
        (2, "malformed line: more fields than the header"),
        (3, "malformed line: fewer fields than the header"),
        (4, "zero quantity"),  # its number in the file, past the malformed lines
    ]
    records = [json.loads(record) for _, record, _ in quarantined]
    assert records[0] == {"line": "O2,1,C2,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false,surplus"}
    assert records[2]["order_id"] == "O4" and "__line" not in records[2]
    assert duck.execute("select order_id, product_name from order_lines order by 1").fetchall() == [
        ("O1", "Pen, blue\nfine tip"),
        ("O5", "Pen"),
    ]


def test_a_file_of_mostly_malformed_lines_is_rejected_whole(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "broken.csv",
        [ORDER_HEADER, "O1,1,C1,2024-05-01 10:00:00,P1,Pen,office,1,1.50,EUR,false", "O2,1", "O3,1,C3"],
    )
    with pytest.raises(SourceFileError, match=r"broken.csv: 2 of 3 rows are malformed \(row 2: fewer fields"):
        load(duck, orders_source(), path)
    assert counts(duck)["order_lines"] == 0 and counts(duck)["quarantine"] == 0


def test_jsonl_and_parquet_files_load_like_csv(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = [
        {
            "order_id": "O1",
            "line_no": 1,
            "customer_id": "C1",
            "ordered_at": "2024-05-01 10:00:00",
            "product_id": "P1",
            "quantity": 2,
            "unit_price": 1.5,
        },
        {
            "order_id": "O2",
            "line_no": 1,
            "customer_id": "C2",
            "ordered_at": "2024-05-02 10:00:00",
            "product_id": "P1",
            "quantity": 0,
            "unit_price": 1.5,
        },
    ]
    jsonl = tmp_path / "orders.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows) + "\n")
    result = load(duck, orders_source(), jsonl)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert duck.execute("select reason from quarantine").fetchall() == [("zero quantity",)]
    parquet = tmp_path / "orders.parquet"
    duck.execute(
        f"copy (select 'O3' as order_id, 1 as line_no, 'C3' as customer_id, timestamp '2024-05-03 10:00:00' "
        f"as ordered_at, 'P2' as product_id, 1 as quantity, 4.0 as unit_price) to '{parquet}' (format parquet)"
    )
    assert load(duck, orders_source(), parquet).rows_loaded == 1
    assert duck.execute("select order_id, revenue::double from orders order by 1").fetchall() == [
        ("O1", 3.0),
        ("O3", 4.0),
    ]


def test_a_wrong_delimiter_rejects_the_file(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path / "semicolons.csv", ["order_id;ordered_at;quantity;unit_price", "O1;2024-05-01;1;2.0"]
    )
    with pytest.raises(SourceFileError, match=r"semicolons.csv: required column .* is missing .*delimiter"):
        load(duck, orders_source(delimiter=","), path)
    assert counts(duck)["order_lines"] == 0


def test_an_undeclared_semicolon_delimiter_is_detected(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "semicolons.csv", ["order_id;ordered_at;quantity;unit_price", "O1;2024-05-01;1;2.0"]
    )
    assert load(duck, orders_source(), path).rows_loaded == 1


def test_lines_repeated_exactly_in_an_export_without_line_numbers_load_and_are_named(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Without a line number, two identical lines of one order may be two scans of one product (Online
    # Retail has thousands) or one line exported twice: both are kept, and the owner is told how many.
    header = "order_id,customer_id,ordered_at,product_id,quantity,unit_price"
    rows = ["A1,C1,2024-05-01 10:00,P1,1,2.00", "A1,C1,2024-05-01 10:00,P2,1,3.00"]
    path = write(tmp_path / "till.csv", [header, *rows, rows[0], rows[0], "A2,C2,2024-05-02 10:00,P1,2,2.00"])
    result = load(duck, orders_source(), path)
    assert result.rows_loaded == 5
    assert duck.execute("select revenue::double from orders where order_id = 'A1'").fetchall() == [(9.0,)]
    assert (
        "till.csv: 2 lines repeat another line of their order exactly (same product, quantity and price) and "
        "were loaded as lines of their own, since the file has no line numbers to tell a second item from a "
        "line exported twice; if they are export errors, correct the file and the next run replaces those orders"
    ) in result.warnings
    numbered = write(tmp_path / "numbered.csv", [ORDER_HEADER, "B1,1,C1,2024-05-01 10:00,P1,x,c,1,2,EUR,false",
                                                 "B1,2,C1,2024-05-01 10:00,P1,x,c,1,2,EUR,false"])  # fmt: skip
    assert not any("repeat another line" in w for w in load(duck, orders_source(), numbered).warnings)
    once = write(
        tmp_path / "once.csv",
        [header, "A3,C3,2024-05-03 10:00,P1,1,2.00", "A3,C3,2024-05-03 10:00,P1,1,2.00"],
    )
    assert [w for w in load(duck, orders_source(), once).warnings if "repeat" in w] == [
        "once.csv: 1 line repeats another line of its order exactly (same product, quantity and price) and was "
        "loaded as a line of its own, since the file has no line numbers to tell a second item from a line "
        "exported twice; if they are export errors, correct the file and the next run replaces those orders"
    ]
