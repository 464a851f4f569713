"""Alerts: a real SMTP server and a real HTTP webhook on 127.0.0.1 receive what broke, with rows and replay."""

from __future__ import annotations

import re
import socket
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pydantic import SecretStr

from segmint.config import Settings
from segmint.ingest import load_file
from segmint.quality.alerts import build_alert, render, with_retries
from segmint.quality.audit import BatchAudit
from segmint.quality.conclude import QualityOutcome, conclude
from segmint.quality.gate import GateDecision
from segmint.quality.results import stored
from segmint.runs import start_run

DAY = date(2026, 11, 20)
HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def orders_csv(path: Path, negative: int) -> Path:
    lines = [HEADER] + [
        f"O{i},1,C{i % 9},2026-11-20 10:{i:02d}:00,P{i % 5},1,{-4.5 if i <= negative else 4.5},EUR"
        for i in range(1, 41)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def night(con: duckdb.DuckDBPyConnection, settings: Settings, negative: int) -> tuple[str, QualityOutcome]:
    """A run that loads one orders file, with `negative` bad prices among its 40 rows, and concludes."""
    run_id = start_run(con, "nightly", DAY)
    source = next(s for s in settings.sources if s.kind == "orders")
    path = orders_csv(settings.base_dir / "orders" / "orders_2026-11-20.csv", negative)
    load_file(con, source, path, run_id, audit=BatchAudit(settings))
    return run_id, conclude(con, settings, run_id, DAY)


def configure(settings: Settings, smtp_port: int, webhook_url: str | None = None) -> None:
    settings.alerts.smtp_host = "127.0.0.1"
    settings.alerts.smtp_port = smtp_port
    settings.alerts.sender = "segmint@shop.example"
    settings.alerts.recipients = ["owner@shop.example"]
    settings.alerts.webhook_url = SecretStr(webhook_url) if webhook_url else None
    settings.alerts.retries = 2
    settings.alerts.retry_backoff_seconds = 0.01


def text_of(message: Any, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, subtype
    return str(part.get_content()).replace("\r\n", "\n")


def test_a_failed_critical_check_is_emailed_and_posted_with_rows_and_replay(
    con: duckdb.DuckDBPyConnection, settings: Settings, smtp: Any, webhook: Any
) -> None:
    configure(settings, smtp.port, webhook.url)
    run_id, outcome = night(con, settings, negative=30)
    assert not outcome.ok
    assert (
        outcome.line.startswith("data quality FAILED: ") and "alert sent by email and webhook" in outcome.line
    )

    [mail] = smtp.received
    assert mail.rcpt_tos == ["owner@shop.example"] and mail.mail_from == "segmint@shop.example"
    subject = mail.message["Subject"]
    assert subject.startswith("[segmint] Data problem on 2026-11-20: ") and "1 batch held back" in subject
    text, html = text_of(mail.message, "plain"), text_of(mail.message, "html")
    for body in (text, html):
        assert "order_lines" in body and "orders_2026-11-20.csv" in body
        assert "Unit prices are not negative" in body and "30 of 40 rows fail (75.0%)" in body
        assert "Quarantined rows stay below the configured share of the file" in body
        assert f"segmint replay {run_id}" in body
    # Up to ten failing rows per check, by id and value.
    failing = text.split("Unit prices are not negative", 1)[1].split("\n\n", 1)[0]
    assert len(re.findall(r"^   - ", failing, flags=re.M)) == 10
    assert "unit_price=-4.5, row=1, order_id=O1, line_no=1" in failing
    assert "<td" in html and "-4.5" in html and "O10" in html

    [body] = webhook.bodies
    assert body["text"] == subject
    blocks = " ".join(str(b) for b in body["blocks"])
    assert "Unit prices are not negative" in blocks and f"segmint replay {run_id}" in blocks
    sent = con.execute(
        "select channel, target, success, attempts from alerts_sent order by channel"
    ).fetchall()
    # The webhook URL carries a secret token: only its host is recorded.
    assert sent == [("email", "owner@shop.example", True, 1), ("webhook", webhook.url.split("/")[2], True, 1)]


def test_a_run_where_everything_passes_sends_nothing_and_says_ok(
    con: duckdb.DuckDBPyConnection, settings: Settings, smtp: Any, webhook: Any
) -> None:
    configure(settings, smtp.port, webhook.url)
    _, outcome = night(con, settings, negative=0)
    assert outcome.ok and outcome.alert is None
    assert re.fullmatch(
        r"data quality OK: \d+ checks passed \(1 file, night checks, features\)", outcome.line
    )
    assert smtp.received == [] and webhook.attempts == 0
    assert outcome.docs is not None and outcome.docs.is_file()


def test_a_warning_is_counted_beside_the_passed_checks_not_among_them(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    run_id = start_run(con, "nightly", DAY)
    source = next(s for s in settings.sources if s.kind == "orders")
    path = orders_csv(settings.base_dir / "orders" / "orders_2026-11-20.csv", 0)
    # One implausible order value (a warning check, revenue_plausible), nothing critical.
    path.write_text(path.read_text(encoding="utf-8").replace(",4.5,", ",250000,", 1), encoding="utf-8")
    load_file(con, source, path, run_id, audit=BatchAudit(settings))
    outcome = conclude(con, settings, run_id, DAY)
    assert outcome.ok, outcome.line
    found = re.fullmatch(
        r"data quality OK: (\d+) checks passed \(1 file, night checks, features\) \((\d+) warnings?, .*\)",
        outcome.line,
    )
    assert found, outcome.line
    results = stored(con, run_id)
    warnings = [r.key for r in results if not r.success]
    assert "revenue_plausible" in warnings and int(found.group(2)) == len(warnings)
    assert int(found.group(1)) == len(results) - len(warnings)


def test_sending_is_retried_with_backoff_and_a_failure_never_fails_the_run(
    con: duckdb.DuckDBPyConnection, settings: Settings, webhook: Any
) -> None:
    with socket.socket() as s:  # a port nothing listens on: the SMTP server is down
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    configure(settings, closed, webhook.url)
    webhook.fail_first = 2
    _, outcome = night(con, settings, negative=30)
    assert not outcome.ok
    email, hook = outcome.deliveries
    assert (email.success, email.attempts) == (False, 3) and "ConnectionRefusedError" in (email.error or "")
    assert (hook.success, hook.attempts) == (True, 3) and webhook.attempts == 3 and len(webhook.bodies) == 1
    assert con.execute("select channel, success, attempts from alerts_sent order by channel").fetchall() == [
        ("email", False, 3),
        ("webhook", True, 3),
    ]
    assert "alert sent by webhook" in outcome.line


def test_retries_back_off_exponentially_and_report_the_last_error() -> None:
    waits: list[float] = []
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"refused #{len(attempts)}")

    assert with_retries(flaky, retries=3, backoff=2.0, sleep=waits.append) == (3, None)
    assert waits == [2.0, 4.0]

    def down() -> None:
        raise TimeoutError("no answer")

    waits.clear()
    assert with_retries(down, retries=2, backoff=0.5, sleep=waits.append) == (3, "TimeoutError: no answer")
    assert waits == [0.5, 1.0]


def test_unpublished_segments_on_sound_data_are_explained(con: duckdb.DuckDBPyConnection) -> None:
    decision = GateDecision(
        publish=False,
        reasons=["degenerate segmentation: one segment holds 96% of customers (more than 90%)"],
        kept_run_id="seg-1",
        kept_as_of=date(2026, 11, 19),
    )
    alert = build_alert(con, "night-9", DAY, segments=decision)
    assert alert is not None and alert.problems == []
    rendered = render(alert)
    assert rendered.subject == (
        "[segmint] Segments not published on 2026-11-20: "
        "degenerate segmentation: one segment holds 96% of customers (more than 90%)"
    )
    for body in (rendered.text, rendered.html):
        assert "the data passed its checks" in body and "one segment holds 96% of customers" in body
        assert "the segments of 2026-11-19 (run" in body
        assert "WHAT BROKE" not in body and "What broke" not in body
    assert rendered.webhook["blocks"][1]["text"]["text"] == "Tonight's data passed its checks."
    assert build_alert(con, "night-9", DAY, segments=GateDecision(publish=True)) is None


def test_secrets_never_reach_the_log_or_alerts_sent_when_servers_quote_them(
    con: duckdb.DuckDBPyConnection, settings: Settings, caplog: Any
) -> None:
    import secrets

    from leaky_servers import failing_smtp, failing_webhook

    password = f"pw-{secrets.token_urlsafe(16)}"
    hook = f"xoxb-{secrets.token_urlsafe(18)}"
    query = f"sig-{secrets.token_urlsafe(12)}"
    with failing_smtp() as smtp, failing_webhook() as server:
        url = f"http://127.0.0.1:{server.port}/services/T0AAAA1/B0BBBB2/{hook}?key={query}"
        configure(settings, smtp.port, url)
        settings.alerts.smtp_user = "shop"
        settings.alerts.smtp_password = SecretStr(password)
        with caplog.at_level("WARNING"):
            _, outcome = night(con, settings, negative=30)
        # smtplib tries each login mechanism the server offers, so a refused attempt is one or more logins.
        assert smtp.calls >= 3 and server.calls == 3, "both failed every attempt"
    email, webhook = outcome.deliveries
    assert not email.success and not webhook.success
    # The servers did quote the secrets: the records say where, masked.
    assert "SMTPAuthenticationError" in (email.error or "") and "[redacted]" in (email.error or "")
    assert "HTTP Error 500: no such hook [redacted]" in (webhook.error or "")
    stored = str(con.execute("select * from alerts_sent").fetchall())
    logged = caplog.text
    assert "alert by webhook to 127.0.0.1" in logged, "the host stays readable"
    for secret in (password, hook, query, url):
        assert secret not in stored and secret not in logged
    assert "/services/T0AAAA1" not in stored + logged


def test_a_sender_with_a_display_name_sends_from_its_bare_address(
    con: duckdb.DuckDBPyConnection, settings: Settings, smtp: Any
) -> None:
    configure(settings, smtp.port)
    settings.alerts.sender = "Our shop <segmint@shop.example>"
    night(con, settings, negative=30)
    [mail] = smtp.received
    assert mail.mail_from == "segmint@shop.example"  # the SMTP envelope takes the address alone
    assert mail.message["From"] == "Our shop <segmint@shop.example>"
    assert mail.message["Message-ID"].endswith("@shop.example>")


def test_an_alert_to_the_placeholder_smtp_server_is_not_retried() -> None:
    from segmint.config import AlertSettings
    from segmint.quality.alerts import Alert, send_email

    with socket.socket() as probe:
        if probe.connect_ex(("localhost", 25)) == 0:
            pytest.skip("a mail server listens on localhost:25 here")
    alerts = AlertSettings(recipients=["owner@shop.example"], retries=4, retry_backoff_seconds=5)
    delivery = send_email(alerts, render(Alert("r1", date(2026, 11, 8), [])))
    assert (delivery.success, delivery.attempts) == (False, 0)
    assert delivery.error is not None and delivery.error.startswith(
        "SMTP is not configured (nothing accepts mail"
    )
    assert "alert was not sent" in delivery.error
