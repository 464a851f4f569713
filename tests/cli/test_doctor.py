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
    assert done.stdout.splitlines()[-1] == "1 of 10 checks failed; fix them and run `segmint doctor` again"


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
    assert done.stdout.splitlines()[-1].startswith("6 of 10 checks failed")
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
    # The same shop's clickstream exported for a period three years after its orders.
    events = tmp_path / "events" / "events.csv"
    with events.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["occurred_at"] = str(datetime.fromisoformat(row["occurred_at"]) + timedelta(days=1100))
    with events.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    check = check_periods(load_settings(config))
    assert check.ok is False and "(source files): they do not overlap" in check.detail, check.detail
    assert check.detail.endswith("export orders and events for the same period")
