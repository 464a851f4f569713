"""`segmint init` on exports no preset reads: columns found by header synonyms, --map, dates whose day and
month could swap, decimal commas, and a shop that sends only web events; then doctor and a real nightly."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cli.conftest import REAL, Cli, clean_env
from segmint.config import load_settings
from segmint.ingest.detect import date_layout, detect_columns, separators

HEADERS = ["Order Number", "Created At", "Customer Email", "Item", "Qty", "Unit Price", "Currency"]
NIGHT = "2024-04-12"


def write_orders(
    path: Path,
    headers: list[str] = HEADERS,
    *,
    day_first: bool = True,
    customers: int = 30,
    delimiter: str = ";",
) -> Path:
    """A hand-made shop export: 1 to 12 April 2024 (every day fits day-first and month-first), prices
    with a decimal comma ("12,50"), two lines per order, some customers buying twice."""
    start = datetime(2024, 4, 1, 9, 0)
    fmt = "%d/%m/%Y %H:%M" if day_first else "%m/%d/%Y %H:%M"
    lines = [delimiter.join(headers)]
    order = 1000
    for c in range(customers):
        for visit in range(1 + c % 3):
            order += 1
            when = (start + timedelta(days=(c + 4 * visit) % 12, minutes=7 * c)).strftime(fmt)
            for sku, qty, price in (("TEA-1", 1 + c % 2, "12,50"), (f"MUG-{c % 4}", 1, "8,00")):
                row = [str(order), when, f"c{c}@shop.test", sku, str(qty), price, "EUR"]
                lines.append(delimiter.join(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_events(path: Path) -> Path:
    """A hand-made clickstream of 40 visitors (no orders file): views, carts and checkouts in April 2024."""
    lines = ["Timestamp,Visitor ID,Session,Action,SKU,Price"]
    start = datetime(2024, 4, 1, 8, 0)
    for v in range(40):
        when = start + timedelta(days=v % 12, minutes=v)
        for step, action in enumerate(("page_view", "view", "add_to_cart", "checkout")[: 1 + v % 4]):
            sku, price = ("", "") if action == "page_view" else (f"SKU-{v % 5}", f"{10 + v % 5}.90")
            at = (when + timedelta(minutes=step)).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{at},v{v},s{v}-{v % 2},{action},{sku},{price}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the guesses themselves ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("Order ID", "order_id"),
        ("order_number", "order_id"),
        ("InvoiceNo", "order_id"),
        ("Created At", "ordered_at"),
        ("order_date", "ordered_at"),
        ("InvoiceDate", "ordered_at"),
        ("Qty", "quantity"),
        ("Unit Price", "unit_price"),
        ("price", "unit_price"),
        ("Customer", "customer_id"),
        ("CustomerID", "customer_id"),
        ("user_id", "customer_id"),
        ("Email", "email"),
        ("customer_email", "email"),
        ("Currency", "currency"),
        ("SKU", "product_id"),
        ("StockCode", "product_id"),
        ("product", "product_name"),
        ("Product", "product_name"),
        ("Product Name", "product_name"),
        ("Item name", "product_name"),
        ("Artikel", "product_name"),
        ("Artikelname", "product_name"),
        ("Produkt", "product_name"),
        ("Bezeichnung", "product_name"),
        ("Artikelnummer", "product_id"),
        ("Bestellnummer", "order_id"),
        ("Datum", "ordered_at"),
        ("Menge", "quantity"),
        ("Stück", "quantity"),
        ("Preis", "unit_price"),
        ("Prix unitaire", "unit_price"),
        ("Cantidad", "quantity"),
        ("Währung", "currency"),
        ("Kunde", "customer_id"),
        ("Courriel", "email"),
        ("Billing Country", "country"),
        ("Item Cost", "unit_price"),
    ],
)
def test_headers_are_matched_by_synonym(header: str, canonical: str) -> None:
    assert detect_columns("orders", ["something else", header]).get(canonical) == header


def test_each_header_goes_to_one_column_and_an_email_stands_in_for_a_customer_id() -> None:
    found = detect_columns("orders", ["Order No", "Date", "E-mail", "Qty", "Price", "Unit Price"])
    assert found == {
        "order_id": "Order No",
        "ordered_at": "Date",
        "quantity": "Qty",
        "unit_price": "Unit Price",  # the canonical name wins over the synonym "Price"
        "email": "E-mail",
        "customer_id": "E-mail",
    }
    events = detect_columns(
        "events", ["event_time", "event_type", "user_id", "user_session", "category_code"]
    )
    assert events == {
        "occurred_at": "event_time",
        "event_type": "event_type",
        "customer_id": "user_id",
        "session_id": "user_session",
        "category": "category_code",
    }


def test_dates_are_classified_as_the_loader_reads_them() -> None:
    ambiguous = date_layout(["03/04/2024 10:15", "05/04/2024 11:00"])
    assert ambiguous.ambiguous
    assert (ambiguous.day_first, ambiguous.month_first) == ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M")
    day_first = date_layout(["03/04/2024", "25/04/2024"])
    assert (day_first.ambiguous, day_first.fmt) == (False, "%d/%m/%Y")
    assert date_layout(["04.25.2024 10:00:00"]).fmt == "%m.%d.%Y %H:%M:%S"
    assert date_layout(["2024-04-03T10:15:00+02:00", "2024-04-05 11:00:00"]).fmt is None  # ISO: as is


def test_separators_are_read_from_the_amounts() -> None:
    assert (separators(["12,50", "3", "8,00"]).decimal, separators(["12,50"]).thousands) == (",", None)
    assert (separators(["1.234,56", "2,5"]).decimal, separators(["1.234,56", "2,5"]).thousands) == (",", ".")
    assert (separators(["1,234.00", "5.00"]).decimal, separators(["1,234.00"]).thousands) == (".", ",")
    assert separators(["12.50", "3"]).decimal == "."
    assert separators(["1", "2"]) == separators([])


# -- segmint init ------------------------------------------------------------------------------------------


def test_init_maps_non_preset_headers_by_name(cli: Cli, tmp_path: Path) -> None:
    export = write_orders(tmp_path / "downloads" / "orders.csv", day_first=True)
    # One day above 12 makes the dates plainly day-first: no question, the format is written down.
    with export.open("a", encoding="utf-8") as handle:
        handle.write("2000;25/04/2024 10:00;late@shop.test;TEA-1;1;12,50;EUR\n")
    done = cli("init", "shop", "--orders", str(export), "--no-input")
    assert done.returncode == 0, done.stderr
    assert "orders: " in done.stdout and "columns mapped by name" in done.stdout
    text = (tmp_path / "shop" / "segmint.toml").read_text()
    assert "# Dates such as '25/04/2024 10:00' are day first" in text
    assert "# Amounts such as '12,50' use a decimal comma" in text
    [source] = load_settings(tmp_path / "shop" / "segmint.toml").sources
    assert (source.kind, source.preset, source.timestamp_format) == ("orders", "canonical", "%d/%m/%Y %H:%M")
    assert source.decimal_separator == ","
    assert source.columns == {
        "order_id": "Order Number",
        "ordered_at": "Created At",
        "quantity": "Qty",
        "unit_price": "Unit Price",
        "customer_id": "Customer Email",
        "product_id": "Item",
        "currency": "Currency",
        "email": "Customer Email",
    }


def test_a_column_init_cannot_find_needs_map_without_a_terminal(cli: Cli, tmp_path: Path) -> None:
    headers = ["Beleg", "Created At", "Customer", "Item", "Qty", "Betrag je Stück", "Currency"]
    export = write_orders(tmp_path / "orders.csv", headers)
    missing = cli("init", "shop", "--orders", str(export), "--timestamp-format", "%d/%m/%Y %H:%M")
    assert missing.returncode == 2
    [line] = missing.stderr.strip().splitlines()
    assert line.startswith("error: orders.csv has no column init recognises as order_id or unit_price")
    assert "pass --map order_id=<header> --map unit_price=<header>" in line
    assert not (tmp_path / "shop").exists()

    done = cli(
        "init",
        "shop",
        "--orders",
        str(export),
        "--map",
        "order_id=beleg",  # headers match whatever their case
        "--map",
        "orders.unit_price=Betrag je Stück",
        "--map",
        "product_id=Customer",  # a --map overrides what was found by name...
        "--map",
        "customer_id=Item",  # ...even when that header had been given to another column
        "--timestamp-format",
        "%d/%m/%Y %H:%M",
        "--no-input",
    )
    assert done.returncode == 0, done.stderr
    [source] = load_settings(tmp_path / "shop" / "segmint.toml").sources
    assert source.columns["order_id"] == "Beleg"
    assert source.columns["unit_price"] == "Betrag je Stück"
    assert (source.columns["product_id"], source.columns["customer_id"]) == ("Customer", "Item")


def test_bad_map_flags_say_what_to_write(cli: Cli, tmp_path: Path) -> None:
    export = write_orders(tmp_path / "orders.csv")
    tz = ["--timestamp-format", "%d/%m/%Y %H:%M", "--no-input"]
    unknown = cli("init", "--orders", str(export), "--map", "price_each=Unit Price", *tz)
    assert unknown.returncode == 2
    assert "'price_each' is not a column segmint reads; use one of" in unknown.stderr
    shape = cli("init", "--orders", str(export), "--map", "unit_price", *tz)
    assert shape.returncode == 2 and "is not canonical=Header" in shape.stderr
    absent = cli("init", "--orders", str(export), "--map", "orders.unit_price=Preis", *tz)
    assert absent.returncode == 2
    assert "--map orders.unit_price=Preis: orders.csv has no column 'Preis'; its columns are" in absent.stderr
    nowhere = cli("init", "--orders", str(export), "--map", "unit_price=Preis", *tz)
    assert nowhere.returncode == 2 and "no export has a column 'Preis'" in nowhere.stderr


def test_ambiguous_dates_need_a_format_and_a_wrong_one_is_refused(cli: Cli, tmp_path: Path) -> None:
    export = write_orders(tmp_path / "orders.csv", day_first=False)
    asked = cli("init", "shop", "--orders", str(export), "--no-input")
    assert asked.returncode == 2
    [line] = asked.stderr.strip().splitlines()
    assert "dates such as" in line and "fit both day-first and month-first" in line
    assert "pass --timestamp-format '%d/%m/%Y %H:%M' (day first) or '%m/%d/%Y %H:%M' (month first)" in line
    wrong = cli("init", "shop", "--orders", str(export), "--timestamp-format", "%Y-%m-%d", "--no-input")
    assert wrong.returncode == 2 and "does not read the dates of orders.csv" in wrong.stderr
    done = cli("init", "shop", "--orders", str(export), "--timestamp-format", "%m/%d/%Y %H:%M", "--no-input")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "shop" / "segmint.toml").read_text()
    assert "fit both day-first and month-first: read as the owner told init" in text
    assert load_settings(tmp_path / "shop" / "segmint.toml").sources[0].timestamp_format == "%m/%d/%Y %H:%M"


def test_at_a_terminal_init_shows_the_columns_and_asks_for_the_gaps(tmp_path: Path) -> None:
    headers = ["Beleg", "Created At", "Customer", "Item", "Qty", "Unit Price", "Currency"]
    export = write_orders(tmp_path / "orders.csv", headers)
    # stdin a terminal (a pty), as when the owner types the answers: the preset (the default), the
    # column init could not find, yes to the columns shown, day first.
    answers = ["", "Beleg", "y", "d"]
    primary, secondary = pty.openpty()
    try:
        os.write(primary, ("\n".join(answers) + "\n").encode())
        done = subprocess.run(
            [
                *(sys.executable, "-c", "from segmint.cli import main; main()", "init", "shop"),
                *("--orders", str(export), "--events", "", "--customers", ""),
                *("--timezone", "UTC", "--email", ""),
            ],
            stdin=secondary,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=clean_env(),
            timeout=120,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Column of orders.csv holding order_id" in done.stdout
    assert "unit_price" in done.stdout and "<- Unit Price" in done.stdout
    assert "Use these columns?" in done.stdout and "fit day first and month first" in done.stdout
    [source] = load_settings(tmp_path / "shop" / "segmint.toml").sources
    assert (source.columns["order_id"], source.timestamp_format) == ("Beleg", "%d/%m/%Y %H:%M")


def test_events_only_init_writes_one_events_source(cli: Cli, tmp_path: Path) -> None:
    events = write_events(tmp_path / "clicks.csv")
    done = cli("init", "shop", "--events", str(events), "--no-input")
    assert done.returncode == 0, done.stderr
    assert "no orders export: nights load the web events only" in done.stdout
    [source] = load_settings(tmp_path / "shop" / "segmint.toml").sources
    assert (source.name, source.kind, source.preset) == ("web", "events", "canonical")
    assert source.columns == {
        "occurred_at": "Timestamp",
        "event_type": "Action",
        "customer_id": "Visitor ID",
        "session_id": "Session",
        "product_id": "SKU",
        "price": "Price",
    }
    none = cli("init", "other", "--no-input")
    assert none.returncode == 2
    assert "pass --orders PATH (a file or a glob), or --events PATH" in none.stderr


# -- then doctor and a real nightly on what init wrote ------------------------------------------------------


def _doctor_and_nightly(cli: Cli, tmp_path: Path, api_url: str, night: str) -> tuple[str, str]:
    # The exports are from 2024: doctor would rightly call them stale before a night is computed.
    env = clean_env(PREFECT_API_URL=api_url, SEGMINT_QUALITY__MAX_DATA_AGE_DAYS="100000")
    config = str(tmp_path / "shop" / "segmint.toml")
    doctor = cli("doctor", "--config", config, env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    nightly = cli("run", "nightly", "--config", config, "--as-of", night, env=env)
    output = nightly.stdout + nightly.stderr
    assert "Traceback" not in output, output[-3000:]
    assert nightly.returncode == 0, output[-3000:]
    assert f"for {night}: completed" in nightly.stdout
    return doctor.stdout, nightly.stdout


def test_the_mapped_config_runs_doctor_and_a_nightly(cli: Cli, tmp_path: Path, prefect_api_url: str) -> None:
    headers = ["Beleg", "Created At", "Customer Email", "Item", "Qty", "Unit Price", "Currency"]
    export = write_orders(tmp_path / "downloads" / "orders.csv", headers, day_first=True)
    init = cli(
        "init",
        "shop",
        "--orders",
        str(export),
        "--map",
        "order_id=Beleg",
        "--timestamp-format",
        "%d/%m/%Y %H:%M",
        "--no-input",
    )
    assert init.returncode == 0, init.stderr
    doctor, nightly = _doctor_and_nightly(cli, tmp_path, prefect_api_url, NIGHT)
    assert "read as canonical with 8 mapped columns" in doctor
    assert "shop: 120 read = 120 loaded + 0 quarantined" in nightly
    with duckdb.connect(str(tmp_path / "shop" / "data" / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute(
            "select count(*), min(ordered_at)::date, max(ordered_at)::date, sum(revenue) from orders"
        ).fetchone()
    assert row is not None
    # Day first as told, and "12,50" is twelve and a half.
    assert (row[0], str(row[1]), str(row[2])) == (60, "2024-04-01", "2024-04-12")
    assert float(row[3]) == sum((12.5 * (1 + c % 2) + 8.0) * (1 + c % 3) for c in range(30))


def test_an_events_only_shop_runs_doctor_and_a_nightly(
    cli: Cli, tmp_path: Path, prefect_api_url: str
) -> None:
    # A clickstream with headers no preset knows, and no orders file at all.
    events = write_events(tmp_path / "downloads" / "clicks.csv")
    init = cli("init", "shop", "--events", str(events), "--no-input")
    assert init.returncode == 0, init.stderr
    doctor, nightly = _doctor_and_nightly(cli, tmp_path, prefect_api_url, NIGHT)
    assert "skip  orders: no orders source: nights load web events only" in doctor
    assert "web: 100 read = 100 loaded + 0 quarantined" in nightly
    assert "segments not computed: segmint.toml has no orders source" in nightly
    assert "lifetime value and churn skipped: they are learnt from purchases" in nightly
    assert "churn needs" not in nightly  # one plain sentence, not each model's own reason


def test_the_rees46_sample_alone_is_read_with_its_preset(cli: Cli, tmp_path: Path) -> None:
    events = tmp_path / "downloads" / "2019-Oct-head1000.csv"
    events.parent.mkdir()
    shutil.copy(REAL / "rees46_sample" / "2019-Oct-head1000.csv", events)
    init = cli("init", "shop", "--events", str(events), "--no-input")
    assert init.returncode == 0, init.stderr
    assert "events: " in init.stdout and "(preset rees46)" in init.stdout
    # The sample is from 2019: its age would rightly fail doctor's data-age check.
    env = clean_env(PREFECT_HOME=str(tmp_path / "prefect-home"), SEGMINT_QUALITY__MAX_DATA_AGE_DAYS="100000")
    doctor = cli("doctor", "--config", str(tmp_path / "shop" / "segmint.toml"), env=env)
    assert doctor.returncode == 0, doctor.stdout
    assert "read as rees46" in doctor.stdout
    assert "skip  orders: no orders source" in doctor.stdout


def test_init_reads_a_windows_1252_excel_export_and_doctor_checks_its_encoding(
    cli: Cli, tmp_path: Path
) -> None:
    from excel_exports import german_rows, write_cp1252
    from segmint.doctor import check_sources

    export = write_cp1252(tmp_path / "exports" / "bestellungen.csv", german_rows())
    done = cli("init", "shop", "--orders", "exports/*.csv", "--map", "currency=Währung", "--no-input")
    assert done.returncode == 0, done.stderr
    assert "left unmapped (not read)" not in done.stdout  # every German header has a column
    assert 'not UTF-8: read with encoding = "cp1252"' in done.stdout
    config = tmp_path / "shop" / "segmint.toml"
    text = config.read_text(encoding="utf-8")
    assert "# bestellungen.csv is not UTF-8: read as cp1252 (cp1252 is what Excel writes" in text
    assert 'currency = "Währung"  # given with --map' in text
    assert 'order_id = "Bestellnummer"\n' in text
    assert "found by init by name, except those marked as given with --map" in text
    assert "Copy to" not in text and "copy campaigns.example.toml" not in text
    assert "Copy to" not in (tmp_path / "shop" / "campaigns.toml").read_text(encoding="utf-8")
    settings = load_settings(config)
    [source] = settings.sources
    assert source.encoding == "cp1252"
    assert source.columns == {
        "order_id": "Bestellnummer",
        "ordered_at": "Datum",
        "quantity": "Menge",
        "unit_price": "Preis",
        "customer_id": "Kunde",
        "email": "E-Mail",
        "product_name": "Artikel",
        "currency": "Währung",
    }
    assert [c.ok for c in check_sources(settings)] == [True]
    # Without the encoding, doctor says what to set.
    config.write_text(text.replace('encoding = "cp1252"\n', ""), encoding="utf-8")
    [check] = check_sources(load_settings(config))
    assert check.ok is False
    assert check.detail.startswith(
        f"{export.name} is not UTF-8 (line 1): set encoding = \"cp1252\" on source 'shop' (the usual "
        "encoding of Excel exports in Western Europe), or re-save the file as UTF-8"
    ), check.detail


def test_init_prints_the_columns_it_leaves_unmapped(cli: Cli, tmp_path: Path) -> None:
    export = write_orders(tmp_path / "orders.csv", [*HEADERS, "Gift Wrap", "Notes"])
    text = export.read_text().replace("\n", ";no;\n").replace("Notes;no;", "Notes", 1)
    export.write_text(text)
    done = cli("init", "shop", "--orders", str(export), "--timestamp-format", "%d/%m/%Y %H:%M", "--no-input")
    assert done.returncode == 0, done.stderr
    assert "  left unmapped (not read): Gift Wrap, Notes" in done.stdout
    toml = (tmp_path / "shop" / "segmint.toml").read_text()
    assert "# Not read (no segmint column): Gift Wrap, Notes." in toml
    assert "found by init by name; fix any that is wrong" in toml and "given with --map" not in toml
