"""The `segmint` command line: every command takes --config and fails with one sentence, not a traceback."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from segmint.config import PRESETS, Settings, load_settings
from segmint.errors import (
    EXIT_DATA_HELD,
    EXIT_NOT_PUBLISHED,
    EXIT_USAGE,
    ConfigError,
    SegmintError,
    UsageError,
)
from segmint.ingest import FileResult
from segmint.pipeline import NightlyOutcome, WarehouseTotals
from segmint.quality.results import CheckResult
from segmint.resources import load_flow_module
from segmint.words import counted

if TYPE_CHECKING:
    from segmint.scaffold import Draft, Export

app = typer.Typer(
    name="segmint",
    help="Nightly customer segmentation for small online shops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_app = typer.Typer(help="Run a Prefect flow now (nightly or weekly-report).", no_args_is_help=True)
app.add_typer(run_app, name="run")

# Rich cuts output to 80 columns when stdout is not a terminal (a pipe, a log file, cron's mail): there,
# lines stay whole unless COLUMNS says otherwise.
WIDE = 1000


def _console_width() -> int | None:
    return None if sys.stdout.isatty() or os.environ.get("COLUMNS") else WIDE


# No markup: printed text holds users' own words and config keys ("[shop] exchange_rates"), which Rich
# would take for style tags. Colour is given as Text styles.
console = Console(width=_console_width(), markup=False)


def styled(label: str, style: str, rest: str = "") -> Text:
    """`label` in `style`, then `rest` as it is."""
    return Text.assemble((label, style), rest)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Settings file (default ./segmint.toml); SEGMINT_* variables override it.",
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="The night to compute, YYYY-MM-DD (default: yesterday, or the last night loaded)."
    ),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _print_version(value: bool) -> None:
    if value:
        from segmint import __version__

        typer.echo(f"segmint {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only warnings, errors and the result lines.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print debug lines of segmint on stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print segmint's version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Nightly customer segmentation for small online shops."""
    if quiet and verbose:
        raise typer.BadParameter("use either --quiet or --verbose, not both", param_hint="-q / -v")
    set_verbosity(-1 if quiet else 1 if verbose else 0)


def set_verbosity(level: int) -> None:
    """-1 (--quiet): no tables or progress lines; 0: progress lines; 1 (--verbose): debug lines too."""
    console.quiet = level < 0
    logger = logging.getLogger("segmint")
    logger.setLevel(logging.WARNING if level < 0 else logging.DEBUG if level > 0 else logging.INFO)


def print_json(value: object) -> None:
    """One JSON document on stdout (dates and paths as strings), for scripts."""
    typer.echo(json.dumps(value, indent=2, default=_json_value))


def _json_value(value: object) -> str:
    from datetime import datetime

    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def parse_day(value: str | None) -> date | None:
    """A YYYY-MM-DD option value, or None when it is absent."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        # A wrong option value is a usage error (exit 2), like an unknown option.
        raise UsageError(f"--as-of {value!r} is not a date; write it as YYYY-MM-DD.") from None


def print_files(results: Sequence[FileResult]) -> None:
    """One row per file: rows read, loaded and quarantined, or why it was skipped or rejected."""
    table = Table(title="Ingest", title_justify="left")
    for column in ("source", "file", "status", "read", "loaded", "quarantined", "duplicates"):
        table.add_column(
            column,
            justify="right" if column in {"read", "loaded", "quarantined", "duplicates"} else "left",
        )
    for r in results:
        table.add_row(
            r.source,
            r.path.name,
            r.status,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_quarantined:,}",
            f"{r.rows_duplicate:,}",
        )
    console.print(table)
    for r in results:
        if r.status in {"rejected", "held"}:
            console.print(styled(r.status, "red", f": {r.message}"), soft_wrap=True, highlight=False)
        for warning in r.warnings:
            console.print(styled("warning", "yellow", f": {warning}"), soft_wrap=True, highlight=False)
    by_source: dict[str, list[int]] = {}
    for r in results:
        sums = by_source.setdefault(r.source, [0, 0, 0, 0, 0, 0])
        sums[0] += r.rows_read
        sums[1] += r.rows_loaded
        sums[2] += r.rows_quarantined
        sums[3] += r.rows_held
        sums[4] += r.rows_duplicate
        sums[5] += r.rows_updated
    for name, (read, loaded, quarantined, held, duplicate, updated) in by_source.items():
        kept = f" + {held:,} held back" if held else ""
        # Rows that replaced a stored version are loaded rows too: said, so a changed order is not silent.
        replaced = f" ({updated:,} of them replacing a version loaded before)" if updated else ""
        console.print(
            f"{name}: {read:,} read = {loaded:,} loaded{replaced} + {quarantined:,} quarantined"
            f" + {duplicate:,} already loaded{kept}"
        )


def data_ends_line(ends: object, night: object, command: str) -> str:
    """The advice for a night held because the export ends before it: compute its last day instead."""
    return (
        f"your data ends {ends}, before the night of {night}: `{command}` computes the last night with data"
    )


def print_totals(totals: WarehouseTotals) -> None:
    """The warehouse's headline counts."""
    console.print(
        f"warehouse: {totals.customers:,} customers, {totals.orders:,} orders "
        f"({totals.order_lines:,} lines), {totals.events:,} events, "
        f"net revenue {totals.revenue:,.2f}{f' {totals.currency}' if totals.currency else ''}"
    )


def _ask(question: str, *, required: bool, default: str | None = None) -> str | None:
    """Ask on the terminal; without an answer (no terminal, end of input) a required value is an error."""
    try:
        answer = typer.prompt(
            question, default=default or ("" if not required else None), show_default=bool(default)
        )
    except typer.Abort:
        if required:
            raise ConfigError(
                f"segmint init needs an answer to {question!r}; pass it as an option."
            ) from None
        return default
    return str(answer).strip() or default


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The shop's folder (default: here).")] = Path(),
    orders: Annotated[
        str | None,
        typer.Option("--orders", help="The orders export: a file or a glob such as 'exports/*.csv'."),
    ] = None,
    events: Annotated[str | None, typer.Option("--events", help="The web-events export, if any.")] = None,
    customers: Annotated[
        str | None, typer.Option("--customers", help="The customers export, if any.")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset", help=f"How to read the orders export: {', '.join(PRESETS)} (default: guessed)."
        ),
    ] = None,
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="canonical=Header: the export's column for one of segmint's (e.g. unit_price='Unit Price'); "
            "repeatable; orders.customer_id=... for one kind of export.",
        ),
    ] = None,
    timestamp_format: Annotated[
        str | None,
        typer.Option(
            "--timestamp-format",
            help="How the exports write dates, e.g. '%d/%m/%Y %H:%M' (needed when day and month could swap).",
        ),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="The shop's timezone (default: this machine's).")
    ] = None,
    email: Annotated[
        str | None,
        typer.Option("--email", help="Where alerts and the weekly report go (default: nowhere yet)."),
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Ask nothing: take the options and the defaults.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """Set up a shop's folder: segmint.toml for your exports, campaigns.toml and .env, from the examples."""
    from segmint import scaffold as scaffolding

    ask = not no_input
    # Questions about columns and dates need someone at a terminal; piped answers cover the rest.
    at_terminal = ask and sys.stdin.isatty()
    maps = scaffolding.parse_maps(column_map or [])
    if orders is None and ask:
        orders = _ask(
            "Orders export (a file, or a glob such as exports/*.csv)" + (" (empty: none)" if events else ""),
            required=not events,
        )
    if not orders and not events:
        raise ConfigError(
            "segmint init needs the orders export; pass --orders PATH (a file or a glob), "
            "or --events PATH for a shop that only has web events."
        )
    drafts = []
    if orders:
        drafts.append(scaffolding.draft(folder, "orders", orders, preset, maps))
        if preset is None and ask:
            guessed = drafts[0].preset
            chosen = _ask(f"How to read it ({', '.join(PRESETS)})", required=False, default=guessed)
            if chosen and chosen != guessed:
                drafts = [scaffolding.draft(folder, "orders", orders, chosen, maps)]
    if events is None and ask and orders:
        events = _ask("Web-events export (empty: none)", required=False)
    if customers is None and ask:
        customers = _ask("Customers export (empty: none)", required=False)
    for kind, pattern in (("events", events), ("customers", customers)):
        if pattern:
            drafts.append(scaffolding.draft(folder, kind, pattern, None, maps))  # type: ignore[arg-type]
    unused = scaffolding.unused_maps(drafts, maps)
    if unused:
        raise ConfigError(unused)
    exports = [_settle_export(d, timestamp_format, at_terminal) for d in drafts]
    if timezone is None:
        timezone = scaffolding.local_timezone()
        if ask:
            timezone = _ask("Timezone of the shop", required=False, default=timezone) or timezone
    if email is None and ask:
        email = _ask("Email for alerts and the weekly report (empty: none yet)", required=False)
    plan = scaffolding.Scaffold(folder, exports, timezone, email or None)
    written = scaffolding.write(plan, force=force)
    for e in exports:
        how = f"preset {e.preset}" if not e.notes else f"{len(e.columns)} columns mapped by name"
        console.print(f"{e.kind}: {e.path} ({how})", highlight=False, markup=False)
        if e.unmapped:
            typer.echo(f"  left unmapped (not read): {', '.join(e.unmapped)}")
        if e.encoding != "utf-8":
            typer.echo(f'  not UTF-8: read with encoding = "{e.encoding}"')
    if not any(e.kind == "orders" for e in exports):
        typer.echo(
            "no orders export: nights load the web events only; segments, lifetime value and churn "
            'need orders (add a [[sources]] block with kind = "orders" when you have them)'
        )
    for path in written:
        typer.echo(f"wrote {path}")
    config_arg = "" if folder.resolve() == Path.cwd().resolve() else f" --config {written[0]}"
    typer.echo(f"next: segmint doctor{config_arg}, then segmint run nightly{config_arg}")


def _settle_export(draft: Draft, timestamp_format: str | None, at_terminal: bool) -> Export:
    """The export as written; at a terminal, the columns found are shown and the owner confirms or fills
    them in, and picks day- or month-first dates; elsewhere a gap is an error naming the flag to pass."""
    from segmint import scaffold as scaffolding
    from segmint.ingest.presets import CANONICAL

    if not draft.mapped or not at_terminal:
        return scaffolding.finish(draft, timestamp_format)
    required, optional = CANONICAL[draft.kind]
    console.print(
        f"{draft.kind} export {draft.file.name}: columns {', '.join(draft.headers)}", highlight=False
    )
    for canonical in draft.missing:
        draft.columns[canonical] = _ask_header(draft, canonical, required=True) or ""
    for canonical in (*required, *optional):
        if canonical in draft.columns:
            console.print(f"  {canonical:<18} <- {draft.columns[canonical]}", highlight=False, markup=False)
    if not typer.confirm("Use these columns?", default=True):
        for canonical in (*required, *optional):
            header = _ask_header(draft, canonical, required=canonical in required)
            if header:
                draft.columns[canonical] = header
            else:
                draft.columns.pop(canonical, None)
    layout = draft.dates()
    if layout.ambiguous and timestamp_format is None:
        answer = ""
        while answer not in ("d", "m"):
            answer = (
                str(
                    typer.prompt(
                        f"Dates such as {layout.example!r} fit day first and month first: which is it? "
                        f"(d: {layout.day_first}, m: {layout.month_first})"
                    )
                )
                .strip()[:1]
                .lower()
            )
        timestamp_format = layout.day_first if answer == "d" else layout.month_first
    return scaffolding.finish(draft, timestamp_format)


def _ask_header(draft: Draft, canonical: str, *, required: bool) -> str | None:
    """Ask which header holds `canonical` until the answer is one of the export's headers (or empty)."""
    current = draft.columns.get(canonical)
    lowered = {h.lower(): h for h in draft.headers}
    while True:
        answer = typer.prompt(
            f"Column of {draft.file.name} holding {canonical}" + ("" if required else " (empty: none)"),
            default=current or ("" if not required else None),
            show_default=bool(current),
        ).strip()
        if not answer and not required:
            return None
        if answer.lower() in lowered:
            return lowered[answer.lower()]
        console.print(
            f"{answer!r} is not a column of {draft.file.name}; pick one of {', '.join(draft.headers)}"
        )


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check the setup: sources match files, the data's age, folders writable, SMTP login, Prefect reachable."""
    from segmint.doctor import Check, run_checks

    try:
        settings = _settings(config)
    except ConfigError as exc:
        typer.echo(Check("config", False, str(exc)).line())
        raise typer.Exit(exc.exit_code) from None
    typer.echo(Check("config", True, str(settings.config_path)).line())
    checks = run_checks(settings)
    for check in checks:
        typer.echo(check.line())
    failed = [c for c in checks if c.ok is False]
    if failed:
        typer.echo(
            f"{len(failed)} of {len(checks) + 1} checks failed; fix them and run `segmint doctor` again"
        )
        raise typer.Exit(1)
    typer.echo(f"all {len(checks) + 1} checks passed or were skipped; next: segmint run nightly")


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Load every configured source into the warehouse (each file once; bad rows to quarantine)."""
    from segmint import pipeline

    settings = _settings(config)
    with pipeline.locked_writer(settings):
        run_id = pipeline.begin_run(settings, "ingest", None)
        with pipeline.closed_run(settings, run_id):
            results = pipeline.ingest_sources(settings, run_id)
            rejected = [r.message for r in results if r.status == "rejected"]
            held = [r.message for r in results if r.status == "held"]
            pipeline.end_run(settings, run_id, "held" if held else "completed", "; ".join(rejected + held))
    print_files(results)
    print_totals(pipeline.warehouse_totals(settings))
    if held:
        console.print(f"held back: fix the export, then run `segmint replay {run_id}`", highlight=False)
    if rejected or held:
        raise typer.Exit(1)


def print_checks(results: Sequence[CheckResult]) -> None:
    """Per suite: checks run, passed, failed critical and failed warnings; then each failure."""
    table = Table(title="Validation", title_justify="left")
    for column in ("suite", "batch", "checks", "passed", "critical failed", "warnings"):
        table.add_column(column, justify="left" if column in {"suite", "batch"} else "right")
    groups: dict[tuple[str, str], list[CheckResult]] = {}
    for r in results:
        groups.setdefault((r.suite, r.batch), []).append(r)
    for (suite, batch), rows in groups.items():
        table.add_row(
            suite,
            Path(batch).name if "/" in batch else batch,
            str(len(rows)),
            str(sum(r.success for r in rows)),
            str(sum(r.blocking for r in rows)),
            str(sum(not r.success and not r.blocking for r in rows)),
        )
    console.print(table)
    for r in results:
        if not r.success:
            colour = "red" if r.blocking else "yellow"
            console.print(styled(r.severity, colour, f" {r.describe()}"), highlight=False, soft_wrap=True)
            for row in r.sample[:3]:
                console.print(f"    {row}", highlight=False, soft_wrap=True)


@app.command()
def validate(config: ConfigOption = None, as_of: AsOfOption = None) -> None:
    """Run the Great Expectations suites on the warehouse and the customer features now; print a summary."""
    from segmint import pipeline
    from segmint.quality.conclude import build_docs
    from segmint.quality.validate import validate_warehouse
    from segmint.runs import finish_run, start_run

    settings = _settings(config)
    day = parse_day(as_of)
    with pipeline.locked_writer(settings) as opened:
        con = opened.con
        run_id = start_run(con, "validate", day)
        with pipeline.closed_run(settings, run_id):
            summary = validate_warehouse(con, settings, run_id, day)
            status = "held" if summary.blocking else "completed"
            finish_run(con, run_id, status, f"{len(summary.blocking)} critical checks failed")
    docs = build_docs(settings, run_id)
    print_checks(summary.results)
    for note in summary.notes:
        console.print(note, highlight=False)
    failed = len(summary.blocking)
    console.print(f"run {run_id}: {len(summary.results)} checks, {failed} critical failed", highlight=False)
    if docs is not None:
        typer.echo(f"data docs: {docs}")
    if failed:
        raise typer.Exit(1)


@app.command()
def replay(
    run_id: Annotated[str, typer.Argument(help="The run that held the batches back (from the alert).")],
    config: ConfigOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Publish the kept batches even if critical checks still fail (bad rows still quarantined).",
        ),
    ] = False,
) -> None:
    """Publish the batches a run held back once the cause is fixed: a corrected file, or the kept copy."""
    from segmint.quality.conclude import build_docs
    from segmint.quality.replay import replay as run_replay
    from segmint.warehouse import locked

    settings = _settings(config)
    from segmint.quality.night import run_night

    with locked(settings) as con:
        outcome = run_replay(con, settings, run_id, force=force)
        night = run_night(con, run_id)
    build_docs(settings, outcome.run_id)
    print_files(outcome.files)
    failed = [r for r in outcome.results if not r.success]
    if failed:
        print_checks(failed)
    if outcome.still_held:
        console.print(
            f"still held: {', '.join(Path(p).name for p in outcome.still_held)}; fix the export and run "
            f"`segmint replay {run_id}` again, or `segmint replay {run_id} --force` to publish it as it is",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    forced = " (forced)" if outcome.forced else ""
    console.print(
        f"replay {outcome.run_id}: every batch of run {run_id} is published{forced}", highlight=False
    )
    if night is not None:
        # Replay loads rows; the night's features, segments and report were computed without them.
        console.print(
            f"the night of {night} was computed without them: run `segmint run nightly --as-of {night} "
            f"--config {settings.config_path}` to compute it again with them",
            highlight=False,
            soft_wrap=True,
        )


class DataFormat(StrEnum):
    """File format of generated data."""

    csv = "csv"
    parquet = "parquet"


class Split(StrEnum):
    """How generated files are split in time."""

    none = "none"
    month = "month"
    day = "day"


@app.command()
def generate(
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 5000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 365,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (default: yesterday).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 42,
    out: Annotated[
        Path, typer.Option(help="Output folder (gets segmint.toml and truth/personas.csv).")
    ] = Path("data"),
    format: Annotated[DataFormat, typer.Option("--format", help="File format.")] = DataFormat.csv,
    split: Annotated[Split, typer.Option(help="One file per month, per day, or one in all.")] = Split.month,
) -> None:
    """Generate a realistic synthetic shop (orders, customers, web events) in segmint's canonical format."""
    from datetime import timedelta

    from segmint.synth.generate import generate as run_generate

    last = parse_day(end) or date.today() - timedelta(days=1)
    summary = run_generate(
        out,
        customers=customers,
        days=days,
        end=last,
        seed=seed,
        fmt=format.value,
        split=split.value,
    )
    console.print(summary)
    console.print(f"config: {out / 'segmint.toml'}")


@app.command()
def segments(
    config: ConfigOption = None,
    run: Annotated[
        str | None, typer.Option("--run", help="A segment run id (default: the published run in force).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a run's segments: size, revenue, what defines them, who they are, and who moved."""
    from segmint.segment.show import print_segments, segments_summary
    from segmint.warehouse import connect

    settings = _settings(config)
    if not settings.warehouse.path.exists():
        raise SegmintError(
            f"No warehouse at {settings.warehouse.path}; run `segmint run nightly` first (or fix [warehouse] path)."
        )
    with connect(settings.warehouse.path, read_only=True) as con:
        try:
            if as_json:
                print_json(segments_summary(con, run))
            else:
                print_segments(console, con, run)
        except duckdb.CatalogException:
            raise SegmintError(
                f"The warehouse {settings.warehouse.path} has no segments yet; run `segmint run nightly` first."
            ) from None


@app.command()
def status(
    config: ConfigOption = None,
    last: Annotated[int, typer.Option("--last", min=1, help="How many of the last runs to show.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Show the last runs, batches held for a replay (with its command), the data's age and the next runs."""
    from segmint.status import read_status

    settings = _settings(config)
    state = read_status(settings, last=last)
    if as_json:
        print_json(state.to_json())
        return
    if not state.warehouse_exists:
        typer.echo(f"no warehouse yet at {state.warehouse}; `segmint run nightly` creates it")
    else:
        table = Table(title="Last runs", title_justify="left")
        for column in ("run", "flow", "night", "started", "took", "status", "message"):
            if column == "message":  # long: folded within 100 columns, also when the width is not limited
                table.add_column(column, overflow="fold", max_width=100)
            else:
                table.add_column(column, no_wrap=True)
        for r in state.runs:
            took = "-" if r.finished_at is None else f"{(r.finished_at - r.started_at).total_seconds():.0f} s"
            table.add_row(
                r.run_id,
                r.flow,
                str(r.as_of or "-"),
                f"{r.started_at:%Y-%m-%d %H:%M}",
                took,
                r.status,
                Text(r.message or ""),  # plain text: a message may quote a config section like [alerts]
            )
        console.print(table)
        for h in state.held:
            typer.echo(f"held: {Path(h.path).name} ({h.source}, run {h.run_id}): {h.reason}")
            typer.echo(f"  after fixing the export: {h.replay}")
        if not state.held:
            typer.echo("held batches: none")
        if state.held_night is not None:
            night = state.held_night
            typer.echo(
                f"night {night.as_of} (run {night.run_id}) was held by {len(night.checks)} failed critical check(s):"
            )
            for check in night.checks:
                typer.echo(f"  {check}")
            if night.data_ends is not None:
                typer.echo(f"  {data_ends_line(night.data_ends, night.as_of, night.advice)}")
                typer.echo(f"  only if nothing really happened after {night.data_ends}: {night.accept}")
            elif night.advice:
                typer.echo(f"  nothing was held back to replay; if the numbers are right: {night.advice}")
        if state.data is None:
            typer.echo("data: no orders or events loaded yet")
        else:
            d = state.data
            verdict = "too old: the export may have stopped" if d.stale else "fresh enough"
            typer.echo(
                f"data: newest {d.noun} {d.newest}, {counted(d.age_days, 'day')} before tonight ({d.night}); "
                f"limit {d.max_age_days}: {verdict}"
            )
    for s in state.schedules:
        typer.echo(f"next {s.deployment}: {s.next_run:%Y-%m-%d %H:%M %Z} ({s.cron}, {s.timezone})")


@app.command()
def backup(
    config: ConfigOption = None,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Backup file or folder (default: <warehouse folder>/backups/)."),
    ] = None,
) -> None:
    """Copy the warehouse consistently (checkpointed, under the writer lock) and print the copy's path."""
    from segmint.warehouse import backup as copy_warehouse

    settings = _settings(config)
    wait = settings.warehouse.reader_wait_seconds
    target = copy_warehouse(settings.warehouse.path, to.resolve() if to else None, wait_seconds=wait)
    typer.echo(str(target))


def stale_data_line(settings: Settings, night: date) -> str | None:
    """One line when the warehouse's newest order ends more than max_data_age_days before the night."""
    from datetime import timedelta

    from segmint.quality.night import newest_data_day
    from segmint.warehouse import connect

    if not settings.warehouse.path.exists():
        return None
    try:
        with connect(settings.warehouse.path, read_only=True) as con:
            newest = newest_data_day(con)
    except SegmintError:  # a reader opened the file after the run: the run's own summary stands
        return None
    if newest is None or (night - newest[1]).days <= settings.quality.max_data_age_days:
        return None
    noun, day = newest
    # The default night is yesterday: "today" is the day after it, in the schedule's timezone.
    today = night + timedelta(days=1)
    return (
        f"Your data ends {day} (the newest {noun}), {counted((today - day).days, 'day')} before today "
        f"({today}): the export may have stopped, and the night of {night} has no data of its own; "
        f"to compute the last night with data, run `segmint run nightly --as-of {day} "
        f"--config {settings.config_path}`"
    )


@run_app.command("nightly")
def run_nightly(
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    accept: Annotated[
        list[str] | None,
        typer.Option(
            "--accept",
            help="A night check whose failure you accept tonight, as SUITE.KEY (e.g. orders.volume_not_low): "
            "it is reported as a warning and does not hold the night. Repeat for several.",
        ),
    ] = None,
) -> None:
    """Run the nightly refresh flow now, as a real Prefect flow run."""
    from segmint.errors import WarehouseBusyError
    from segmint.pipeline import default_night
    from segmint.prefect_env import configure_prefect

    settings = _settings(config)
    requested = parse_day(as_of)
    day = requested or default_night(settings)
    if requested is not None and requested > default_night(settings):
        # A night is computed once its day is over: a later one would be recorded with no data.
        raise UsageError(
            f"--as-of {requested} is not over yet (the last complete day in {settings.schedule.timezone} "
            f"is {default_night(settings)}); pass that day or an earlier one."
        )
    configure_prefect(settings.output_dir, settings.prefect_home)
    flows = load_flow_module("nightly")
    outcome: NightlyOutcome = flows.nightly(
        config=str(settings.config_path), as_of=day.isoformat(), accept=list(accept or [])
    )
    if outcome.status == "busy":
        raise WarehouseBusyError(outcome.messages[0])
    print_files(outcome.files)
    stale = stale_data_line(settings, day) if requested is None else None
    if stale:
        # After the run, so tonight's files count; a night picked by default says where the data ends.
        typer.echo(stale)
    if outcome.totals is not None:
        print_totals(outcome.totals)
    console.print(f"run {outcome.run_id} for {outcome.as_of}: {outcome.status}")
    segmentation = outcome.segmentation
    if segmentation is not None:
        console.print(
            f"segments: k={segmentation.k} over {segmentation.n_customers:,} customers "
            f"(silhouette {segmentation.silhouette or 0:.3f}); see `segmint segments --run {segmentation.run_id}`",
            highlight=False,
        )
    # Every stage that did not run says why, once each (the quality line is printed last).
    quality_line = outcome.quality.line if outcome.quality is not None else None
    for message in dict.fromkeys(m for m in outcome.messages if m and m != quality_line):
        typer.echo(message)
    if quality_line:
        # No markup: the line quotes config sections such as [alerts].
        console.print(quality_line, highlight=False, soft_wrap=True, markup=False)
    if outcome.report_path is not None:
        # Plain echo: a path must never be wrapped by the console width.
        typer.echo(f"report: {outcome.report_path}")
    code = nightly_exit_code(outcome)
    if code == EXIT_DATA_HELD:
        for line in held_night_advice(outcome, settings, stale_said=stale is not None):
            typer.echo(line)
        typer.echo(f"tonight's data was held (exit code {code})")
    elif code == EXIT_NOT_PUBLISHED:
        typer.echo(f"tonight's segments were not published (exit code {code})")
    if code:
        raise typer.Exit(code)


def held_night_advice(outcome: NightlyOutcome, settings: Settings, *, stale_said: bool = False) -> list[str]:
    """What the owner can do about a held night, each line a command that works for what held it."""
    alert = outcome.quality.alert if outcome.quality is not None else None
    if alert is None:
        return []
    cfg = f" --config {settings.config_path}"
    night = f"segmint run nightly --as-of {outcome.as_of}{cfg}"
    # "No customer features" follows from the others when there are others: not a cause of its own.
    causes = [p for p in alert.problems if p.key != "features_computed"] or alert.problems
    lines = [f"held by {p.name}: {p.summary}" for p in causes]
    for h in alert.held:
        lines.append(f"held back: {h.file}: {h.cause or 'see its checks above'}")
    if alert.held:
        lines.append(
            f"once that is fixed (the export, or the setting it names), `segmint replay {outcome.run_id}{cfg}` "
            f"loads the held files; then `{night}` computes the night with them"
        )
    waiting = [p for p in alert.problems if p.key == "no_batch_waiting"]
    for command in dict.fromkeys(str(row["replay"]) for p in waiting for row in p.samples if "replay" in row):
        lines.append(f"an earlier night's batch is waiting: fix its export, then `{command}{cfg}`")
    # A night check on the loaded data (volume, freshness, ...): nothing was held back, so replay has
    # nothing to publish. The owner either accepts the numbers or fixes the export and runs the night again.
    judged = [
        p
        for p in alert.problems
        if p.night and p.key not in ("no_batch_waiting", "files_readable", "data_fresh")
    ]
    if any(p.key == "data_fresh" for p in alert.problems) and not stale_said:
        # Accepting stale data would publish segments for a night with no data: compute the last day instead.
        stale = stale_data_line(settings, outcome.as_of)
        lines.append(stale or f"the data is older than [quality] max_data_age_days before {outcome.as_of}")
    ends = next((p.data_ends for p in judged if p.data_ends), "")
    if ends:
        # The export was taken before the night ended (a first night downloaded in the morning): its last
        # day is a night with data; accepting tonight would publish a night with none.
        lines.append(data_ends_line(ends, outcome.as_of, f"segmint run nightly --as-of {ends}{cfg}"))
    if judged:
        names = " ".join(f"--accept {p.name}" for p in judged)
        lines.append(
            "no batch was held back for these checks (tonight's rows are loaded, so `segmint replay` has "
            + (
                f"nothing to publish): only if nothing really happened after {ends}, `{night} {names}` "
                "publishes tonight's segments without data of their own"
                if ends
                else f"nothing to publish): if the numbers are right, `{night} {names}` publishes tonight's "
                f"segments; otherwise fix the export and run `{night}` again"
            )
        )
    others = [p for p in alert.problems if not p.night and not alert.held]
    if others or any(p.key == "files_readable" for p in alert.problems):
        lines.append(f"fix the export, then run `{night}` again")
    return lines


def nightly_exit_code(outcome: NightlyOutcome) -> int:
    """The exit code of a nightly run: 0 completed, 4 data held, 5 segments not published."""
    if outcome.status == "held" or (outcome.quality is not None and outcome.quality.data_failed):
        return EXIT_DATA_HELD
    # A shop too small to segment is not a failed night: it completes every night with the reason, and
    # its scheduler must not show red for ever. Only a segmentation the gate held back is "not published".
    if outcome.segments is not None and not outcome.segments.publish:
        return EXIT_NOT_PUBLISHED
    return 0


@run_app.command("weekly-report")
def run_weekly_report(
    config: ConfigOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Last day of the week, YYYY-MM-DD (default: the last published night)."),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Email the report to alerts.report_recipients.")
    ] = False,
) -> None:
    """Render the weekly report as a real Prefect flow run, and email it with --send."""
    from segmint.prefect_env import configure_prefect

    settings = _settings(config)
    day = parse_day(as_of)
    configure_prefect(settings.output_dir, settings.prefect_home)
    flows = load_flow_module("weekly_report")
    outcome: Any = flows.weekly_report(
        config=str(settings.config_path), as_of=day.isoformat() if day else None, send=send
    )
    console.print(f"{outcome.subject}")
    if outcome.sent_to:
        console.print(f"sent to {', '.join(outcome.sent_to)}")
    if outcome.refused:
        console.print(styled("refused by the SMTP server", "red", f": {', '.join(outcome.refused)}"))
    typer.echo(f"email: {outcome.email_path}")
    typer.echo(str(outcome.path))
    if outcome.not_sent:
        # The report is written (its path above); sending waits for the owner's SMTP settings.
        raise ConfigError(outcome.not_sent)


@app.command()
def report(
    config: ConfigOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Last day of the week, YYYY-MM-DD (default: the last published night)."),
    ] = None,
    open_report: Annotated[bool, typer.Option("--open", help="Open the report in a web browser.")] = False,
) -> None:
    """Render the weekly report (web page and email) and print the web report's path on the last line."""
    from segmint import report as reporting

    settings = _settings(config)
    result = reporting.render(settings, parse_day(as_of))
    data = result.data
    console.print(f"week {data.period.iso_week} ({data.period.label}), rendered in {result.seconds:.1f} s")
    for note in data.notes:
        console.print(f"note: {note}", highlight=False)
    typer.echo(f"email: {result.email_path}")
    if open_report:
        import webbrowser

        webbrowser.open(result.path.as_uri())
    typer.echo(str(result.path))


@app.command()
def serve(
    config: ConfigOption = None,
    register_only: Annotated[
        bool,
        typer.Option("--register-only", help="Create or update the two deployments, then exit."),
    ] = False,
) -> None:
    """Run the nightly refresh and the weekly report on their schedules against a Prefect server."""
    from segmint import serve as serving
    from segmint.prefect_env import configure_prefect

    settings = _settings(config)
    configure_prefect(settings.output_dir, settings.prefect_home)
    url = serving.api_url()
    if url is None:
        console.print(
            styled(
                "PREFECT_API_URL is not set",
                "yellow",
                ": using a temporary Prefect server that lives only as long as this process; start one with "
                "`prefect server start` (see README, Scheduling).",
            )
        )
    else:
        console.print(f"Prefect server: {url}")
    table = Table(title="Schedules", title_justify="left")
    for column in ("deployment", "cron", "timezone", "next run"):
        table.add_column(column)
    for s in serving.schedules(settings):
        table.add_row(s.full_name, s.cron, s.timezone, f"{s.next_runs(1)[0]:%Y-%m-%d %H:%M %Z}")
    console.print(table)
    if register_only:
        for name in serving.register(settings):
            typer.echo(f"registered {name}")
        return
    console.print("serving; stop with Ctrl+C (schedules are paused on shutdown)")
    serving.serve(settings)


@app.command()
def deploy(
    work_pool: Annotated[
        str,
        typer.Option(
            "--work-pool",
            help="The Prefect work pool the deployments run on (a process pool is created if missing).",
        ),
    ],
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            "-c",
            help="A shop's settings file; repeat it for each shop (default ./segmint.toml).",
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Container image with segmint installed, for a docker or kubernetes pool (which must exist).",
        ),
    ] = None,
) -> None:
    """Register each shop's nightly and weekly deployments on a Prefect work pool, for any worker to run."""
    from segmint import serve as serving

    shops = [_settings(path) for path in config] if config else [_settings(None)]
    url = serving.api_url()
    if url is None:
        raise ConfigError(
            "PREFECT_API_URL is not set: a work pool needs a Prefect server that every worker reaches; start "
            "one with `prefect server start`, set PREFECT_API_URL to its /api address and deploy again."
        )
    console.print(f"Prefect server: {url}")
    created, done = serving.deploy_to_pool(shops, work_pool, image)
    if created:
        typer.echo(f"created work pool {work_pool} (process)")
    for shop in done:
        for name in shop.deployments:
            typer.echo(f"registered {name} (shop {shop.shop}, {shop.config})")
    # One line whatever the terminal's width: the command is copied from it.
    typer.echo(
        "Run them on any machine with segmint installed and these config paths: "
        f"prefect worker start --pool {work_pool}"
    )


class AudienceFormat(StrEnum):
    """Layout of the audience send files."""

    csv = "csv"
    klaviyo = "klaviyo"
    mailchimp = "mailchimp"
    shopify = "shopify"


campaigns_app = typer.Typer(
    help="Campaign audiences from the playbook (campaigns.toml) and their measured uplift.",
    no_args_is_help=True,
)
app.add_typer(campaigns_app, name="campaigns")


@campaigns_app.command("build")
def campaigns_build(
    config: ConfigOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Choose audiences from data up to this day (default: the last published night)."
        ),
    ] = None,
    playbook: Annotated[
        Path | None, typer.Option(help="Playbook file (default: [campaigns] playbook in the settings).")
    ] = None,
    as_json: JsonOption = False,
    format: Annotated[
        AudienceFormat,
        typer.Option(
            "--format",
            help="Send file layout: csv (segmint's columns), or the import columns of klaviyo, mailchimp or shopify.",
        ),
    ] = AudienceFormat.csv,
) -> None:
    """Write per campaign a send file (treatment only), the holdout's file apart and hashed ad audiences, and record them."""
    from segmint.campaigns import build_campaigns, load_playbook
    from segmint.features import feature_dates
    from segmint.warehouse import locked

    settings = _settings(config)
    plays = load_playbook(playbook or settings.campaigns.playbook)
    with locked(settings) as con:
        dates = feature_dates(con)
        if as_of is None and not dates:
            raise SegmintError("The warehouse has no customer features yet; run `segmint run nightly` first.")
        from segmint.report import default_report_day

        # Without --as-of: the night whose segments are in force, not a later night that was held.
        published = default_report_day(con) if as_of is None else None
        day = parse_day(as_of) or (published if published in dates else dates[-1])
        builds = build_campaigns(con, settings, day, playbook=plays, format=format.value)
    if as_json:
        from dataclasses import asdict

        print_json({"as_of": day, "campaigns": [asdict(b) for b in builds], "warnings": builds.warnings})
        return
    table = Table(title=f"Campaigns for {day}", title_justify="left")
    for column in ("campaign", "treatment", "holdout", "no consent", "anomaly", "no email", "measure after"):
        if column == "campaign":
            table.add_column(column, overflow="fold")
        else:
            table.add_column(column, justify="right")
    for b in builds:
        table.add_row(
            b.campaign_id,
            f"{b.n_treatment:,}",
            f"{b.n_holdout:,}",
            f"{b.n_excluded_consent:,}",
            f"{b.n_excluded_anomaly:,}",
            f"{b.n_excluded_no_email:,}",
            # Without a holdout there is nothing to compare with: no date to measure after.
            str(b.window_end) if b.n_holdout or not b.n_treatment else "no holdout",
        )
    console.print(table)
    for b in builds:
        console.print(f"send to the treatment: {b.export_path}", soft_wrap=True)
        console.print(f"holdout, do not upload: {b.holdout_path}", soft_wrap=True)
        console.print(
            f"ad audiences ({b.n_ad_audience:,} consenting, hashed): {b.google_audience_path} (Google Customer "
            f"Match), {b.meta_audience_path} (Meta)",
            soft_wrap=True,
            highlight=False,
        )
    for warning in builds.warnings:
        # No markup: a warning may name a config section such as [sources.columns].
        Console(stderr=True).print(f"warning: {warning}", highlight=False, soft_wrap=True, markup=False)


def _pct(value: object) -> str:
    return "-" if value is None else f"{float(str(value)) * 100:+.1f}"


@campaigns_app.command("measure")
def campaigns_measure(
    config: ConfigOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count orders up to this day (default: the last day with orders)."),
    ] = None,
) -> None:
    """Measure each campaign whose attribution window is over: conversion and revenue uplift with 95% CIs."""
    import polars as pl

    from segmint.campaigns import measure_campaigns, results
    from segmint.warehouse import locked

    settings = _settings(config)
    day = parse_day(as_of)
    with locked(settings) as con:
        measured = measure_campaigns(con, settings, day)
        rows = results(con)
    if not measured:
        console.print("No campaigns yet; run `segmint campaigns build` first.")
        return
    for m in measured:
        if m.status == "open":
            console.print(f"{m.campaign_id}: attribution window open until {m.window_end}")
    done = [m.campaign_id for m in measured if m.status == "measured"]
    for campaign in done:
        subset = rows.filter(pl.col("campaign_id") == campaign)
        first = subset.row(0, named=True)
        table = Table(
            title=f"{campaign}: treatment - holdout, orders {first['window_start']} to {first['window_end']}",
            title_justify="left",
        )
        table.add_column("segment", overflow="fold")
        for column in (
            "treated / held out",
            "conversion %",
            "uplift, points [95% CI]",
            "p",
            "revenue / customer",
        ):
            table.add_column(column, justify="right")
        for r in subset.iter_rows(named=True):
            rates = (
                "-"
                if r["conversion_holdout"] is None
                else (f"{r['conversion_treatment'] * 100:.1f} / {r['conversion_holdout'] * 100:.1f}")
            )
            revenue = (
                "-"
                if r["revenue_uplift"] is None
                else (
                    f"{r['revenue_uplift']:+,.2f} [{r['revenue_ci_low']:+,.2f}, {r['revenue_ci_high']:+,.2f}]"
                )
            )
            table.add_row(
                r["segment_name"],
                f"{r['n_treatment']:,} / {r['n_holdout']:,}",
                rates,
                f"{_pct(r['uplift_abs'])} [{_pct(r['uplift_ci_low'])}, {_pct(r['uplift_ci_high'])}]",
                "-" if r["p_value"] is None else f"{r['p_value']:.3f}",
                revenue,
            )
        console.print(table)


@app.command("simulate-responses")
def simulate_responses(
    audience: Annotated[
        list[Path], typer.Argument(help="Audience CSV(s) written by `segmint campaigns build`.")
    ],
    data: Annotated[
        Path, typer.Option(help="The generated data folder (response orders go to its orders/).")
    ],
    uplift: Annotated[
        list[str] | None,
        typer.Option(
            help="Planted conversion uplift per segment, SEGMENT=RATE ('*' = any other); repeatable."
        ),
    ] = None,
    base_rate: Annotated[
        list[str] | None,
        typer.Option(
            help="Conversion without the campaign, RATE or SEGMENT=RATE; repeatable (default 0.10)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day of responses (default: the campaign's window).")
    ] = None,
    days: Annotated[
        int | None, typer.Option(help="Days of responses (default: the campaign's window).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same responses.")] = 42,
) -> None:
    """Generator companion: simulate responses to campaign audiences with a known, planted uplift per segment."""
    from segmint.synth.simulate import parse_rates
    from segmint.synth.simulate import simulate_responses as run_simulation

    effects = parse_rates(uplift or [], "--uplift")
    bases = parse_rates([b if "=" in b else f"*={b}" for b in base_rate or ["0.10"]], "--base-rate")
    first = parse_day(start)
    summaries = run_simulation(
        audience, data, uplift=effects, base_rate=bases, start=first, days=days, seed=seed
    )
    for summary in summaries:
        console.print(
            f"{summary.campaign_id}: {summary.conversions_treatment:,} of {summary.n_treatment:,} treated and "
            f"{summary.conversions_holdout:,} of {summary.n_holdout:,} held out converted "
            f"({summary.window_start} to {summary.window_end})"
        )
    console.print(f"responses: {summaries[0].orders_file}")
    console.print(f"truth: {summaries[0].truth_file}")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged (test runners and callers swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def show_progress() -> None:
    """Print the package's progress lines (a file starts or ends loading) on stderr with the time."""
    logger = logging.getLogger("segmint")
    if any(isinstance(h, _Stderr) for h in logger.handlers):  # main() called again in the same process
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # Prefect's root handlers would print each line a second time


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error classes: typer's vendored copy (typer >= 0.29) and click itself when present."""
    classes: list[type[Exception]] = []
    try:
        from typer._click.exceptions import ClickException as VendoredClickException

        classes.append(VendoredClickException)
    except ImportError:
        pass
    try:
        from click import ClickException

        classes.append(ClickException)
    except ImportError:
        pass
    return tuple(classes)


def _show_usage_error(exc: Exception) -> int:
    """Print a usage error as one line on stderr and return its exit code (2 for usage errors)."""
    code = int(getattr(exc, "exit_code", EXIT_USAGE))
    if type(exc).__name__ == "NoArgsIsHelpError":  # `segmint` or `segmint run` alone: the help
        exc.show()  # type: ignore[attr-defined]
        return code
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    text = " ".join(f"{message}{hint}".split())
    typer.echo(f"error: {text}", err=True)
    return code


def _storage_failure(exc: BaseException) -> SegmintError | None:
    from segmint.warehouse import storage_error

    return storage_error(exc)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one sentence and an exit code."""
    show_progress()
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(args=argv, prog_name="segmint", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except SegmintError as exc:
        Console(stderr=True, width=_console_width()).print(
            f"error: {exc}", highlight=False, soft_wrap=True, markup=False
        )
        sys.exit(exc.exit_code)
    except (OSError, duckdb.Error) as exc:
        failure = _storage_failure(exc)
        if failure is None:
            raise
        Console(stderr=True, width=_console_width()).print(
            f"error: {failure}", highlight=False, soft_wrap=True, markup=False
        )
        sys.exit(failure.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Usage errors (unknown option, missing argument, bad value) come from typer's vendored click.
        if isinstance(exc, _usage_errors()):
            sys.exit(_show_usage_error(exc))
        raise
