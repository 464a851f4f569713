"""Secrets never leave the process: every configured secret is masked in log records and in stored messages.

The settings register their secrets when they load (the SMTP password, the webhook URL with its token-bearing
path and query, any other SecretStr setting). From then on a log record factory masks them in every log line
of the process (segmint's, Prefect's, libraries'), tracebacks included, and `redact` masks them in what is
stored: alert deliveries, run messages.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "[redacted]"
# Shorter secrets are not masked: masking every "abc" in every line would hide the log, not the secret.
MIN_LENGTH = 4
# A URL path segment or query value is masked when it looks like a token: a digit in it, or long.
_TOKEN_LIKE = re.compile(r"(?=.*\d).{6,}|.{16,}")

_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()
_installed = False


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that carry a secret: its path, query and user info, and token-like segments of them.

    The scheme and host stay readable in logs ("https://hooks.example.com[redacted]"); a URL without any of
    those parts is masked whole.
    """
    parts: list[str] = []
    try:
        split = urlsplit(url)
    except ValueError:
        return [url]
    if split.path.strip("/"):
        parts.append(split.path)
        parts += [s for s in split.path.split("/") if _TOKEN_LIKE.fullmatch(s)]
    if split.query:
        parts.append(split.query)
        parts += [v for _, v in parse_qsl(split.query) if _TOKEN_LIKE.fullmatch(v)]
    if split.password:
        parts.append(split.password)
    if split.username:
        parts.append(split.username)
    if "://" not in url:
        # Without a scheme everything after the first "/" is the path (hooks.example.com/T000/secret).
        rest = url.partition("/")[2]
        parts += [rest, *[s for s in rest.split("/") if _TOKEN_LIKE.fullmatch(s)]]
    if not parts:
        return [url]
    return parts + [unquote(p) for p in parts if "%" in p]


def secrets_of(settings: BaseModel) -> list[str]:
    """Every SecretStr value in a settings object (nested sections and lists included), URLs split up."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            found.extend(url_secrets(secret) if "://" in secret else [secret])
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(settings)
    return found


def register(*values: str) -> None:
    """Mask these values from now on (in log records and in `redact`)."""
    global _pattern
    new = {v for v in values if v and len(v) >= MIN_LENGTH}
    with _lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        # Longest first, so a URL is masked whole rather than piece by piece.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))
    install()


def register_settings(settings: BaseModel) -> None:
    """Register every secret of a settings object."""
    register(*secrets_of(settings))


def redact(text: str | None) -> str | None:
    """`text` with every registered secret masked."""
    pattern = _pattern
    if not text or pattern is None:
        return text
    return pattern.sub(MASK, text)


def redact_text(text: str) -> str:
    """`redact` for a str that is never None."""
    return redact(text) or text


def _scrub(record: logging.LogRecord) -> None:
    pattern = _pattern
    if pattern is None:
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: leave the record to logging's own error handling
        return
    if pattern.search(message):
        record.msg, record.args = pattern.sub(MASK, message), None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if pattern.search(text):
            # Formatters print exc_text as given; without exc_info nothing can render the raw exception.
            record.exc_text, record.exc_info = pattern.sub(MASK, text), None
    if record.stack_info and pattern.search(record.stack_info):
        record.stack_info = pattern.sub(MASK, record.stack_info)


def install() -> None:
    """Wrap logging's record factory (once per process) so that every record is scrubbed when it is made."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
