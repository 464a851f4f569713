"""Alerts for runs with a failed critical check: an email (SMTP) and an optional Slack-compatible webhook.

What broke, in which table and batch, how many rows, up to ten failing rows, what was held back and how
to replay it. Sending is retried with backoff; a failure to send is logged and recorded, never raised.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from segmint.config import AlertSettings
from segmint.mail import compose, smtp_send
from segmint.quality.gate import GateDecision
from segmint.quality.results import CheckResult, stored
from segmint.redact import redact, redact_text, register_settings
from segmint.resources import resource_dir

log = logging.getLogger(__name__)

TEMPLATES = ("alert_email.txt", "alert_email.html", "alert_webhook.j2")


@dataclass
class Problem:
    """A failed check as the alert shows it: where, what, how many rows, which rows."""

    table: str
    batch: str
    title: str
    severity: str
    summary: str
    columns: list[str]
    samples: list[dict[str, Any]]
    key: str = ""  # the check's key in its suite (`suite.key` names it for `run nightly --accept`)
    night: bool = False  # a night check (on the warehouse tonight), not a check of one file's batch
    data_ends: str = ""  # the last day with data, when the night has none because the data ends earlier

    @property
    def name(self) -> str:
        """`suite.key`, as `run nightly --accept` takes it."""
        return f"{self.table}.{self.key}"

    @classmethod
    def of(cls, result: CheckResult) -> Problem:
        """From a stored check result."""
        # A row's number in its file is `__row` in frames; the owner reads "row".
        samples = [{("row" if k == "__row" else k): v for k, v in row.items()} for row in result.sample]
        columns: list[str] = []
        for row in samples:
            columns += [c for c in row if c not in columns]
        if result.unexpected_count is not None and result.element_count:
            share = result.unexpected_count / result.element_count
            summary = f"{result.unexpected_count:,} of {result.element_count:,} rows fail ({share:.1%})"
        else:
            summary = str(result.observed.get("summary") or result.observed.get("error") or "")
            if not summary and "observed_value" in result.observed:
                summary = f"observed {result.observed['observed_value']}; expected {_bounds(result.observed)}"
        return cls(
            table=result.suite,
            batch=Path(result.batch).name if "/" in result.batch else result.batch,
            title=result.title,
            severity=result.severity,
            summary=summary,
            columns=columns,
            samples=samples,
            key=result.key,
            night=result.batch.endswith("(tonight)"),
            data_ends=str(result.observed.get("data_ends") or ""),
        )


def _bounds(observed: dict[str, Any]) -> str:
    kwargs = observed.get("kwargs") or {}
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return (
            f"between {low:g} and {high:g}" if isinstance(low, float | int) else f"between {low} and {high}"
        )
    return f"at least {low}" if low is not None else f"at most {high}"


@dataclass
class HeldBatch:
    """A batch held back tonight, with the command that replays it."""

    file: str
    path: str
    source: str
    rows: int
    run_id: str
    reason: str = ""  # why, beginning with what to fix ("no exchange rate for USD ...")

    @property
    def cause(self) -> str:
        """The reason without the file name it starts with."""
        return self.reason.split(" held back: ", 1)[-1]

    @property
    def replay(self) -> str:
        """The command to run once the cause is fixed."""
        return f"segmint replay {self.run_id}"


@dataclass
class Alert:
    """Everything an alert says about one run."""

    run_id: str
    as_of: date | None
    problems: list[Problem]
    warnings: list[str] = field(default_factory=list)
    held: list[HeldBatch] = field(default_factory=list)
    segments: GateDecision | None = None
    docs: str | None = None

    @property
    def subject(self) -> str:
        """The email subject and webhook headline."""
        tables = sorted({p.table for p in self.problems})
        day = f" on {self.as_of}" if self.as_of else ""
        if not self.problems:
            return f"[segmint] Segments not published{day}: {'; '.join(self.segments.reasons if self.segments else [])}"
        held = f", {len(self.held)} batch{'es' if len(self.held) != 1 else ''} held back" if self.held else ""
        count = len(self.problems)
        return (
            f"[segmint] Data problem{day}: {count} critical check{'s' if count != 1 else ''} failed "
            f"({', '.join(tables)}){held}"
        )


def build_alert(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date | None,
    *,
    segments: GateDecision | None = None,
    docs: Path | None = None,
    results: list[CheckResult] | None = None,
) -> Alert | None:
    """The alert for a run, or None when no critical check failed and segments (if any) were published.

    `results` are the run's stored results when the caller has read them already.
    """
    results = stored(con, run_id) if results is None else results
    problems = [Problem.of(r) for r in results if r.blocking]
    if not problems and (segments is None or segments.publish):
        return None
    warnings = [r.describe() for r in results if r.severity == "warning" and not r.success]
    held = [
        HeldBatch(Path(row[0]).name, row[0], row[1], int(row[2]), row[3], str(row[4] or ""))
        for row in con.execute(
            "select path, source, rows_read, run_id, reason from held_batches where run_id = ? order by held_at",
            [run_id],
        ).fetchall()
    ]
    return Alert(run_id, as_of, problems, warnings, held, segments, str(docs) if docs else None)


@dataclass
class RenderedAlert:
    """An alert rendered from reports/templates: email subject, text and HTML, and the webhook body."""

    subject: str
    text: str
    html: str
    webhook: dict[str, Any]


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(resource_dir("reports") / "templates"),
        autoescape=lambda name: bool(name and name.endswith(".html")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(alert: Alert) -> RenderedAlert:
    """Render the alert's email (text and HTML) and webhook body."""
    env = _environment()
    context = {"alert": alert, "subject": alert.subject}
    text, html, body = (env.get_template(name).render(context) for name in TEMPLATES)
    return RenderedAlert(alert.subject, text, html, json.loads(body))


@dataclass
class Delivery:
    """How sending on one channel went."""

    channel: str
    target: str
    success: bool
    attempts: int
    error: str | None = None


def with_retries(
    action: Callable[[], None], retries: int, backoff: float, sleep: Callable[[float], None] = time.sleep
) -> tuple[int, str | None]:
    """Run `action` until it succeeds, at most 1 + retries times, waiting backoff, 2x backoff, ...

    Returns the attempts made and the last error (None on success).
    """
    error: str | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            action()
            return attempt + 1, None
        except Exception as exc:  # any failure to deliver is retried, then reported, never raised
            # An error can quote the URL or the server's answer to a login: mask the secrets in it.
            error = redact_text(f"{type(exc).__name__}: {exc}")
            log.warning("alert delivery attempt %d failed: %s", attempt + 1, error)
    return retries + 1, error


def email_message(settings: AlertSettings, rendered: RenderedAlert) -> EmailMessage:
    """The alert as a multipart email (plain text and HTML)."""
    return compose(rendered.subject, settings.from_address, settings.recipients, rendered.text, rendered.html)


def send_email(settings: AlertSettings, rendered: RenderedAlert) -> Delivery:
    """Send the alert email to the configured recipients, with retries (none while SMTP is not set up)."""
    from segmint.mail import smtp_not_configured

    unset = smtp_not_configured(settings, "the config", what="alert", again="segmint run nightly")
    if unset is not None:
        return Delivery("email", ", ".join(settings.recipients), False, 0, unset)
    message = email_message(settings, rendered)

    def send() -> None:
        smtp_send(settings, message, settings.recipients)

    attempts, error = with_retries(send, settings.retries, settings.retry_backoff_seconds)
    return Delivery("email", ", ".join(settings.recipients), error is None, attempts, error)


def post_webhook(settings: AlertSettings, rendered: RenderedAlert) -> Delivery:
    """POST the alert's JSON body to the webhook, with retries."""
    assert settings.webhook_url is not None
    url = settings.webhook_url.get_secret_value()
    body = json.dumps(rendered.webhook).encode("utf-8")

    def post() -> None:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        with urllib.request.urlopen(request, timeout=settings.webhook_timeout_seconds) as response:
            if not 200 <= response.status < 300:
                raise urllib.error.HTTPError(url, response.status, response.reason, response.headers, None)

    attempts, error = with_retries(post, settings.retries, settings.retry_backoff_seconds)
    return Delivery("webhook", webhook_target(url), error is None, attempts, error)


def webhook_target(url: str) -> str:
    """What an alert record says of the webhook: its host (and port), never the token-bearing rest."""
    try:
        split = urlsplit(url)
        host, port = split.hostname, split.port
    except ValueError:
        return "webhook"
    if not host:
        return "webhook"
    return f"{host}:{port}" if port else host


def dispatch(con: duckdb.DuckDBPyConnection, settings: AlertSettings, alert: Alert) -> list[Delivery]:
    """Send the alert on every configured channel and record each delivery; never raises."""
    # Settings built without load_settings (tests, callers) are masked too.
    register_settings(settings)
    deliveries: list[Delivery] = []
    try:
        rendered = render(alert)
    except Exception as exc:  # a broken template must not fail the run; the problems are logged instead
        log.error("alert for run %s not rendered (%s): %s", alert.run_id, exc, alert.subject)
        return [Delivery("render", "templates", False, 1, str(exc))]
    if settings.recipients:
        deliveries.append(send_email(settings, rendered))
    if settings.webhook_url is not None:
        deliveries.append(post_webhook(settings, rendered))
    if not deliveries:
        log.warning("alert not sent (no recipients or webhook configured): %s", alert.subject)
    for d in deliveries:
        if not d.success:
            log.error(
                "alert by %s to %s failed after %d attempts: %s", d.channel, d.target, d.attempts, d.error
            )
        try:
            con.execute(
                "insert into alerts_sent (run_id, channel, target, subject, success, attempts, error, sent_at) "
                "values (?, ?, ?, ?, ?, ?, ?, current_localtimestamp())",
                [
                    alert.run_id,
                    d.channel,
                    redact_text(d.target),
                    redact_text(rendered.subject),
                    d.success,
                    d.attempts,
                    redact(d.error),
                ],
            )
        except Exception as exc:  # recording is best effort, like sending
            log.error("alert delivery not recorded: %s", exc)
    return deliveries
