"""`segmint doctor`: one line per check with what to do, a real SMTP login, a real Prefect server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli.conftest import REAL, Cli, clean_env
from report.smtp import free_port, smtp_sink


def shop_folder(tmp_path: Path, cli: Cli, *extra: str, old_data_ok: bool = True) -> Path:
    """The CDNOW sample (1997-1998) set up by `segmint init`; `old_data_ok` lets its age pass doctor."""
    export = tmp_path / "exports" / "CDNOW_sample.txt"
    export.parent.mkdir()
    shutil.copy(REAL / "cdnow" / "CDNOW_sample.txt", export)
    done = cli("init", "--orders", "exports/*.txt", "--no-input", *extra)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "segmint.toml"
    if old_data_ok:
        config.write_text(
            config.read_text().replace("[quality]\n", "[quality]\nmax_data_age_days = 20000\n", 1)
        )
    return config


def lines(output: str) -> dict[str, str]:
    """Each check's line by its name: 'ok    source 'shop': ...' -> {"source 'shop'": "ok ..."}."""
    found = {}
    for line in output.splitlines():
        mark, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        if mark in {"ok", "FAIL", "skip"}:
            found[name] = f"{mark} {detail}"
    return found


def test_a_fresh_folder_checks_the_exports_age_and_says_what_is_skipped(cli: Cli, tmp_path: Path) -> None:
    shop_folder(tmp_path, cli, old_data_ok=False)
    done = cli("doctor")
    assert done.returncode == 1, done.stdout + done.stderr  # only the 1998 export's age fails
    checks = lines(done.stdout)
    assert checks["config"] == f"ok {tmp_path / 'segmint.toml'}"
    assert checks["source 'shop'"].startswith("ok 1 file matches 'exports/*.txt', read as cdnow; the newest")
    assert checks["playbook"] == f"ok {tmp_path / 'campaigns.toml'} (4 campaigns)"
    assert checks["warehouse folder"] == f"ok {tmp_path / 'data'} (will be created)"
    assert checks["smtp"] == "skip no [alerts] recipients: alerts and the weekly report are not emailed"
    assert checks["sender"].startswith("skip alerts and the weekly report need a sender: set [alerts] sender")
    assert checks["prefect"].startswith("skip no PREFECT_API_URL: each run starts a temporary Prefect server")
    # Before the first run the data's age comes from the export itself: CDNOW ends in June 1998.
    assert checks["data age"].startswith(
        "FAIL source files, nothing loaded yet: your newest order is 1998-06-30, "
    ), checks["data age"]
    assert "pass --as-of 1998-06-30 to compute that night (limit 3 days" in checks["data age"]
    assert checks["currencies"] == "ok orders in USD"  # CDNOW's preset says its dollars
    assert done.stdout.splitlines()[-1] == "1 of 11 checks failed; fix them and run `segmint doctor` again"


def test_the_data_age_of_fresh_source_files_passes_before_the_first_run(tmp_path: Path) -> None:
    from datetime import date, timedelta

    import shops
    from segmint.config import load_settings
    from segmint.doctor import check_data_age

    yesterday = date.today() - timedelta(days=1)
    config = shops.write_shop(tmp_path, shops.ShopShape(customers=20, days=30, end=yesterday))
    check = check_data_age(load_settings(config))
    newest = max(
        str(r["ordered_at"])[:10]
        for r in shops.order_rows(shops.ShopShape(customers=20, days=30, end=yesterday))
    )
    age = (yesterday - date.fromisoformat(newest)).days
    assert check.ok is (age <= 3) and check.detail.startswith(
        f"source files, nothing loaded yet: newest order {newest}, {age} days before tonight"
    ), check.detail
    stale = shops.ShopShape(customers=20, days=30, end=yesterday, stale_days=400, events=False)
    config = shops.write_shop(tmp_path / "old", stale)
    check = check_data_age(load_settings(config))
    newest = max(str(r["ordered_at"])[:10] for r in shops.order_rows(stale))
    assert check.ok is False and f"your newest order is {newest}, " in check.detail, check.detail
    # Once the owner has computed the last night with data, doctor stops failing on the old export.
    from segmint.warehouse import connect

    settings = load_settings(config)
    with connect(settings.warehouse.path) as con:
        con.execute(
            "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, currency, source_file) "
            "values ('O1', 'C1', ?::timestamp, false, 5, 'EUR', 'a.csv')",
            [newest],
        )
        con.execute(
            "insert into runs (run_id, flow, as_of, started_at, finished_at, status) "
            "values ('r1', 'nightly', ?, now(), now(), 'completed')",
            [newest],
        )
    check = check_data_age(settings)
    assert check.ok is True and f"the night of {newest} is computed (run r1)" in check.detail, check.detail


def test_every_failure_is_one_line_with_what_to_do_and_exit_1(cli: Cli, tmp_path: Path) -> None:
    config = shop_folder(tmp_path, cli, "--email", "owner@shop.test")
    (tmp_path / "exports" / "CDNOW_sample.txt").unlink()
    (tmp_path / "campaigns.toml").unlink()
    (tmp_path / "data").write_text("a file where the data folder goes")
    port = free_port()  # nothing listens there
    with (tmp_path / ".env").open("a") as env:
        env.write(f"SEGMINT_ALERTS__SMTP_HOST=127.0.0.1\nSEGMINT_ALERTS__SMTP_PORT={port}\n")
    done = cli(
        "doctor", "--config", str(config), env=clean_env(PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    )
    assert done.returncode == 1, done.stdout + done.stderr
    checks = lines(done.stdout)
    assert checks["source 'shop'"] == (
        f"FAIL no file matches 'exports/*.txt' (relative to {tmp_path}); fix its path or put the export there"
    )
    assert checks["playbook"].startswith(f"FAIL Campaign playbook {tmp_path / 'campaigns.toml'} not found")
    assert checks["warehouse folder"].startswith(f"FAIL {tmp_path / 'data'} is a file, not a folder")
    assert checks["smtp"].startswith(f"FAIL cannot talk to 127.0.0.1:{port}")
    assert "check smtp_host, smtp_port and smtp_starttls in [alerts]" in checks["smtp"]
    assert checks["prefect"].startswith(f"FAIL the server at http://127.0.0.1:{port}/api does not answer")
    assert "start it with `prefect server start` or unset PREFECT_API_URL" in checks["prefect"]
    # init's --email is the recipient, so mail comes from that address.
    assert checks["sender"] == (
        "ok mail comes from segmint <owner@shop.test> (the first recipient; set [alerts] sender to change it)"
    )
    assert done.stdout.splitlines()[-1].startswith("6 of 11 checks failed")
    assert "Traceback" not in done.stdout + done.stderr


def test_a_preset_that_does_not_fit_the_export_is_named(cli: Cli, tmp_path: Path) -> None:
    config = shop_folder(tmp_path, cli)
    config.write_text(config.read_text().replace('preset = "cdnow"', 'preset = "online_retail"'))
    done = cli("doctor")
    assert done.returncode == 1
    assert (
        "FAIL  source 'shop': " in done.stdout
        and "required column 'InvoiceNo' or 'Invoice' is missing" in done.stdout
    )


def test_a_config_error_is_the_first_and_only_check(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "segmint.toml").write_text("[warehouse]\ncolour = 'red'\n")
    done = cli("doctor")
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        f"FAIL  config: {tmp_path / 'segmint.toml'}: unknown key 'warehouse.colour'; remove it or fix its "
        "spelling (see segmint.example.toml)."
    ]


def test_without_a_config_doctor_says_to_run_init(cli: Cli, tmp_path: Path) -> None:
    done = cli("doctor")
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        f"FAIL  config: Config file {tmp_path / 'segmint.toml'} not found; run `segmint init` in {tmp_path} "
        'to write it from your exports (README, "Using it on your shop"), or pass --config PATH.'
    ]


def test_smtp_login_against_a_real_server(cli: Cli, tmp_path: Path) -> None:
    shop_folder(tmp_path, cli, "--email", "owner@shop.test")
    with smtp_sink(login=("shop", "right")) as server:
        base = f"SEGMINT_ALERTS__SMTP_HOST=127.0.0.1\nSEGMINT_ALERTS__SMTP_PORT={server.port}\nSEGMINT_ALERTS__SMTP_USER=shop\n"
        (tmp_path / ".env").write_text(base + "SEGMINT_ALERTS__SMTP_PASSWORD=right\n")
        good = cli("doctor")
        (tmp_path / ".env").write_text(base + "SEGMINT_ALERTS__SMTP_PASSWORD=wrong\n")
        bad = cli("doctor")
        (tmp_path / ".env").write_text(base)
        none = cli("doctor")
    assert good.returncode == 0, good.stdout
    assert lines(good.stdout)["smtp"] == f"ok logged in to 127.0.0.1:{server.port} as shop"
    assert bad.returncode == 1
    assert lines(bad.stdout)["smtp"] == (
        f"FAIL 127.0.0.1:{server.port} refused the login of shop (535); "
        "check smtp_user and SEGMINT_ALERTS__SMTP_PASSWORD in .env"
    )
    assert lines(none.stdout)["smtp"].startswith("FAIL smtp_user is 'shop' but no password")
    assert server.received == []  # doctor logs in, it sends nothing


@pytest.mark.slow
def test_a_running_prefect_server_is_reachable(cli: Cli, tmp_path: Path, prefect_api_url: str) -> None:
    shop_folder(tmp_path, cli)
    done = cli("doctor", env=clean_env(PREFECT_API_URL=prefect_api_url))
    assert done.returncode == 0, done.stdout
    assert lines(done.stdout)["prefect"] == f"ok server at {prefect_api_url} answers"


def test_orders_and_events_of_different_periods_are_named(tmp_path: Path) -> None:
    import csv
    from datetime import datetime, timedelta

    import shops
    from segmint.config import load_settings
    from segmint.doctor import check_periods

    shape = shops.ShopShape(customers=20, days=60)
    config = shops.write_shop(tmp_path, shape)
    check = check_periods(load_settings(config))
    assert check.ok is True and check.detail.startswith("orders 2026-") and "web events 2026-" in check.detail
    # The same shop's clickstream exported for a period three years before its orders (after them would be
    # in the future, which the load quarantines and doctor leaves out).
    events = tmp_path / "events" / "events.csv"
    with events.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["occurred_at"] = str(datetime.fromisoformat(row["occurred_at"]) - timedelta(days=1100))
    with events.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    check = check_periods(load_settings(config))
    assert check.ok is False and "(source files): they do not overlap" in check.detail, check.detail
    assert check.detail.endswith("export orders and events for the same period")


# One small export per preset (and a [sources.columns] mapping), written here, with its first and last day.
# Shopify fills an order's fields on its first line only, so ordered_at is a window over the order's lines;
# the online retail dates are month first (12/1/2010 is 1 December, as the load reads the file).
PRESET_EXPORTS: dict[str, tuple[str, str, str, str, str]] = {
    "canonical": (
        "orders",
        "orders.csv",
        "order_id,ordered_at,quantity,unit_price,customer_id\n"
        "O1,2026-03-02 10:00:00,1,9.50,C1\nO2,2026-03-09 11:30:00,2,4.00,C2\n",
        "2026-03-02",
        "2026-03-09",
    ),
    "online_retail": (
        "orders",
        "retail.csv",
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
        "536366,22633,HAND WARMER,6,12/19/2010 9:02,1.85,17851,United Kingdom\n",
        "2010-12-01",
        "2010-12-19",
    ),
    "cdnow": (
        "orders",
        "CDNOW.txt",
        " 00001 0001 19970101  1   11.77\n 00002 0002 19970112  1   12.00\n 00002 0002 19970325  5   77.00\n",
        "1997-01-01",
        "1997-03-25",
    ),
    "shopify_orders": (
        "orders",
        "orders_export.csv",
        "Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,"
        "Lineitem sku,Currency,Total,Refunded Amount,Cancelled at\n"
        "#1002,b@example.com,paid,2026-12-02 10:00:00 +0100,1,Mug,12.50,MUG,EUR,12.50,0.00,\n"
        "#1001,a@example.com,paid,2026-12-01 10:00:00 +0100,2,Tea,7.90,TEA,EUR,20.70,0.00,\n"
        "#1001,,,2026-12-01 10:00:00 +0100,1,Spoon,4.90,SPN,,,,\n",
        "2026-12-01",
        "2026-12-02",
    ),
    "rees46": (
        "events",
        "2019-Oct.csv",
        "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
        "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde\n"
        "2019-10-04 08:15:00 UTC,cart,3900821,2053013552326770905,appliances,aqua,33.20,554748717,9333dfbd\n",
        "2019-10-01",
        "2019-10-04",
    ),
    "mapped": (
        "orders",
        "Bestellungen.csv",
        "Bestellnummer,Bestelldatum,Menge,Einzelpreis\nB-1,2026-05-21 17:07,1,6.95\nB-2,2026-06-13 16:40,2,50.00\n",
        "2026-05-21",
        "2026-06-13",
    ),
}
MAPPING = (
    "[sources.columns]\norder_id = 'Bestellnummer'\nordered_at = 'Bestelldatum'\nquantity = 'Menge'\n"
    "unit_price = 'Einzelpreis'\n"
)


def source_config(folder: Path, kind: str, name: str, preset: str, settings: str = "") -> Path:
    """segmint.toml with one source reading `name` in `folder`."""
    config = folder / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'data/warehouse.duckdb'\n[schedule]\ntimezone = 'UTC'\n"
        f"[[sources]]\nname = 'shop'\nkind = '{kind}'\npath = '{name}'\npreset = '{preset}'\n{settings}",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("preset", sorted(PRESET_EXPORTS))
def test_every_preset_s_dates_are_read_from_the_export_before_the_first_run(
    tmp_path: Path, preset: str
) -> None:
    from datetime import date

    from segmint.config import load_settings
    from segmint.doctor import source_period

    kind, name, text, first, last = PRESET_EXPORTS[preset]
    (tmp_path / name).write_text(text, encoding="utf-8")
    mapped = preset == "mapped"
    config = source_config(tmp_path, kind, name, "canonical" if mapped else preset, MAPPING if mapped else "")
    period = source_period(load_settings(config), kind)
    assert period.unreadable == ()
    assert period.days == (date.fromisoformat(first), date.fromisoformat(last))


def test_doctor_reads_a_shopify_export_before_the_first_run(cli: Cli, tmp_path: Path) -> None:
    _, name, text, _, last = PRESET_EXPORTS["shopify_orders"]
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = cli("init", ".", "--orders", name, "--email", "a@b.example", "--no-input")
    assert done.returncode == 0, done.stderr
    assert 'preset = "shopify_orders"' in (tmp_path / "segmint.toml").read_text()
    done = cli("doctor")
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    age = lines(done.stdout)["data age"]
    assert not age.startswith("skip") and "source files, nothing loaded yet: " in age and last in age, age


def test_a_cp1252_export_with_semicolons_and_decimal_commas_is_read_as_the_load_reads_it(
    tmp_path: Path,
) -> None:
    from datetime import date

    from segmint.config import load_settings
    from segmint.doctor import check_data_age, source_period

    text = (
        "Bestellnummer;Bestelldatum;Menge;Einzelpreis;Währung;Land\n"
        "B-1001;21.05.2026 17:07;2;50,00;EUR;Österreich\n"
        "B-1002;13.06.2026 16:40;1;1.234,95;EUR;Deutschland\n"
    )
    (tmp_path / "Bestellungen_Export.csv").write_bytes(text.encode("cp1252"))
    settings = (
        "encoding = 'cp1252'\ntimestamp_format = '%d.%m.%Y %H:%M'\ndecimal_separator = ','\n"
        "thousands_separator = '.'\n" + MAPPING + "currency = 'Währung'\ncountry = 'Land'\n"
    )
    config = source_config(tmp_path, "orders", "Bestellungen_Export.csv", "canonical", settings)
    period = source_period(load_settings(config), "orders")
    assert period.unreadable == ()
    assert period.days == (date(2026, 5, 21), date(2026, 6, 13))
    check = check_data_age(load_settings(config))
    assert "your newest order is 2026-06-13" in check.detail or "newest order 2026-06-13" in check.detail


def test_a_time_the_load_would_quarantine_as_future_does_not_make_the_export_new(tmp_path: Path) -> None:
    from datetime import date, timedelta

    from segmint.config import load_settings
    from segmint.doctor import source_period

    future = date.today() + timedelta(days=200)
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,quantity,unit_price,customer_id\n"
        f"O1,2026-03-02 10:00:00,1,9.50,C1\nO2,{future} 10:00:00,1,9.50,C2\nO3,2026-03-09,1,9.50,C3\n",
        encoding="utf-8",
    )
    period = source_period(
        load_settings(source_config(tmp_path, "orders", "orders.csv", "canonical")), "orders"
    )
    assert period.days == (date(2026, 3, 2), date(2026, 3, 9))


def test_an_export_that_cannot_be_read_is_named_with_why(tmp_path: Path) -> None:
    from segmint.config import load_settings
    from segmint.doctor import check_data_age, check_periods

    # Windows-1252 bytes in a source that says UTF-8: the load rejects it, and doctor says why.
    (tmp_path / "orders.csv").write_bytes(
        "order_id,ordered_at,quantity,unit_price,customer_id\nO1,2026-03-02,1,9.50,Müller\n".encode("cp1252")
    )
    config = source_config(tmp_path, "orders", "orders.csv", "canonical")
    check = check_data_age(load_settings(config))
    assert check.ok is False, check
    assert check.detail.startswith(f"source files, nothing loaded yet: {tmp_path / 'orders.csv'}: "), check
    assert "\n" not in check.detail and "encoding" in check.detail, check.detail
    # A file whose dates do not parse at all is said too, not taken for no file.
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,quantity,unit_price,customer_id\nO1,someday,1,9.50,C1\n", encoding="utf-8"
    )
    check = check_data_age(load_settings(config))
    assert check.ok is False and "no ordered_at" in check.detail and "someday" in check.detail, check
    # Dates that read day first and month first alike: what to set, before the first run holds the file.
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,quantity,unit_price,customer_id\nO1,03/04/2026,1,9.50,C1\nO2,05/06/2026,1,9.50,C2\n",
        encoding="utf-8",
    )
    check = check_data_age(load_settings(config))
    assert check.ok is False and "fit both day-first and month-first dates" in check.detail, check
    assert "set timestamp_format = '%d/%m/%Y' (day first)" in check.detail and "replay" not in check.detail
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,quantity,unit_price,customer_id\nO1,someday,1,9.50,C1\n", encoding="utf-8"
    )
    # The periods check names the reason as well.
    events = tmp_path / "events.csv"
    events.write_text("occurred_at,event_type\n2026-03-02 10:00:00,page_view\n", encoding="utf-8")
    with config.open("a", encoding="utf-8") as f:
        f.write("[[sources]]\nname = 'web'\nkind = 'events'\npath = 'events.csv'\npreset = 'canonical'\n")
    check = check_periods(load_settings(config))
    assert check.ok is None and "someday" in check.detail, check


def test_orders_in_several_currencies_without_exchange_rates_are_named_before_the_first_run(
    tmp_path: Path,
) -> None:
    from segmint.config import load_settings
    from segmint.doctor import check_currencies

    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,quantity,unit_price,customer_id,currency\n"
        "O1,2026-03-02 10:00:00,1,9.50,C1,EUR\nO2,2026-03-03 10:00:00,1,9.50,C2,eur\n"
        "O3,2026-03-04 10:00:00,1,12.00,C3,USD\nO4,2026-03-05 10:00:00,2,8.00,C1,GBP\n",
        encoding="utf-8",
    )
    config = source_config(tmp_path, "orders", "orders.csv", "canonical")
    check = check_currencies(load_settings(config))
    assert check.ok is False
    assert check.detail.startswith(
        "orders in EUR, GBP, USD and no [shop] exchange_rates: the 2 order lines in GBP, USD would be held "
        "until rates convert them to EUR"
    ), check.detail
    (tmp_path / "rates.csv").write_text("date,currency,rate\n2026-03-01,USD,0.9\n2026-03-01,GBP,1.2\n")
    config.write_text(config.read_text() + "[shop]\nexchange_rates = 'rates.csv'\n")
    converted = check_currencies(load_settings(config))
    assert converted.ok is True and "converted to EUR" in converted.detail
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,quantity,unit_price,customer_id\nO1,2026-03-02,1,9.5,C1\n"
    )
    assert check_currencies(load_settings(config)).ok is None  # no currency named: nothing to convert


def test_doctor_reads_each_source_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import Counter
    from contextlib import AbstractContextManager
    from datetime import date, timedelta
    from typing import Any

    import shops
    from segmint import prefect_env
    from segmint.config import load_settings
    from segmint.doctor import run_checks
    from segmint.ingest import load

    end = date.today() - timedelta(days=1)
    shape = shops.ShopShape(customers=20, days=6, end=end)
    config = shops.write_shop(tmp_path, shape, daily_exports=True)
    reads: Counter[str] = Counter()
    real = load._mapped_file

    def counted_read(source: Any, path: Path) -> AbstractContextManager[Any]:
        reads[path.name] += 1
        return real(source, path)

    monkeypatch.setattr(load, "_mapped_file", counted_read)
    # Doctor's Prefect part is not what this test is about: it leaves this process's environment alone.
    monkeypatch.setattr(prefect_env, "configure_prefect", lambda *_: None)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    checks = {c.name: c for c in run_checks(load_settings(config))}
    files = sorted(p.name for kind in ("orders", "events") for p in (tmp_path / kind).glob("*.csv"))
    assert len(files) > 4 and checks["data age"].ok is True and checks["periods"].ok is True
    # The data age, the periods and the currencies come from one read of each file.
    assert reads == Counter(dict.fromkeys(files, 1)), reads


def test_an_unreadable_newest_file_is_said_once_and_the_readable_files_still_give_the_age(
    cli: Cli, tmp_path: Path
) -> None:
    import os
    from datetime import date, timedelta

    day = date.today() - timedelta(days=1)
    header = "order_id,ordered_at,quantity,unit_price,customer_id\n"
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "orders-1.csv").write_text(f"{header}O1,{day} 10:00:00,1,9.50,C1\n", encoding="utf-8")
    # The newest file is Windows-1252 in a source that says UTF-8: the sources check says so.
    newest = folder / "orders-2.csv"
    newest.write_bytes(f"{header}O2,{day} 11:00:00,1,9.50,Müller\n".encode("cp1252"))
    os.utime(folder / "orders-1.csv", (1_000_000_000, 1_000_000_000))
    source_config(tmp_path, "orders", "exports/orders-*.csv", "canonical")
    done = cli("doctor")
    checks = lines(done.stdout)
    assert checks["source 'shop'"].startswith("FAIL orders-2.csv is not UTF-8"), checks
    age = checks["data age"]
    # Said once, by the sources check; the age comes from the file that can be read.
    assert age.startswith(f"ok source files, nothing loaded yet: newest order {day}, "), age
    assert age.endswith("(without orders-2.csv: see the source check above)"), age
    assert "is not UTF-8" not in checks["data age"]

    # An unreadable older file is not the sources check's: data age names it, with the readable files' age.
    os.utime(folder / "orders-1.csv", None)
    os.utime(newest, (1_000_000_000, 1_000_000_000))
    (folder / "orders-1.csv").write_text(
        f"{header}O1,{day} 10:00:00,1,9.50,C1\nO3,{day - timedelta(days=2)} 10:00:00,1,9.50,C3\n",
        encoding="utf-8",
    )
    done = cli("doctor")
    checks = lines(done.stdout)
    assert checks["source 'shop'"].startswith("ok 2 files match"), checks
    age = checks["data age"]
    assert (
        age.startswith(f"FAIL source files, nothing loaded yet: newest order {day}, ")
        and f"(limit 3), from the files that can be read; but {newest}: " in age
    ), age
