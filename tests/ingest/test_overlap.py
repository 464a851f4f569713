"""Overlapping exports, changed orders, one date layout per file, European numbers, several currencies."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from segmint.config import Settings, ShopSettings, SourceSettings
from segmint.currency import base_currency, sync_shop
from segmint.errors import ConfigError
from segmint.ingest.load import load_file, load_held
from segmint.quality.audit import BatchAudit

NOW = datetime(2024, 6, 10, 12, 0)
HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency,refunded_amount,is_voided"


def shop(**kw: object) -> SourceSettings:
    return SourceSettings(name="shop", kind="orders", path="*.csv", **kw)  # type: ignore[arg-type]


def day_rows(day: date, n: int = 30) -> dict[str, list[str]]:
    """n orders of one day, two lines each, keyed by order id."""
    rows = {}
    for i in range(n):
        oid = f"{day:%m%d}-{i:02d}"
        at = f"{day} {9 + i % 10:02d}:{i:02d}:00"
        rows[oid] = [
            f"{oid},1,C{i % 17},{at},P{i % 5},{1 + i % 3},{2.5 + i % 4:.2f},EUR,,false",
            f"{oid},2,C{i % 17},{at},P{(i + 1) % 5},1,4.00,EUR,,false",
        ]
    return rows


def export(path: Path, orders: dict[str, list[str]]) -> Path:
    path.write_text("\n".join([HEADER, *(line for lines in orders.values() for line in lines)]) + "\n")
    return path


def accounting(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int, int, int, int]]:
    return con.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_held from file_accounting order by path"
    ).fetchall()


def test_daily_exports_repeating_two_days_load_without_hold_and_update_changed_orders(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    days = [date(2024, 6, d) for d in range(1, 6)]
    by_day = {d: day_rows(d) for d in days}
    audit = BatchAudit(Settings(config_path=tmp_path / "segmint.toml", data_dir=tmp_path / "out"), now=NOW)
    results = []
    for k in range(2, 5):  # exports of days 3, 4, 5, each with the two days before
        orders: dict[str, list[str]] = {}
        for d in days[k - 2 : k + 1]:
            orders |= by_day[d]
        if k == 3:  # two orders of day 2 are refunded and voided in the next export
            orders["0602-01"] = [
                line.replace(",,false", ",3.00,false") for line in by_day[days[1]]["0602-01"]
            ]
            orders["0602-02"] = [line.replace(",,false", ",,true") for line in by_day[days[1]]["0602-02"]]
        if k == 4:  # and a quantity changes on day 4
            orders["0604-03"] = [orders["0604-03"][0], orders["0604-03"][1].replace(",1,4.00", ",2,4.00")]
        results.append(
            load_file(
                duck,
                shop(),
                export(tmp_path / f"orders_{days[k]}.csv", orders),
                f"r{k}",
                now=NOW,
                audit=audit,
            )
        )
    assert [r.status for r in results] == ["loaded"] * 3, [r.message for r in results]
    # 3 days x 30 orders x 2 lines per file; day 1's export (k=2) is all new.
    assert [
        (r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate, r.rows_updated) for r in results
    ] == [
        (180, 180, 0, 0, 0),
        (180, 64, 0, 116, 4),  # day 4 new (60) + two changed orders of day 2 (4 lines)
        (180, 62, 0, 118, 2),  # day 5 new (60) + the changed order of day 4 (2 lines)
    ]
    assert all(
        read == loaded + quarantined + dup + held for read, loaded, quarantined, dup, held in accounting(duck)
    )
    assert duck.execute("select count(*), count(distinct order_id) from orders").fetchone() == (150, 150)
    assert duck.execute(
        "select count(*) from (select distinct order_id, line_no from order_lines)"
    ).fetchone() == (300,)
    assert duck.execute("select count(*) from order_lines").fetchone() == (300,)
    assert duck.execute("select count(*) from quarantine").fetchone() == (0,)
    assert duck.execute(
        "select is_voided, revenue::double from orders where order_id = '0602-02'"
    ).fetchone() == (True, 0.0)
    assert duck.execute(
        "select refunded_amount::double from orders where order_id = '0602-01'"
    ).fetchone() == (3.0,)
    assert duck.execute(
        "select quantity from order_lines where order_id = '0604-03' and line_no = 2"
    ).fetchone() == (2,)
    # The earlier versions are kept, with the run that replaced them; a change seen again is no change.
    history = duck.execute("select order_id, replaced_by_run from orders_history order by 1").fetchall()
    assert history == [("0602-01", "r3"), ("0602-02", "r3"), ("0604-03", "r4")]
    assert duck.execute("select count(*) from order_lines_history").fetchone() == (6,)
    assert not duck.execute("select 1 from held_batches").fetchall()
    assert not [r for r in audit.results if r.blocking]

    # A backfill: an older export (days 0-2, days 1-2 loaded long ago) arrives after the newer ones.
    older = {**day_rows(date(2024, 5, 31)), **by_day[days[0]], **by_day[days[1]]}
    late = load_file(
        duck, shop(), export(tmp_path / "orders_2024-06-02.csv", older), "r5", now=NOW, audit=audit
    )
    assert late.status == "loaded", late.message
    # Days 1 and 2 as first exported: 58 identical lines, and the two orders changed since come back.
    assert (late.rows_loaded, late.rows_duplicate, late.rows_updated) == (64, 116, 4)


def test_on_changed_quarantine_keeps_the_loaded_version(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = export(tmp_path / "a.csv", day_rows(date(2024, 6, 1), 3))
    load_file(duck, shop(on_changed="quarantine"), first, "r1", now=NOW)
    again = day_rows(date(2024, 6, 1), 3)
    again["0601-00"] = [line.replace(",,false", ",1.00,false") for line in again["0601-00"]]
    result = load_file(duck, shop(on_changed="quarantine"), export(tmp_path / "b.csv", again), "r2", now=NOW)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
        6,
        0,
        2,
        4,
    )
    reasons = {r[0] for r in duck.execute("select reason from quarantine").fetchall()}
    assert reasons == {
        f'changed since it was loaded from {first.resolve()} (on_changed = "quarantine" keeps the loaded version)'
    }
    assert duck.execute("select refunded_amount from orders where order_id = '0601-00'").fetchone() == (None,)


def test_events_and_customers_repeat_or_update(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    web = SourceSettings(name="web", kind="events", path="*.csv")
    head = "event_id,occurred_at,customer_id,session_id,event_type,product_id,price"
    (tmp_path / "e1.csv").write_text(
        f"{head}\nE1,2024-06-01 10:00:00,C1,S1,page_view,,\nE2,2024-06-01 10:01:00,C1,S1,product_view,P1,2.50\n"
    )
    (tmp_path / "e2.csv").write_text(
        f"{head}\nE1,2024-06-01 10:00:00,C1,S1,page_view,,\nE2,2024-06-01 10:01:00,C1,S1,product_view,P1,2.75\nE3,2024-06-02 10:00:00,C2,S2,page_view,,\n"
    )
    load_file(duck, web, tmp_path / "e1.csv", "r1", now=NOW)
    result = load_file(duck, web, tmp_path / "e2.csv", "r2", now=NOW)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_updated, result.rows_quarantined) == (
        2,
        1,
        1,
        0,
    )
    assert duck.execute("select price::double from events where event_id = 'E2'").fetchone() == (2.75,)
    assert duck.execute("select price::double from events_history").fetchall() == [(2.5,)]
    crm = SourceSettings(name="crm", kind="customers", path="*.csv")
    (tmp_path / "c1.csv").write_text(
        "customer_id,email,marketing_consent\nC1,a@x.com,true\nC2,b@x.com,false\n"
    )
    (tmp_path / "c2.csv").write_text(
        "customer_id,email,marketing_consent\nC1,a@x.com,true\nC2,new@x.com,true\n"
    )
    load_file(duck, crm, tmp_path / "c1.csv", "r3", now=NOW)
    result = load_file(duck, crm, tmp_path / "c2.csv", "r4", now=NOW)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_updated) == (1, 1, 1)
    assert duck.execute(
        "select email, marketing_consent from customers where customer_id = 'C2'"
    ).fetchone() == ("new@x.com", True)
    assert duck.execute("select email from customers_history").fetchall() == [("b@x.com",)]


FULL = "order_id,line_no,customer_id,ordered_at,product_id,product_name,category,quantity,unit_price,currency,country"


def test_an_overlapping_export_without_optional_columns_repeats_its_orders_and_keeps_their_values(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A later export that leaves out names, categories, currency and country compares only what it has."""
    lines = [
        f"O{i},{j},C{i % 7},2024-06-0{1 + i % 5} 10:00:00,P{j},Product {j},Cat {j % 2},{1 + j},{2 + j}.50,EUR,FR"
        for i in range(40)
        for j in (1, 2)
    ]
    (tmp_path / "full.csv").write_text("\n".join([FULL, *lines]) + "\n")
    audit = BatchAudit(Settings(config_path=tmp_path / "segmint.toml", data_dir=tmp_path / "out"), now=NOW)
    assert load_file(duck, shop(), tmp_path / "full.csv", "r1", now=NOW, audit=audit).status == "loaded"

    def narrow(line: str) -> str:
        oid, no, cust, at, pid, _, _, qty, price, _, _ = line.split(",")
        return ",".join([oid, no, cust, at, pid, qty, price])

    slim = [narrow(line) for line in lines]
    slim[1] = slim[1].replace(",3,4.50", ",5,4.50")  # O0's second line: the quantity changed since
    (tmp_path / "slim.csv").write_text(
        "\n".join(["order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price", *slim]) + "\n"
    )
    result = load_file(duck, shop(), tmp_path / "slim.csv", "r2", now=NOW, audit=audit)
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_loaded, result.rows_duplicate, result.rows_updated) == (
        80,
        2,
        78,
        2,
    )
    assert duck.execute("select count(*) from order_lines").fetchone() == (80,)
    # The updated order keeps what the slim export does not say: names, categories, country.
    assert duck.execute(
        "select line_no, quantity, product_name, category from order_lines where order_id = 'O0' order by 1"
    ).fetchall() == [(1, 2, "Product 1", "Cat 1"), (2, 5, "Product 2", "Cat 0")]
    assert duck.execute("select country from orders where order_id = 'O0'").fetchone() == ("FR",)
    assert duck.execute("select count(*) from orders_history").fetchone() == (1,)
    assert not duck.execute("select 1 from held_batches").fetchall()
    # The full export again is still a repeat of what is stored, O0 included as updated.
    (tmp_path / "full2.csv").write_text(
        "\n".join(
            [
                FULL,
                *[
                    line.replace(
                        "O0,2,C0,2024-06-01 10:00:00,P2,Product 2,Cat 0,3,",
                        "O0,2,C0,2024-06-01 10:00:00,P2,Product 2,Cat 0,5,",
                    )
                    for line in lines
                ],
            ]
        )
        + "\n"
    )
    again = load_file(duck, shop(), tmp_path / "full2.csv", "r3", now=NOW, audit=audit)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_updated) == (0, 80, 0)


def test_files_without_optional_columns_keep_events_and_consent(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    web = SourceSettings(name="web", kind="events", path="*.csv")
    (tmp_path / "e1.csv").write_text(
        "event_id,occurred_at,customer_id,session_id,event_type,product_id,price,category\n"
        "E1,2024-06-01 10:00:00,C1,S1,product_view,P1,2.50,Tea\nE2,2024-06-01 10:01:00,C1,S1,add_to_cart,P1,2.50,Tea\n"
    )
    (tmp_path / "e2.csv").write_text(
        "event_id,occurred_at,customer_id,event_type,product_id\n"
        "E1,2024-06-01 10:00:00,C1,product_view,P1\nE2,2024-06-01 10:01:00,C2,add_to_cart,P1\n"
    )
    load_file(duck, web, tmp_path / "e1.csv", "r1", now=NOW)
    result = load_file(duck, web, tmp_path / "e2.csv", "r2", now=NOW)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_updated) == (1, 1, 1)
    assert duck.execute(
        "select customer_id, session_id, price::double, category from events where event_id = 'E2'"
    ).fetchone() == ("C2", "S1", 2.5, "Tea")
    crm = SourceSettings(name="crm", kind="customers", path="*.csv")
    (tmp_path / "c1.csv").write_text(
        "customer_id,email,marketing_consent\nC1,a@x.com,true\nC2,b@x.com,false\n"
    )
    (tmp_path / "c2.csv").write_text("customer_id,email\nC1,a@x.com\nC2,new@x.com\n")
    load_file(duck, crm, tmp_path / "c1.csv", "r3", now=NOW)
    result = load_file(duck, crm, tmp_path / "c2.csv", "r4", now=NOW)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_updated) == (1, 1, 1)
    assert duck.execute(
        "select customer_id, email, marketing_consent from customers order by 1"
    ).fetchall() == [
        ("C1", "a@x.com", True),
        ("C2", "new@x.com", False),
    ]


def test_dates_are_read_with_one_layout_per_file(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    head = "order_id,ordered_at,quantity,unit_price"
    # 13/03 only fits day first: so 04/03 is the 4th of March, not April 3rd.
    (tmp_path / "dmy.csv").write_text(f"{head}\nA1,13/03/2024 10:00,1,2.00\nA2,04/03/2024 11:00,1,2.00\n")
    load_file(duck, shop(), tmp_path / "dmy.csv", "r1", now=NOW)
    assert duck.execute("select ordered_at from orders where order_id = 'A2'").fetchone() == (
        datetime(2024, 3, 4, 11, 0),
    )
    (tmp_path / "mdy.csv").write_text(f"{head}\nB1,03/13/2024,1,2.00\nB2,04/03/2024,1,2.00\n")
    load_file(duck, shop(), tmp_path / "mdy.csv", "r1", now=NOW)
    assert duck.execute("select ordered_at from orders where order_id = 'B2'").fetchone() == (
        datetime(2024, 4, 3),
    )


def test_a_file_that_turns_day_first_after_its_opening_rows_is_read_day_first(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # ISO in the first 1,500 rows (the sample typed as ISO), day-first in the 2,000 after: the layout
    # that parses the most distinct values wins for the whole file, as when the first rows decide.
    iso = [f"A{i},2024-03-01 10:{i % 60:02d}:{i % 7:02d},1,2.00" for i in range(1500)]
    dmy = [f"B{i},{1 + i % 28:02d}/04/2024 {i % 24:02d}:{i % 60:02d},1,2.00" for i in range(2000)]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(["order_id,ordered_at,quantity,unit_price", *iso, *dmy]) + "\n")
    result = load_file(duck, shop(), path, "r1", now=NOW)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3500, 2000, 1500)
    assert duck.execute("select ordered_at from orders where order_id = 'B40'").fetchone() == (
        datetime(2024, 4, 13, 16, 40),
    )
    reasons = duck.execute(
        "select distinct regexp_replace(reason, '\"[^\"]*\"', '') from quarantine"
    ).fetchall()
    assert reasons == [("unparseable ordered_at ",)]


def test_dates_that_fit_both_layouts_hold_the_file_until_timestamp_format_is_set(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "erp.csv"
    path.write_text(
        "order_id,ordered_at,quantity,unit_price\nA1,04/03/2024 10:00,1,2.00\nA2,05/03/2024 11:00,2,1.00\n"
    )
    held = load_file(duck, shop(), path, "r1", now=NOW)
    assert (held.status, held.rows_read, held.rows_held) == ("held", 2, 2)
    assert (
        "timestamp_format" in held.message
        and "'%d/%m/%Y %H:%M'" in held.message
        and "erp.csv" in held.message
    )
    assert held.message.count(".") <= 3 and "\n" not in held.message
    assert duck.execute("select count(*) from orders").fetchone() == (0,)
    assert accounting(duck) == [(2, 0, 0, 0, 2)]
    sha = duck.execute("select sha256 from held_batches").fetchone()[0]  # type: ignore[index]
    replayed = load_held(duck, shop(timestamp_format="%d/%m/%Y %H:%M"), sha, "r2", now=NOW)
    assert replayed.status == "loaded"
    assert duck.execute("select ordered_at from orders order by 1").fetchall() == [
        (datetime(2024, 3, 4, 10, 0),),
        (datetime(2024, 3, 5, 11, 0),),
    ]


def test_a_european_export_with_decimal_commas_loads(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text(
        "order_id;ordered_at;quantity;unit_price;line_revenue\n"
        "A1;2024-05-01 10:00:00;2;1.234,56;2.469,12\nA2;2024-05-02 10:00:00;1;0,99;0,99\n"
    )
    source = shop(delimiter=";", decimal_separator=",", thousands_separator=".")
    result = load_file(duck, source, path, "r1", now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    assert duck.execute(
        "select unit_price::double, line_revenue::double from order_lines order by 1"
    ).fetchall() == [
        (0.99, 0.99),
        (1234.56, 2469.12),
    ]
    with pytest.raises(ValueError, match="cannot use one character for both"):
        shop(decimal_separator=",", thousands_separator=",")


def test_orders_in_four_currencies_are_converted_or_quarantined(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rates = tmp_path / "rates.csv"
    # rate = units of the base currency (GBP) per 1 unit of the currency, from that day on.
    rates.write_text("date,currency,rate\n2011-03-01,EUR,0.86\n2011-03-03,EUR,0.90\n2011-03-01,USD,0.62\n")
    sync_shop(duck, ShopSettings(exchange_rates=rates))
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,ordered_at,quantity,unit_price,currency\n"
        "G1,2011-03-04 10:00:00,1,10.00,GBP\nG4,2011-03-05 10:00:00,1,3.00,GBP\nG2,2011-03-04 11:00:00,2,5.00,GBP\nG3,2011-03-04 11:00:00,1,1.00,\n"
        "E1,2011-03-02 10:00:00,1,10.00,EUR\nE2,2011-03-04 10:00:00,1,10.00,EUR\n"
        "U1,2011-03-04 10:00:00,2,10.00,USD\nS1,2011-03-04 10:00:00,1,10.00,SEK\n"
    )
    result = load_file(duck, shop(), path, "r1", now=NOW)
    assert base_currency(duck) == "GBP"  # the most common currency of the first orders file
    assert (result.rows_loaded, result.rows_quarantined) == (7, 1)
    got = duck.execute(
        "select o.order_id, o.revenue::double, o.currency, h.original_currency, h.original_revenue::double, "
        "h.exchange_rate::double from orders o join order_originals h using (order_id) order by 1"
    ).fetchall()
    assert got == [
        ("E1", 8.6, "GBP", "EUR", 10.0, 0.86),
        ("E2", 9.0, "GBP", "EUR", 10.0, 0.90),  # the rate of the last day on or before the order
        ("G1", 10.0, "GBP", "GBP", 10.0, 1.0),
        ("G2", 10.0, "GBP", "GBP", 10.0, 1.0),
        ("G3", 1.0, "GBP", None, 1.0, 1.0),  # no currency: the base currency
        ("G4", 3.0, "GBP", "GBP", 3.0, 1.0),
        ("U1", 12.4, "GBP", "USD", 20.0, 0.62),
    ]
    assert duck.execute(
        "select original_unit_price::double from order_line_originals where order_id = 'U1'"
    ).fetchone() == (10.0,)
    assert duck.execute("select reason from quarantine").fetchall() == [
        ("no exchange rate for SEK on or before 2011-03-04; add it to [shop] exchange_rates",)
    ]


def test_a_bad_rates_file_is_one_sentence(duck: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("day,currency,rate\n2011-03-01,EUR,0.86\n")
    with pytest.raises(ConfigError, match="lacks the column date"):
        sync_shop(duck, ShopSettings(exchange_rates=rates))
