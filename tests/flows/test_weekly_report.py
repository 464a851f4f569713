"""The weekly report flow as real Prefect flow runs: render, email to a real SMTP server, lock and retries."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from segmint.cli import load_flow_module
from segmint.report import last_complete_day
from segmint.report.mail import DeliveryError
from segmint.warehouse import connect, writer_lock

pytestmark = pytest.mark.usefixtures("prefect_server")


def with_smtp(config: Path, port: int, **alerts: Any) -> Path:
    lines = ["smtp_host = '127.0.0.1'", f"smtp_port = {port}"] + [f"{k} = {v!r}" for k, v in alerts.items()]
    text = config.read_text(encoding="utf-8").replace("[alerts]\n", "[alerts]\n" + "\n".join(lines) + "\n")
    config.write_text(text, encoding="utf-8")
    return config


def test_weekly_flow_renders_and_emails_the_week(shop_config: Path, smtp: Any) -> None:
    config = with_smtp(shop_config, smtp.port, report_recipients=["owner@example.com", "team@example.com"])
    weekly = load_flow_module("weekly_report").weekly_report
    outcome = weekly(config=str(config), as_of="2026-11-08", send=True)
    assert outcome.path == shop_config.parent / "reports" / "2026-11-08" / "report.html"
    assert outcome.path.is_file() and outcome.email_path.is_file()
    assert outcome.subject == "Your customers, week 2026-W45 (2 Nov – 8 Nov 2026)"
    assert (outcome.sent_to, outcome.refused) == (["owner@example.com", "team@example.com"], [])
    [got] = smtp.received
    assert got.message["Subject"] == outcome.subject
    assert got.rcpt_tos == ["owner@example.com", "team@example.com"]
    with connect(shop_config.parent / "warehouse.duckdb") as con:
        rows = con.execute("select as_of, recipients, sent_at is not null from reports").fetchall()
    assert rows == [(date(2026, 11, 8), "owner@example.com, team@example.com", True)]


def test_without_send_nothing_is_mailed(shop_config: Path, smtp: Any) -> None:
    config = with_smtp(shop_config, smtp.port)
    outcome = load_flow_module("weekly_report").weekly_report(config=str(config), as_of="2026-11-08")
    assert outcome.sent_to == [] and smtp.received == []
    with connect(shop_config.parent / "warehouse.duckdb") as con:
        assert con.execute("select sent_at from reports").fetchall() == [(None,)]


def test_an_unreachable_server_is_retried_then_fails_with_one_sentence(shop_config: Path) -> None:
    import socket

    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        config = with_smtp(shop_config, port, retries=2, retry_backoff_seconds=0.05)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=f"The SMTP server 127.0.0.1:{port} did not accept"):
            load_flow_module("weekly_report").weekly_report(config=str(config), as_of="2026-11-08", send=True)
    assert time.monotonic() - started >= 0.05 + 0.1  # two retries with exponential backoff
    assert delivery_attempts()[-1] == 3  # the first try and two retries
    with connect(shop_config.parent / "warehouse.duckdb") as con:
        assert con.execute("select sent_at from reports").fetchall() == [(None,)]  # rendered, not sent


def delivery_attempts() -> list[int]:
    """How often each `deliver` task run ran, oldest first, as the Prefect server recorded it."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
    from prefect.client.schemas.sorting import TaskRunSort

    async def read() -> list[int]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="deliver")),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            )
            return [r.run_count for r in runs]

    return asyncio.run(read())


def test_the_weekly_flow_waits_for_a_running_nightly(shop_config: Path) -> None:
    config = shop_config.read_text(encoding="utf-8") + "[schedule]\nreport_lock_wait_seconds = 60\n"
    shop_config.write_text(config, encoding="utf-8")
    held = threading.Event()
    released_at: list[float] = []

    def nightly_holding_the_lock() -> None:
        with writer_lock(shop_config.parent / "warehouse.duckdb"):
            held.set()
            time.sleep(3)
            released_at.append(time.monotonic())

    thread = threading.Thread(target=nightly_holding_the_lock)
    thread.start()
    held.wait(10)
    outcome = load_flow_module("weekly_report").weekly_report(config=str(shop_config), as_of="2026-11-08")
    finished = time.monotonic()
    thread.join()
    assert outcome.path.is_file() and finished >= released_at[0]


def test_send_without_recipients_is_a_config_error(tmp_path: Path, shop_config: Path) -> None:
    text = shop_config.read_text(encoding="utf-8").replace("recipients = ['owner@example.com']\n", "")
    shop_config.write_text(text, encoding="utf-8")
    from segmint.errors import ConfigError

    with pytest.raises(ConfigError, match="no recipients for the weekly report"):
        load_flow_module("weekly_report").weekly_report(
            config=str(shop_config), as_of="2026-11-08", send=True
        )


def test_the_week_defaults_to_yesterday_in_the_shop_timezone() -> None:
    monday_early_utc = datetime(
        2026, 11, 9, 0, 30, tzinfo=UTC
    )  # already Monday in Berlin, Sunday in New York
    assert last_complete_day("Europe/Berlin", monday_early_utc) == date(2026, 11, 8)
    assert last_complete_day("America/New_York", monday_early_utc) == date(2026, 11, 7)


def test_run_weekly_report_command(shop_config: Path, smtp: Any, prefect_api_url: str) -> None:
    config = with_smtp(shop_config, smtp.port)
    done = subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", "run", "weekly-report",
         "--config", str(config), "--as-of", "2026-11-08", "--send"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == str(shop_config.parent / "reports" / "2026-11-08" / "report.html")
    assert "sent to owner@example.com" in lines
    assert [r.message["Subject"] for r in smtp.received] == [
        "Your customers, week 2026-W45 (2 Nov – 8 Nov 2026)"
    ]


def test_send_without_smtp_set_up_prints_the_path_and_one_sentence_and_is_not_retried(
    shop_config: Path, prefect_api_url: str
) -> None:
    import socket

    from segmint.errors import EXIT_USAGE

    with socket.socket() as probe:
        if probe.connect_ex(("localhost", 25)) == 0:
            pytest.skip("a mail server listens on localhost:25 here")
    # The shipped placeholder: [alerts] with recipients but smtp_host localhost:25 and no login.
    done = subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", "run", "weekly-report",
         "--config", str(shop_config), "--as-of", "2026-11-08", "--send"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url, "COLUMNS": "300"},
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == EXIT_USAGE, out
    path = shop_config.parent / "reports" / "2026-11-08" / "report.html"
    assert str(path) in done.stdout.splitlines() and path.is_file()
    sentence = (
        "SMTP is not configured (nothing accepts mail at localhost:25), so the weekly report was not sent: "
        f"set smtp_host, smtp_port, smtp_user and smtp_starttls under [alerts] in {shop_config}"
    )
    assert out.count(sentence) == 1, out
    assert "did not accept" not in out and "Traceback" not in out
    with connect(shop_config.parent / "warehouse.duckdb") as con:
        assert con.execute("select sent_at from reports").fetchall() == [(None,)]
