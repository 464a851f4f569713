"""`segmint doctor`: check a shop's setup before its first night, one line per check with what to do."""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from segmint.config import Settings
from segmint.errors import SegmintError
from segmint.words import counted

if TYPE_CHECKING:
    from segmint.ingest.load import FileFacts


@dataclass(frozen=True)
class Check:
    """One check's outcome: ok True (passed), False (failed: `detail` says what to do) or None (skipped)."""

    name: str
    ok: bool | None
    detail: str
    path: Path | None = None  # the file a failed check is about, so later checks do not say it again

    @property
    def mark(self) -> str:
        """ok, FAIL or skip, for the line printed."""
        return {True: "ok", False: "FAIL", None: "skip"}[self.ok]

    def line(self) -> str:
        """The check as one line."""
        return f"{self.mark:<5} {self.name}: {self.detail}"


def _age(seconds: float) -> str:
    days = int(seconds // 86400)
    if days >= 1:
        return f"{days:,} day{'s' if days != 1 else ''} ago"
    hours = int(seconds // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''} ago" if hours else "less than an hour ago"


def _encoding_sentence(name: str, encoding: str, newest: Path, bad: tuple[int, int]) -> str:
    """What to set when a source's newest file does not decode with the source's encoding."""
    from segmint.ingest.read import is_utf8

    line, _ = bad
    if is_utf8(encoding):
        return (
            f"{newest.name} is not UTF-8 (line {line:,}): set encoding = \"cp1252\" on source '{name}' "
            "(the usual encoding of Excel exports in Western Europe), or re-save the file as UTF-8"
        )
    return (
        f"{newest.name} is not {encoding} (line {line:,}): set source '{name}''s encoding to the one "
        'the file is written in (encoding = "utf-8" if it was re-saved as UTF-8)'
    )


def check_sources(settings: Settings) -> list[Check]:
    """Every source matches files, and the newest one has the columns its preset reads."""
    from segmint.ingest.presets import canonical_mapping, check_source
    from segmint.ingest.read import decodes, read_columns

    if not settings.sources:
        return [
            Check(
                "sources", False, "no [[sources]] in the config; add your exports (see segmint.example.toml)"
            )
        ]
    checks = []
    for source in settings.sources:
        name = f"source '{source.name}'"
        files = settings.source_files(source)
        if not files:
            checks.append(
                Check(
                    name,
                    False,
                    f"no file matches {source.path!r} (relative to {settings.base_dir}); "
                    "fix its path or put the export there",
                )
            )
            continue
        newest = max(files, key=lambda p: p.stat().st_mtime)
        try:
            check_source(source)
            bad = decodes(newest, source.encoding)
            if bad is not None:
                checks.append(
                    Check(name, False, _encoding_sentence(source.name, source.encoding, newest, bad), newest)
                )
                continue
            canonical_mapping(
                source, read_columns(newest, delimiter=source.delimiter, encoding=source.encoding), newest
            )
        except SegmintError as exc:
            checks.append(Check(name, False, str(exc), newest))
            continue
        count = "1 file matches" if len(files) == 1 else f"{len(files):,} files match"
        how = source.preset + (f" with {len(source.columns)} mapped columns" if source.columns else "")
        changed = _age(time.time() - newest.stat().st_mtime)
        checks.append(
            Check(
                name,
                True,
                f"{count} {source.path!r}, read as {how}; the newest, {newest.name}, changed {changed}",
            )
        )
    if not any(source.kind == "orders" for source in settings.sources):
        checks.append(
            Check(
                "orders",
                None,
                "no orders source: nights load web events only; segments, lifetime value and churn need "
                'orders (add a [[sources]] block with kind = "orders" when you have the export)',
            )
        )
    return checks


def check_playbook(settings: Settings) -> Check:
    """The campaign playbook exists and is valid."""
    from segmint.campaigns import load_playbook

    try:
        plays = load_playbook(settings.campaigns.playbook)
    except SegmintError as exc:
        return Check("playbook", False, str(exc))
    count = len(plays.campaigns)
    return Check("playbook", True, f"{settings.campaigns.playbook} ({count} campaigns)")


def check_data_age(
    settings: Settings, scan: SourceScan | None = None, named: frozenset[Path] = frozenset()
) -> Check:
    """The warehouse's newest order (or event) is at most max_data_age_days before tonight.

    Before the first run the age comes from the source files (`scan`, read once for every check); a file
    in `named` cannot be read and an earlier check already said why: it is left out, not said again.
    """
    import duckdb

    from segmint.quality.night import newest_data_day
    from segmint.warehouse import connect

    path = settings.warehouse.path
    newest: tuple[str, date] | None = None
    if path.exists():
        try:
            with connect(path, read_only=True) as con:
                newest = newest_data_day(con)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            return Check(
                "data age", None, f"the warehouse cannot be read now ({first}); try again after the run"
            )
    if newest is not None:
        return _age_check(settings, newest, "")
    # Before the first run: the age of the exports themselves, so a years-old export is caught now.
    where = "source files, nothing loaded yet: "
    scan = scan or SourceScan(settings)
    newest, unreadable = scan.newest()
    said = [f for f in unreadable if f.path in named]
    unsaid = [f for f in unreadable if f.path not in named]
    if newest is None and unsaid:
        # The load would reject or hold these files too: the first one and why, in one line.
        return Check("data age", False, f"{where}{_first_unreadable(unsaid)}")
    if newest is None and said:
        names = ", ".join(f.path.name for f in said)
        return Check("data age", None, f"{where}{names} cannot be read; the source check above says why")
    if newest is None:
        return Check("data age", None, "no orders or events could be read yet; run `segmint run nightly`")
    age = _age_check(settings, newest, where)
    if unsaid:
        # The readable files still tell the age; the unreadable one is named, as the load would hold it.
        return Check(
            "data age",
            False,
            f"{age.detail}, from the files that can be read; but {_first_unreadable(unsaid)}",
        )
    if said:
        names = ", ".join(f.path.name for f in said)
        return replace(age, detail=f"{age.detail} (without {names}: see the source check above)")
    return age


def _first_unreadable(files: list[ScannedFile]) -> str:
    more = f" (and {counted(len(files) - 1, 'more file')})" if len(files) > 1 else ""
    return f"{files[0].problem}{more}"


def _age_check(settings: Settings, newest: tuple[str, date], where: str) -> Check:
    """The verdict on the newest order (or event) day, from the warehouse or (`where` says) the files."""
    from segmint.pipeline import default_night
    from segmint.quality.night import stale_sentence

    noun, day = newest
    night = default_night(settings)
    age = (night - day).days
    limit = settings.quality.max_data_age_days
    computed = _computed_night(settings, day) if not where else None
    if age > limit and computed:
        # The owner has computed the last night with data: nothing to fix here until new exports come.
        return Check(
            "data age",
            True,
            f"your newest {noun} is {day}, {age:,} days before tonight; the night of {day} is computed "
            f"(run {computed}); later nights need newer exports",
        )
    if age > limit:
        sentence = stale_sentence(noun, day, night, tonight=True)
        return Check(
            "data age", False, f"{where}{sentence} (limit {limit} days, [quality] max_data_age_days)"
        )
    return Check(
        "data age", True, f"{where}newest {noun} {day}, {counted(age, 'day')} before tonight (limit {limit})"
    )


def _computed_night(settings: Settings, day: date) -> str | None:
    """The completed nightly run of `day` or later, if any: the last night with data is computed."""
    from segmint.warehouse import connect

    with connect(settings.warehouse.path, read_only=True) as con:
        row = con.execute(
            "select run_id from runs where flow = 'nightly' and status = 'completed' and as_of >= ? "
            "order by started_at desc limit 1",
            [day],
        ).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class Period:
    """The first and last day of a kind's source files (None if no file has one) and why files were not read."""

    days: tuple[date, date] | None
    unreadable: tuple[str, ...]


@dataclass(frozen=True)
class ScannedFile:
    """One source file as doctor read it: its days and currencies, or (`problem`) why it cannot be read."""

    kind: str
    path: Path
    facts: FileFacts | None
    problem: str | None = None


class SourceScan:
    """The orders and events files, each read once as a load reads it, for every check that looks inside.

    A kind's files are read when a check first asks for them: doctor with a loaded warehouse reads the
    orders files for their currencies only.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._files: dict[str, list[ScannedFile]] = {}

    def files(self, kind: str) -> list[ScannedFile]:
        """The `kind` ("orders" or "events") sources' files, read (once) with what each holds."""
        if kind not in self._files:
            self._files[kind] = _scan(self.settings, kind)
        return self._files[kind]

    def period(self, kind: str) -> Period:
        """The first and last day of the `kind` files, and why files were not read."""
        days = [f.facts.days for f in self.files(kind) if f.facts is not None and f.facts.days is not None]
        span = (min(d[0] for d in days), max(d[1] for d in days)) if days else None
        return Period(span, tuple(f.problem for f in self.files(kind) if f.problem is not None))

    def newest(self) -> tuple[tuple[str, date] | None, list[ScannedFile]]:
        """The newest order day in the orders files (else events files), and the files not read on the way."""
        unreadable: list[ScannedFile] = []
        for kind, noun in (("orders", "order"), ("events", "event")):
            unreadable += [f for f in self.files(kind) if f.problem is not None]
            days = self.period(kind).days
            if days is not None:
                return (noun, days[1]), unreadable
        return None, unreadable

    def currencies(self) -> dict[str, int]:
        """Order lines per currency over the readable orders files."""
        lines: dict[str, int] = {}
        for f in self.files("orders"):
            for currency, n in (f.facts.currencies if f.facts is not None else {}).items():
                lines[currency] = lines.get(currency, 0) + n
        return lines


def newest_in_sources(settings: Settings) -> tuple[tuple[str, date] | None, tuple[str, ...]]:
    """The newest order day in the configured orders files (else events files), and why files were not read."""
    newest, unreadable = SourceScan(settings).newest()
    return newest, tuple(f.problem or "" for f in unreadable)


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _scan(settings: Settings, kind: str) -> list[ScannedFile]:
    import duckdb

    from segmint.ingest.load import file_facts

    # The load's limit: rows further in the future are quarantined, so they do not make the data new.
    until = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=settings.quality.future_tolerance_hours)
    scanned: list[ScannedFile] = []
    for source in (s for s in settings.sources if s.kind == kind):
        for path in settings.source_files(source):
            try:
                scanned.append(ScannedFile(kind, path, file_facts(source, path, until)))
            except SegmintError as exc:
                scanned.append(ScannedFile(kind, path, None, _one_line(exc)))
            except (duckdb.Error, OSError) as exc:
                # Not a file the load rejects in a sentence: still said, never taken for no file.
                problem = f"{path}: it cannot be read ({_one_line(exc)})"
                scanned.append(ScannedFile(kind, path, None, problem))
    return scanned


def source_period(settings: Settings, kind: str) -> Period:
    """The first and last day of the `kind` ("orders" or "events") sources' files, each read as a load reads it."""
    return SourceScan(settings).period(kind)


def _warehouse_period(settings: Settings, table: str, column: str) -> tuple[date, date] | None:
    import duckdb

    from segmint.warehouse import connect

    if not settings.warehouse.path.exists():
        return None
    try:
        with connect(settings.warehouse.path, read_only=True) as con:
            row = con.execute(f"select min({column})::date, max({column})::date from {table}").fetchone()
    except duckdb.Error:  # the data age check says the warehouse cannot be read
        return None
    return (row[0], row[1]) if row and row[0] is not None else None


def check_currencies(settings: Settings, scan: SourceScan | None = None) -> Check:
    """Orders in more than one currency come with the exchange rates that convert them to the base one."""
    import duckdb

    from segmint.currency import base_currency
    from segmint.warehouse import connect

    # A file that cannot be read counts nothing: the sources and data age checks name it.
    lines = (scan or SourceScan(settings)).currencies()
    if not lines:
        return Check("currencies", None, "no orders file names a currency")
    base = settings.shop.currency
    if base is None and settings.warehouse.path.exists():
        with contextlib.suppress(duckdb.Error), connect(settings.warehouse.path, read_only=True) as con:
            base = base_currency(con)
    # Else the first orders file decides it, by its most common currency: the files' together say it here.
    base = (base or max(sorted(lines), key=lambda c: lines[c])).upper()
    others = sorted(c for c in lines if c != base)
    listed = ", ".join(sorted(lines))
    if not others:
        return Check("currencies", True, f"orders in {listed}")
    if settings.shop.exchange_rates is not None:
        return Check(
            "currencies", True, f"orders in {listed}, converted to {base} with {settings.shop.exchange_rates}"
        )
    foreign = sum(lines[c] for c in others)
    return Check(
        "currencies",
        False,
        f"orders in {listed} and no [shop] exchange_rates: the {counted(foreign, 'order line')} in "
        f"{', '.join(others)} would be held until rates convert them to {base}; add a date,currency,rate "
        "file as exchange_rates under [shop] (README, Currency)",
    )


def check_periods(settings: Settings, scan: SourceScan | None = None) -> Check:
    """Orders and web events cover a common period: else no night has both and the clickstream is unused."""
    kinds = {s.kind for s in settings.sources}
    if not {"orders", "events"} <= kinds:
        return Check("periods", None, "needs both an orders and an events source")
    where = "warehouse"
    orders = _warehouse_period(settings, "orders", "ordered_at")
    events = _warehouse_period(settings, "events", "occurred_at")
    if orders is None or events is None:
        where = "source files"
        scan = scan or SourceScan(settings)
        in_files = scan.period("orders"), scan.period("events")
        orders, events = (p.days for p in in_files)
        unreadable = [line for p in in_files for line in p.unreadable]
        if unreadable and (orders is None or events is None):
            return Check("periods", None, f"the orders or the events cannot be read yet: {unreadable[0]}")
    if orders is None or events is None:
        return Check("periods", None, "the orders or the events cannot be read yet")
    span = f"orders {orders[0]} to {orders[1]}, web events {events[0]} to {events[1]} ({where})"
    if events[0] > orders[1] or events[1] < orders[0]:
        return Check(
            "periods",
            False,
            f"{span}: they do not overlap, so no night has both and segments ignore the clickstream; "
            "export orders and events for the same period",
        )
    return Check("periods", True, span)


def prefect_home(settings: Settings) -> Path:
    """Where Prefect keeps its database: PREFECT_HOME, else the output folder's prefect/."""
    return Path(os.environ.get("PREFECT_HOME") or settings.output_dir / "prefect").expanduser()


def _writable(path: Path) -> str | None:
    """None when files can be created in `path` (or in the folder it would be created in), else why not."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        return f"{probe} is not writable ({exc.strerror})"
    return None


def check_folders(settings: Settings) -> list[Check]:
    """The warehouse folder, the output folder (reports, data docs), Prefect's home and the audiences folder."""
    folders = {
        "warehouse folder": settings.warehouse.path.parent,
        "output folder": settings.output_dir,
        "Prefect home": prefect_home(settings),
    }
    if settings.campaigns.export_dir is not None:
        folders["audience folder"] = settings.campaigns.export_dir
    checks = []
    seen: set[Path] = set()
    for name, folder in folders.items():
        if folder in seen:  # the output folder is the warehouse's unless data_dir says otherwise
            continue
        seen.add(folder)
        problem = _writable(folder)
        if problem:
            checks.append(Check(name, False, f"{problem}; fix its permissions or point the config elsewhere"))
        else:
            state = "writable" if folder.exists() else "will be created"
            checks.append(Check(name, True, f"{folder} ({state})"))
    return checks


def check_smtp(settings: Settings) -> Check:
    """When anyone is to get mail: connect, STARTTLS when configured, and log in (nothing is sent)."""
    alerts = settings.alerts
    if not (alerts.recipients or alerts.report_recipients):
        return Check("smtp", None, "no [alerts] recipients: alerts and the weekly report are not emailed")
    where = f"{alerts.smtp_host}:{alerts.smtp_port}"
    if alerts.smtp_user and alerts.smtp_password is None:
        return Check(
            "smtp",
            False,
            f"smtp_user is {alerts.smtp_user!r} but no password; set SEGMINT_ALERTS__SMTP_PASSWORD in .env",
        )
    try:
        with smtplib.SMTP(
            alerts.smtp_host, alerts.smtp_port, timeout=min(alerts.smtp_timeout_seconds, 10)
        ) as smtp:
            smtp.ehlo()
            if alerts.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if alerts.smtp_user and alerts.smtp_password is not None:
                smtp.login(alerts.smtp_user, alerts.smtp_password.get_secret_value())
                return Check("smtp", True, f"logged in to {where} as {alerts.smtp_user}")
    except smtplib.SMTPAuthenticationError as exc:
        return Check(
            "smtp",
            False,
            f"{where} refused the login of {alerts.smtp_user} ({exc.smtp_code}); "
            "check smtp_user and SEGMINT_ALERTS__SMTP_PASSWORD in .env",
        )
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            "smtp",
            False,
            f"cannot talk to {where} ({exc or type(exc).__name__}); check smtp_host, smtp_port and smtp_starttls in [alerts]",
        )
    return Check("smtp", True, f"{where} answers (no login configured)")


def check_sender(settings: Settings) -> Check:
    """Who alerts and the weekly report come from: [alerts] sender, else the SMTP login or first recipient."""
    alerts = settings.alerts
    sender = alerts.from_address
    if sender is None:
        return Check(
            "sender",
            None,
            "alerts and the weekly report need a sender: set [alerts] sender (e.g. 'Shop <shop@your-domain>') "
            "and recipients in segmint.toml",
        )
    if alerts.sender:
        return Check("sender", True, f"mail comes from {sender}")
    where = (
        "smtp_user"
        if alerts.smtp_user and alerts.sender_address == alerts.smtp_user
        else "the first recipient"
    )
    return Check("sender", True, f"mail comes from {sender} ({where}; set [alerts] sender to change it)")


def prefect_api_url() -> str | None:
    """PREFECT_API_URL from the environment, else from a Prefect profile in PREFECT_HOME."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    home = os.environ.get("PREFECT_HOME")
    if home and not (Path(home).expanduser() / "profiles.toml").is_file():
        return None  # no profile can set it: spare the Prefect import (seconds on a small machine)
    from segmint.serve import api_url

    return api_url()


def check_prefect() -> Check:
    """The Prefect server in PREFECT_API_URL answers its health check; without one, each run starts its own."""
    import httpx

    url = prefect_api_url()
    if url is None:
        return Check(
            "prefect",
            None,
            "no PREFECT_API_URL: each run starts a temporary Prefect server; for schedules and the UI run "
            "`prefect server start` and set PREFECT_API_URL (README, Scheduling)",
        )
    health = url.rstrip("/") + "/health"
    try:
        response = httpx.get(health, timeout=5)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return Check(
            "prefect",
            False,
            f"the server at {url} does not answer ({exc}); start it with `prefect server start` or unset PREFECT_API_URL",
        )
    return Check("prefect", True, f"server at {url} answers")


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a new shop meets them."""
    from segmint.prefect_env import configure_prefect

    sources = check_sources(settings)
    checks = [*sources, check_playbook(settings), *check_folders(settings)]
    # Each source file is read once for the checks below; a file the sources check failed on is said once.
    scan = SourceScan(settings)
    named = frozenset(c.path for c in sources if c.ok is False and c.path is not None)
    checks += [
        check_data_age(settings, scan, named),
        check_periods(settings, scan),
        check_currencies(settings, scan),
        check_smtp(settings),
        check_sender(settings),
    ]
    # The Prefect environment a run gets (PREFECT_HOME under the output folder, its profile); an
    # unwritable Prefect home is already a failed folder check.
    with contextlib.suppress(OSError):
        configure_prefect(settings.output_dir, settings.prefect_home)
    checks.append(check_prefect())
    return checks
