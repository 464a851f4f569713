"""Mail delivery shared by the weekly report and the data-quality alerts."""

from __future__ import annotations

import smtplib
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
