"""The weekly email delivered to a real SMTP server on 127.0.0.1, and its MIME structure."""

from __future__ import annotations

import re
import socket
from email.message import EmailMessage
from types import ModuleType
from typing import Any

import duckdb
import pytest

from segmint.config import ReportSettings, Settings
from segmint.report import create_report, record_sent, send_report
from segmint.report.mail import DeliveryError

PNG = b"\x89PNG\r\n\x1a\n"


def smtp_settings(settings: Settings, port: int, recipients: list[str]) -> Settings:
    return settings.model_copy(
        update={
            "alerts": settings.alerts.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": port, "report_recipients": recipients}
            )
        }
    )


def check_weekly_email(msg: EmailMessage, chart_keys: list[str], attached: bytes | None = None) -> None:
    """multipart/alternative (text, multipart/related (html, png...)); every PNG is referenced by cid. With
    `attached` (no [report] url), that inside multipart/mixed, followed by report.html with those bytes."""
    assert msg["Subject"] == "Your customers, week 2026-W45 (2 Nov – 8 Nov 2026)"
    if attached is not None:
        assert msg.get_content_type() == "multipart/mixed"
        body, attachment = msg.get_payload()  # type: ignore[misc]
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == "report.html" and attachment.get_content_type() == "text/html"
        assert attachment.get_payload(decode=True) == attached
        msg = body
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert "<script" not in html.lower()
    assert [p.get_content_type() for p in images] == ["image/png"] * len(chart_keys)
    cids = [p["Content-ID"].strip("<>") for p in images]
    assert cids == [f"chart-{k}@segmint" for k in chart_keys]
    assert sorted(re.findall(r'src="cid:([^"]+)"', html)) == sorted(cids)
    for part in images:
        assert part.get_content_disposition() == "inline"
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes) and payload.startswith(PNG)


def test_weekly_email_arrives_with_inline_charts(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, report_settings: Settings, smtp: Any
) -> None:
    settings = smtp_settings(report_settings, smtp.port, ["owner@example.com", "marketing@example.com"])
    result = create_report(shop_con, settings, shop.AS_OF)
    refused = send_report(settings, result)
    assert refused == []
    [got] = smtp.received
    assert got.mail_from == "shop@example.com"
    assert got.rcpt_tos == ["owner@example.com", "marketing@example.com"]
    assert got.message["To"] == "owner@example.com, marketing@example.com"
    # No [report] url: the web report travels with the email, and no server path is named in it.
    check_weekly_email(got.message, ["sizes"], attached=result.path.read_bytes())
    html = got.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = got.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "The full report is attached (report.html)" in html and "The full report is attached" in text
    assert str(result.path.parent) not in html + text
    record_sent(shop_con, result.report_id, settings.alerts.weekly_report_recipients)
    assert shop_con.execute("select recipients, sent_at is not null from reports").fetchall() == [
        ("owner@example.com, marketing@example.com", True)
    ]


def test_the_saved_eml_is_what_is_sent(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, report_settings: Settings
) -> None:
    from email import message_from_bytes, policy

    result = create_report(shop_con, report_settings, shop.AS_OF)
    saved = message_from_bytes(result.email_path.read_bytes(), policy=policy.default)
    assert isinstance(saved, EmailMessage)
    check_weekly_email(saved, ["sizes"], attached=result.path.read_bytes())
    assert saved["To"] == "owner@example.com"  # report_recipients empty: the alert recipients


def test_with_a_report_url_the_email_links_to_the_nights_report(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, report_settings: Settings, smtp: Any
) -> None:
    settings = smtp_settings(report_settings, smtp.port, ["owner@example.com"]).model_copy(
        update={"report": ReportSettings(url="https://shop.example/segmint/")}
    )
    result = create_report(shop_con, settings, shop.AS_OF)
    assert send_report(settings, result) == []
    [got] = smtp.received
    check_weekly_email(got.message, ["sizes"])  # no attachment
    html = got.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = got.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    url = "https://shop.example/segmint/2026-11-08/report.html"
    assert re.findall(r'<a href="([^"]+)"[^>]*id="full-report"', html) == [url]
    assert f"Full report: {url}" in text
    assert str(result.path.parent) not in html + text and "attached" not in html + text


def test_without_a_sender_the_report_comes_from_the_first_recipient(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, tmp_path: Any, smtp: Any
) -> None:
    settings = Settings(
        config_path=tmp_path / "segmint.toml",
        warehouse={"path": tmp_path / "warehouse.duckdb"},
        alerts={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "recipients": ["Owner <owner@myshop.example>"],
        },
    )
    assert settings.alerts.sender is None
    assert send_report(settings, create_report(shop_con, settings, shop.AS_OF)) == []
    [got] = smtp.received
    assert got.mail_from == "owner@myshop.example"
    assert got.message["From"] == "segmint <owner@myshop.example>"
    assert got.message["Message-ID"].endswith("@myshop.example>")


def test_report_recipients_default_to_the_alert_recipients() -> None:
    alerts = Settings(alerts={"recipients": ["ops@example.com"]}).alerts
    assert alerts.weekly_report_recipients == ["ops@example.com"]
    alerts = Settings(
        alerts={"recipients": ["ops@example.com"], "report_recipients": ["me@example.com"]}
    ).alerts
    assert alerts.weekly_report_recipients == ["me@example.com"]


def test_an_unreachable_server_fails_with_one_sentence(
    shop_con: duckdb.DuckDBPyConnection, shop: ModuleType, report_settings: Settings
) -> None:
    with socket.socket() as s:  # a port that is bound but not listening refuses connections
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        settings = smtp_settings(report_settings, port, ["owner@example.com"])
        result = create_report(shop_con, settings, shop.AS_OF)
        with pytest.raises(DeliveryError) as caught:
            send_report(settings, result)
    message = str(caught.value)
    assert message.startswith(f"The SMTP server 127.0.0.1:{port} did not accept the weekly report (")
    assert message.endswith("then re-run `segmint run weekly-report --send`.")
    assert "\n" not in message


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback test server
def test_the_report_logs_in_with_the_password_from_the_environment(
    shop_con: duckdb.DuckDBPyConnection,
    shop: ModuleType,
    report_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.report.conftest import load_helper

    with load_helper("smtp").smtp_sink(login=("shop", "s3cret")) as server:
        monkeypatch.setenv("SEGMINT_ALERTS__SMTP_PASSWORD", "s3cret")  # a secret: from the environment only
        alerts = Settings(alerts={"smtp_user": "shop"}).alerts
        settings = smtp_settings(report_settings, server.port, ["owner@example.com"])
        settings = settings.model_copy(
            update={
                "alerts": settings.alerts.model_copy(
                    update={"smtp_user": alerts.smtp_user, "smtp_password": alerts.smtp_password}
                )
            }
        )
        result = create_report(shop_con, settings, shop.AS_OF)
        assert send_report(settings, result) == []
        assert [r.rcpt_tos for r in server.received] == [["owner@example.com"]]
        monkeypatch.setenv("SEGMINT_ALERTS__SMTP_PASSWORD", "wrong")
        wrong = settings.alerts.model_copy(
            # aiosmtpd answers a refused login by going quiet: a short timeout ends the attempt
            update={"smtp_password": Settings().alerts.smtp_password, "smtp_timeout_seconds": 2.0}
        )
        with pytest.raises(DeliveryError, match="did not accept the weekly report"):
            send_report(settings.model_copy(update={"alerts": wrong}), result)
        assert len(server.received) == 1
