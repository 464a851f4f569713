"""The weekly email: MIME building (HTML with PNG charts inline by Content-ID) and SMTP delivery."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from segmint.config import AlertSettings
from segmint.errors import SegmintError
from segmint.mail import compose, smtp_send
from segmint.report.charts import Chart
from segmint.report.model import Period

# The web report's name as an attachment: the same as on disk, so the owner recognises it.
ATTACHMENT_NAME = "report.html"


class DeliveryError(SegmintError):
    """The SMTP server did not accept the weekly report."""


def subject(period: Period) -> str:
    """The subject line, naming the ISO week and its days."""
    return f"Your customers, week {period.iso_week} ({period.label})"


def build_message(
    *,
    period: Period,
    html: str,
    text: str,
    charts: Sequence[Chart],
    sender: str | None,
    recipients: Sequence[str],
    attachment: bytes | None = None,
) -> EmailMessage:
    """multipart/alternative: text/plain, then multipart/related (text/html + one image/png per chart).

    With `attachment` (the web report, when no [report] url links to it) the whole is wrapped in
    multipart/mixed with report.html attached after it.
    """
    msg = compose(
        subject(period), sender, recipients, text, html, idstring=f"report-{period.end.isoformat()}"
    )
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for chart in charts:
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{chart.cid}>",
            filename=f"{chart.key}.png",
            disposition="inline",
        )
    if attachment is not None:
        msg.add_attachment(
            attachment, maintype="text", subtype="html", filename=ATTACHMENT_NAME, disposition="attachment"
        )
    return msg


def send_message(alerts: AlertSettings, msg: EmailMessage, recipients: Sequence[str]) -> list[str]:
    """Hand the message to the SMTP server (one attempt; the flow retries); return the refused addresses."""
    if not recipients:
        raise SegmintError(
            "No recipients for the weekly report; set alerts.report_recipients (or alerts.recipients) "
            "in segmint.toml."
        )
    try:
        refused = smtp_send(alerts, msg, recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"The SMTP server {alerts.smtp_host}:{alerts.smtp_port} did not accept the weekly report ({exc}); "
            "check alerts.smtp_host, smtp_port and credentials, then re-run `segmint run weekly-report --send`."
        ) from exc
    # Partly refused is not retried: the accepted recipients already have the message.
    return refused
