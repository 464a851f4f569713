"""The weekly report: build the data model from the warehouse, draw the charts, render the web report and
the email, write them under <output>/reports/<as_of>/, and record each rendering in the `reports` table."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from segmint.config import Settings
from segmint.errors import SegmintError
from segmint.mail import smtp_not_configured
from segmint.report.build import build_report
from segmint.report.charts import Chart, render_charts
from segmint.report.mail import build_message, send_message, subject
from segmint.report.model import ReportData
from segmint.report.render import render_email, render_web
from segmint.warehouse import locked

__all__ = [
    "ReportData",
    "ReportResult",
    "WeeklyOutcome",
    "build_report",
    "create_report",
    "default_report_day",
    "last_complete_day",
    "mark_sent",
    "record_sent",
    "render",
    "report_dir",
    "send_report",
    "smtp_not_configured",
    "subject",
]

WEB_NAME = "report.html"
EMAIL_NAME = "email.eml"


@dataclass
class ReportResult:
    """A rendered report: where it was written, what it shows, and the email ready to send."""

    report_id: str
    as_of: date
    path: Path
    email_path: Path
    data: ReportData
    charts: list[Chart]
    message: EmailMessage
    recipients: list[str]
    seconds: float
    web_bytes: int
    email_bytes: int


@dataclass
class WeeklyOutcome:
    """What a weekly report run produced and whom it reached."""

    as_of: date
    path: Path
    email_path: Path
    subject: str
    sent_to: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    not_sent: str | None = None  # why --send sent nothing (SMTP not configured), one sentence


def report_dir(settings: Settings, as_of: date) -> Path:
    """The folder of one week's report: <output>/reports/<as_of>/."""
    return settings.output_dir / "reports" / as_of.isoformat()


def _write_atomic(path: Path, data: bytes) -> None:
    # A reader (a browser, the mailer) never sees a half-written report.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _email(
    settings: Settings, data: ReportData, charts: list[Chart], web: bytes, recipients: list[str]
) -> EmailMessage:
    """The weekly email: the report inline, with the web report attached when it is not served."""
    # The owner opens the report where it is served ([report] url); without one, it travels with the email
    # (a path on the server is no use in a mail client).
    url = settings.report.night_url(data.as_of)
    html, text = render_email(data, charts, report_url=url, attached=url is None)
    return build_message(
        period=data.period,
        html=html,
        text=text,
        charts=charts,
        sender=settings.alerts.from_address,
        recipients=recipients,
        attachment=web if url is None else None,
    )


def _record(con: duckdb.DuckDBPyConnection, result: ReportResult) -> None:
    """A rendering's row in `reports`."""
    con.execute(
        """
        insert into reports (report_id, as_of, period_start, segment_run_id, path, email_path, web_bytes,
            email_bytes, render_seconds, rendered_at)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, current_localtimestamp())
        """,
        [
            result.report_id,
            result.as_of,
            result.data.period.start,
            getattr(result.data.segment_run, "run_id", None),
            str(result.path),
            str(result.email_path),
            result.web_bytes,
            result.email_bytes,
            result.seconds,
        ],
    )


def create_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> ReportResult:
    """Render the week ending `as_of` into report.html and email.eml, and record it in `reports`."""
    started = time.perf_counter()
    data = build_report(con, as_of, max_data_age_days=settings.quality.max_data_age_days)
    charts = render_charts(data)
    folder = report_dir(settings, as_of)
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / WEB_NAME).resolve()
    email_path = (folder / EMAIL_NAME).resolve()
    web = render_web(data, charts).encode("utf-8")
    recipients = list(settings.alerts.weekly_report_recipients)
    message = _email(settings, data, charts, web, recipients)
    email_bytes = message.as_bytes(policy=SMTP)
    _write_atomic(path, web)
    _write_atomic(email_path, email_bytes)
    result = ReportResult(
        report_id=uuid.uuid4().hex[:12],
        as_of=as_of,
        path=path,
        email_path=email_path,
        data=data,
        charts=charts,
        message=message,
        recipients=recipients,
        seconds=time.perf_counter() - started,
        web_bytes=len(web),
        email_bytes=len(email_bytes),
    )
    _record(con, result)
    return result


def send_report(settings: Settings, result: ReportResult) -> list[str]:
    """Email a rendered report to its recipients; return the addresses the server refused."""
    return send_message(settings.alerts, result.message, result.recipients)


def record_sent(con: duckdb.DuckDBPyConnection, report_id: str, recipients: list[str]) -> None:
    """Mark a report as emailed."""
    con.execute(
        "update reports set sent_at = current_localtimestamp(), recipients = ? where report_id = ?",
        [", ".join(recipients), report_id],
    )


def default_report_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last night whose segments were published (what `segmint report`, `campaigns build` and the
    weekly report show by default); before any was published, the last night the nightly refreshed."""
    from segmint.runs import published_run

    published = published_run(con)
    if published is not None:
        # A held night is not the default: its segments are not the ones in force.
        return published[1]
    row = con.execute(
        "select max(as_of) from runs where flow = 'nightly' and status in ('completed', 'held')"
    ).fetchone()
    return None if row is None else row[0]


def render(settings: Settings, as_of: date | None = None, *, lock_wait_seconds: float = 0.0) -> ReportResult:
    """Hold the writer lock, pick the week (default: the last night refreshed) and render its report."""
    from segmint.runs import reap_killed_runs

    if not settings.warehouse.path.exists():
        raise SegmintError(
            f"No warehouse at {settings.warehouse.path}; load data first with `segmint run nightly` "
            "(or `segmint ingest`), or point --config at the right segmint.toml."
        )
    with locked(settings, wait_seconds=lock_wait_seconds) as con:
        # Under the lock: a run left `running` by a dead process shows as killed, not as running.
        reap_killed_runs(con)
        day = as_of or default_report_day(con) or date.today()
        return create_report(con, settings, day)


def mark_sent(
    settings: Settings, result: ReportResult, recipients: list[str], *, lock_wait_seconds: float = 0.0
) -> None:
    """Record in `reports` that a rendered report was emailed to `recipients`."""
    with locked(settings, wait_seconds=lock_wait_seconds) as con:
        record_sent(con, result.report_id, recipients)


def last_complete_day(timezone: str, now: datetime | None = None) -> date:
    """Yesterday in the shop's timezone: on Monday morning, the Sunday that closes the week."""
    current = now.astimezone(ZoneInfo(timezone)) if now else datetime.now(ZoneInfo(timezone))
    return current.date() - timedelta(days=1)
