"""Mail delivery shared by the weekly report and the data-quality alerts."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from segmint.config import AlertSettings


def smtp_send(alerts: AlertSettings, msg: EmailMessage, recipients: Sequence[str]) -> list[str]:
    """One SMTP delivery (STARTTLS with certificate checks, login if configured); return refused addresses.

    Raises OSError or smtplib.SMTPException when nothing was delivered; callers decide about retries.
    """
    with smtplib.SMTP(alerts.smtp_host, alerts.smtp_port, timeout=alerts.smtp_timeout_seconds) as smtp:
        if alerts.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if alerts.smtp_user:
            password = alerts.smtp_password.get_secret_value() if alerts.smtp_password else ""
            smtp.login(alerts.smtp_user, password)
        # The envelope takes the bare address; the From header keeps the display name.
        return sorted(smtp.send_message(msg, from_addr=alerts.sender_address, to_addrs=list(recipients)))


def compose(
    subject: str,
    sender: str | None,
    recipients: Sequence[str],
    text: str,
    html: str,
    *,
    idstring: str | None = None,
) -> EmailMessage:
    """multipart/alternative: the text, then the HTML (a caller may attach related parts to the HTML).

    Without a sender (nothing configured) the message has no From: it is saved, never sent.
    """
    msg = EmailMessage()
    msg["Subject"] = subject
    if sender:
        msg["From"] = sender
    if recipients:
        msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(
        idstring=idstring, domain=parseaddr(sender or "")[1].rpartition("@")[2] or "segmint.local"
    )
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def smtp_not_configured(
    alerts: AlertSettings,
    config: object,
    what: str = "weekly report",
    again: str = "segmint run weekly-report --send",
) -> str | None:
    """One sentence when SMTP was never set up, else None: the shipped placeholder (localhost:25, no login,
    as in segmint.example.toml) with nothing listening there.

    A server that was set up but fails is a delivery error (retried); this one waits for the owner.
    """
    defaults = type(alerts).model_fields
    placeholder = (alerts.smtp_host, alerts.smtp_port) == (
        defaults["smtp_host"].default,
        defaults["smtp_port"].default,
    )
    if alerts.smtp_user or not placeholder:
        return None
    try:
        with socket.create_connection((alerts.smtp_host, alerts.smtp_port), timeout=2):
            return None  # a local relay listens: leave the delivery to it
    except OSError:
        pass
    return (
        f"SMTP is not configured (nothing accepts mail at {alerts.smtp_host}:{alerts.smtp_port}), so the "
        f"{what} was not sent: set smtp_host, smtp_port, smtp_user and smtp_starttls under [alerts] "
        f"in {config} and SEGMINT_ALERTS__SMTP_PASSWORD in .env, then run `{again}` again."
    )
