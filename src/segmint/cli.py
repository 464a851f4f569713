"""The `segmint` command line: every command takes --config and fails with one sentence, not a traceback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from segmint.config import Settings, load_settings
from segmint.errors import SegmintError
from segmint.ingest import FileResult
from segmint.pipeline import WarehouseTotals

app = typer.Typer(
    name="segmint",
    help="Nightly customer segmentation for small online shops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_app = typer.Typer(help="Run a Prefect flow now (nightly or weekly-report).", no_args_is_help=True)
app.add_typer(run_app, name="run")
console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Settings file (default ./segmint.toml); SEGMINT_* variables override it.",
    ),
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="The night to compute, YYYY-MM-DD (default: today).")
]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def parse_day(value: str | None) -> date:
    """A YYYY-MM-DD option value, or today when it is absent."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SegmintError(f"--as-of {value!r} is not a date; write it as YYYY-MM-DD.") from None


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
            console.print(f"[red]{r.status}[/red]: {r.message}", soft_wrap=True, highlight=False)
    by_source: dict[str, list[int]] = {}
    for r in results:
        sums = by_source.setdefault(r.source, [0, 0, 0])
        sums[0] += r.rows_read
        sums[1] += r.rows_loaded
        sums[2] += r.rows_quarantined
    for name, (read, loaded, quarantined) in by_source.items():
        console.print(f"{name}: {read:,} rows read = {loaded:,} loaded + {quarantined:,} quarantined")


def print_totals(totals: WarehouseTotals) -> None:
    """The warehouse's headline counts."""
    console.print(
        f"warehouse: {totals.customers:,} customers, {totals.orders:,} orders "
        f"({totals.order_lines:,} lines), {totals.events:,} events, revenue {totals.revenue:,.2f}"
    )


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Load every configured source into the warehouse (each file once; bad rows to quarantine)."""
    from segmint import pipeline
    from segmint.warehouse import writer_lock

    settings = _settings(config)
    with writer_lock(settings.warehouse.path):
        run_id = pipeline.begin_run(settings, "ingest", None)
        results = pipeline.ingest_sources(settings, run_id)
        rejected = [r.message for r in results if r.status == "rejected"]
        pipeline.end_run(settings, run_id, "completed", "; ".join(rejected))
    print_files(results)
    print_totals(pipeline.warehouse_totals(settings))
    if rejected:
        raise typer.Exit(1)


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

    from segmint.generate import generate as run_generate

    last = parse_day(end) if end else date.today() - timedelta(days=1)
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


def load_flow_module(name: str) -> ModuleType:
    """Import flows/<name>.py from the analyst-editable flows folder."""
    from segmint.resources import resource_dir

    path = resource_dir("flows") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"segmint_flows_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@run_app.command("nightly")
def run_nightly(config: ConfigOption = None, as_of: AsOfOption = None) -> None:
    """Run the nightly refresh flow now, as a real Prefect flow run."""
    from segmint.prefect_env import configure_prefect

    settings = _settings(config)
    day = parse_day(as_of)
    configure_prefect(settings.output_dir)
    flows = load_flow_module("nightly")
    outcome: Any = flows.nightly(config=str(settings.config_path), as_of=day.isoformat())
    print_files(outcome.files)
    if outcome.totals is not None:
        print_totals(outcome.totals)
    console.print(f"run {outcome.run_id} for {outcome.as_of}: {outcome.status}")
    for line in getattr(outcome, "report_lines", []):
        console.print(line)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one sentence and an exit code."""
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except SegmintError as exc:
        Console(stderr=True).print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
