"""Secrets are masked in every log line (tracebacks included) and in what is stored, once settings load."""

from __future__ import annotations

import io
import logging
import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from segmint.config import Settings, load_settings
from segmint.redact import MASK, redact, register, secrets_of, url_secrets


def token(prefix: str) -> str:
    """A fresh token-shaped secret, so no earlier test has registered it."""
    return f"{prefix}-{secrets.token_urlsafe(18)}"


def capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    return logger, stream


def test_url_secrets_cover_the_token_bearing_parts() -> None:
    parts = url_secrets(
        "https://hooks.slack.com/services/T0ABC123/B0DEF456/abcdefghijklmnopqrstuvwx?key=k3y-value"
    )
    assert "/services/T0ABC123/B0DEF456/abcdefghijklmnopqrstuvwx" in parts
    assert {"T0ABC123", "B0DEF456", "abcdefghijklmnopqrstuvwx", "key=k3y-value", "k3y-value"} <= set(parts)
    assert "services" not in parts and "hooks.slack.com" not in parts, (
        "plain words and the host stay readable"
    )
    # Without a scheme everything after the host is the secret part.
    assert "T0/B0/tok3n-abc" in url_secrets("hooks.example.com/T0/B0/tok3n-abc")


def test_every_secret_setting_is_found() -> None:
    password, hook = token("pw"), token("hook")
    settings = Settings(config_path=Path("segmint.toml"))
    settings.alerts.smtp_password = SecretStr(password)
    settings.alerts.webhook_url = SecretStr(f"https://hooks.example.com/x/{hook}")
    found = secrets_of(settings)
    assert password in found and hook in found and f"/x/{hook}" in found


def test_log_lines_and_tracebacks_are_masked_once_settings_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password, hook = token("pw"), token("tok")
    url = f"https://hooks.example.com/services/T1/{hook}"
    monkeypatch.setenv("SEGMINT_ALERTS__SMTP_PASSWORD", password)
    monkeypatch.setenv("SEGMINT_ALERTS__WEBHOOK_URL", url)
    logger, stream = capture("segmint.test_redact")
    logger.warning("before loading the settings: %s", hook)
    assert hook in stream.getvalue(), "nothing is masked before the secret is known (the test can fail)"

    (tmp_path / "segmint.toml").write_text("", encoding="utf-8")
    load_settings(tmp_path / "segmint.toml")
    stream.seek(0)
    stream.truncate()
    logger.warning("posting to %s with %s", url, password)
    logger.error("path only: /services/T1/%s", hook)
    try:
        raise ValueError(f"unknown url type: {url!r}")
    except ValueError:
        logger.exception("delivery failed")
    # Another library's logger, formatted eagerly with an f-string.
    other = logging.getLogger("urllib3.test_redact")
    other.addHandler(logger.handlers[0])
    other.propagate = False
    other.warning(f"Retrying {url}")
    text = stream.getvalue()
    assert password not in text and hook not in text and url not in text
    assert text.count(MASK) >= 4
    assert "ValueError: unknown url type" in text, "the traceback is kept, masked"
    assert "hooks.example.com" in text, "the host stays readable"


def test_redact_masks_stored_text_and_leaves_other_text_alone() -> None:
    secret = token("s")
    register(secret)
    assert redact(f"error: {secret} rejected") == f"error: {MASK} rejected"
    assert redact("nothing secret") == "nothing secret"
    assert redact(None) is None
    register("abc")  # too short to mask without hiding ordinary words
    assert redact("abc") == "abc"


def test_a_user_facing_error_never_prints_a_secret_a_server_quoted() -> None:
    from email.message import EmailMessage

    from leaky_servers import failing_smtp
    from segmint.report.mail import DeliveryError, send_message

    password = token("pw")
    with failing_smtp() as smtp:
        settings = Settings(config_path=Path("segmint.toml"))
        settings.alerts.smtp_host, settings.alerts.smtp_port = "127.0.0.1", smtp.port
        settings.alerts.smtp_user, settings.alerts.smtp_password = "shop", SecretStr(password)
        msg = EmailMessage()
        msg["Subject"] = "weekly"
        msg.set_content("hi")
        register(*secrets_of(settings))
        with pytest.raises(DeliveryError) as info:
            send_message(settings.alerts, msg, ["owner@example.com"])
    assert password in repr(info.value.__cause__), "the server did quote the password (the test can fail)"
    assert password not in str(info.value) and f"shop:{MASK} rejected" in str(info.value)
