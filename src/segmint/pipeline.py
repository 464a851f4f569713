"""The nightly job's stages as plain functions: the Prefect flow calls each one as a task."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from segmint.config import Settings
from segmint.currency import base_currency
from segmint.ingest import FileResult, ingest
from segmint.runs import end_stage, enter_stage, finish_run, start_run
from segmint.schema import counted_refund
from segmint.warehouse import Writer, open_warehouse, storage_error, transaction, writer, writer_lock

if TYPE_CHECKING:  # the models pull in scikit-learn; the CLI should start without it
    from segmint.features import FeatureBuild
    from segmint.predict.runner import PredictionOutcome
    from segmint.quality.conclude import QualityOutcome
    from segmint.quality.gate import GateDecision
    from segmint.quality.results import CheckResult
    from segmint.segment import SegmentationResult


@dataclass
class WarehouseTotals:
    """Headline counts of the warehouse for a run summary."""

    customers: int
    orders: int
    order_lines: int
    events: int
    revenue: float  # net of cancellations and refunds, as the report counts it
    currency: str | None = None  # the warehouse's base currency, once an orders file has set it


@dataclass
class NightlyOutcome:
    """What a nightly run did, for the CLI summary and the flow's return value."""

    run_id: str
    as_of: date
    status: str = "running"
    files: list[FileResult] = field(default_factory=list)
    totals: WarehouseTotals | None = None
    messages: list[str] = field(default_factory=list)
    report_path: Path | None = None
    predictions: PredictionOutcome | None = None
    checks: list[CheckResult] = field(default_factory=list)
    segments: GateDecision | None = None
    quality: QualityOutcome | None = None
    features: FeatureBuild | None = None
    segmentation: SegmentationResult | None = None


def default_night(settings: Settings) -> date:
    """The night a run without --as-of computes: yesterday in the schedule's timezone (runs start after midnight)."""
    from segmint.report import last_complete_day

    return last_complete_day(settings.schedule.timezone)


@contextmanager
def locked_writer(settings: Settings) -> Iterator[Writer]:
    """The writer lock and the run's one writer connection (run_writer): how the flows and the CLI's
    run commands hold the warehouse."""
    with writer_lock(settings.warehouse.path), run_writer(settings) as opened:
        yield opened


@contextmanager
def closed_run(settings: Settings, run_id: str) -> Iterator[None]:
    """Close the run as failed (with the error) when the block ends in an exception or an interrupt."""
    try:
        yield
    except BaseException as exc:
        # The first error is the one to report; a run that cannot be closed is marked at the next start.
        with suppress(Exception):
            end_run(settings, run_id, "failed", str(exc) or type(exc).__name__)
        raise


# The run's one writer connection per warehouse file, while a run holds it (see run_writer).
_WRITERS: dict[Path, Writer] = {}


@contextmanager
def run_writer(settings: Settings) -> Iterator[Writer]:
    """Open the warehouse once for a whole run: every stage inside uses this connection, so a program
    that opens the file between two stages (a notebook, a BI tool) cannot abort the run halfway; one
    holding it when the run starts is waited for up to [warehouse] reader_wait_seconds."""
    path = settings.warehouse.path
    with writer(
        path,
        memory_limit=settings.warehouse.memory_limit,
        threads=settings.warehouse.threads,
        wait_seconds=settings.warehouse.reader_wait_seconds,
    ) as opened:
        _WRITERS[path] = opened
        try:
            yield opened
        finally:
            _WRITERS.pop(path, None)


def _raise_storage_error(exc: duckdb.Error, settings: Settings) -> None:
    failure = storage_error(exc, settings.warehouse.path)
    if failure is not None:
        raise failure from exc


@contextmanager
def warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The run's writer connection when one is open (run_writer), else a connection of its own."""
    shared = _WRITERS.get(settings.warehouse.path)
    if shared is not None:
        try:
            yield shared.con
        except duckdb.Error as exc:
            # A full disk or a damaged file is one sentence for the user (and no retry of the task).
            _raise_storage_error(exc, settings)
            raise
        return
    with open_warehouse(settings) as con:
        try:
            yield con
        except duckdb.Error as exc:
            _raise_storage_error(exc, settings)
            raise


def begin_run(settings: Settings, flow: str, as_of: date | None) -> str:
    """Record the start of a run in `runs` (marking runs whose process died as killed); return its id."""
    with warehouse(settings) as con:
        return start_run(con, flow, as_of)


def enter(settings: Settings, run_id: str, stage: str) -> None:
    """Record that a run starts `stage` (a run killed in it is marked with it) and log one line."""
    with warehouse(settings) as con:
        enter_stage(con, run_id, stage)
    shared = _WRITERS.get(settings.warehouse.path)
    if shared is not None:
        shared.note(run_id, stage)


def end_run(settings: Settings, run_id: str, status: str, message: str = "") -> None:
    """Record the end of a run in `runs` (and the time of the stage it ended in, in run_stages)."""
    with warehouse(settings) as con:
        end_stage(con, run_id)
        finish_run(con, run_id, status, message)


def ingest_sources(settings: Settings, run_id: str) -> list[FileResult]:
    """Load every configured source, each file audited before it is merged (write-audit-publish)."""
    from segmint.quality.audit import BatchAudit

    audit = BatchAudit(settings)
    try:
        with warehouse(settings) as con:
            return ingest(con, settings, run_id, audit=audit)
    finally:
        audit.finish()


def check_night(
    settings: Settings, run_id: str, files: list[FileResult], accept: Sequence[str] = ()
) -> list[CheckResult]:
    """Tonight's volume per source, rejected files, batches still waiting for replay (recorded); the
    checks named in `accept` (`run nightly --accept`) only warn."""
    from segmint.quality.night import night_checks
    from segmint.quality.results import record

    with warehouse(settings) as con:
        results = night_checks(con, settings, run_id, files, accept)
        record(con, run_id, results)
        return results


def build_features(settings: Settings, as_of: date) -> FeatureBuild:
    """Compute customer_features for `as_of` from the data up to the end of that day."""
    from segmint.features import build_features as build

    with warehouse(settings) as con:
        return build(con, as_of, settings.features)


# Why a shop that sends only web events gets no segments or predictions, in the owner's words.
NO_ORDERS_SEGMENTS = (
    "segmint.toml has no orders source, and segments group customers by what they buy; add your "
    'orders export as a [[sources]] block with kind = "orders".'
)
NO_ORDERS_PREDICTIONS = (
    "lifetime value and churn skipped: they are learnt from purchases, and segmint.toml has no orders source"
)


def events_only(settings: Settings, con: duckdb.DuckDBPyConnection) -> bool:
    """The config's sources are all events and customers, and no order was ever loaded."""
    if not settings.sources or any(source.kind == "orders" for source in settings.sources):
        return False
    row = con.execute("select count(*) from orders").fetchone()
    return row is not None and row[0] == 0


def segment_or_reason(settings: Settings, run_id: str, as_of: date) -> SegmentationResult | str:
    """Cluster tonight's customers (stored pending the gate), or the sentence saying why the night cannot be."""
    from segmint.segment import TooFewCustomersError
    from segmint.segment import segment_customers as segment

    with warehouse(settings) as con:
        try:
            return segment(con, as_of, settings.segmentation, run_id=run_id, publish=False)
        except TooFewCustomersError as exc:
            # Too few customers, too few informative features, or no features at all (nothing loadable
            # yet): the flow says why. Any other error is a real failure of the night.
            if events_only(settings, con):
                return f"segments not computed: {NO_ORDERS_SEGMENTS}"
            return f"segments not computed: {nothing_loaded(con) or exc}"


def nothing_loaded(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why there is nobody to segment when no order or event is loaded at all (held or rejected files)."""
    row = con.execute("select (select count(*) from orders) + (select count(*) from events)").fetchone()
    if row is None or row[0]:
        return None
    held = con.execute("select path from held_batches where status = 'held' order by held_at").fetchall()
    names = ", ".join(Path(p).name for (p,) in held)
    if held:
        verb = "is" if len(held) == 1 else "are"
        return f"no order or event is loaded yet: {names} {verb} held back until its cause is fixed and it is replayed."
    return "no order or event is loaded yet: every file was rejected, each with its reason."


def segment_customers(settings: Settings, run_id: str, as_of: date) -> SegmentationResult | None:
    """Cluster tonight's customers into segments, stored pending the publication gate (None: too few)."""
    result = segment_or_reason(settings, run_id, as_of)
    return None if isinstance(result, str) else result


def publish_segments(settings: Settings, segment_run_id: str, decision: GateDecision) -> None:
    """Publish tonight's segments, or hold them with the gate's reasons (the last published run stays)."""
    from segmint.segment import hold_run, publish_run

    with warehouse(settings) as con:
        if decision.publish:
            publish_run(con, segment_run_id)
        else:
            hold_run(con, segment_run_id, decision.reasons)


def check_features(settings: Settings, run_id: str, as_of: date) -> list[CheckResult]:
    """Validate tonight's customer_features with its suite (recorded)."""
    from segmint.quality.validate import validate_features

    with warehouse(settings) as con:
        return validate_features(con, settings, run_id, as_of)


def publication_gate(
    settings: Settings, run_id: str, as_of: date, segment_run_id: str | None
) -> GateDecision:
    """Decide whether tonight's segmentation is published, and record why (not)."""
    from segmint.quality.gate import nightly_gate

    with warehouse(settings) as con:
        return nightly_gate(con, settings.segmentation, run_id, as_of, segment_run_id)


def conclude_quality(
    settings: Settings, run_id: str, as_of: date, segments: GateDecision | None
) -> QualityOutcome:
    """Build data docs, then alert by email and webhook on a failed critical check (else one OK line)."""
    from segmint.quality.conclude import conclude

    with warehouse(settings) as con:
        return conclude(con, settings, run_id, as_of, segments)


def warehouse_totals(settings: Settings) -> WarehouseTotals:
    """Customers, orders, lines, events and net revenue now in the warehouse."""
    with warehouse(settings) as con:
        row = con.execute(
            f"""
            select (select count(*) from customers), (select count(*) from orders),
                (select count(*) from order_lines), (select count(*) from events),
                (select coalesce(sum(revenue - {counted_refund()}), 0) from orders)
            """
        ).fetchone()
        currency = base_currency(con)
    assert row is not None
    return WarehouseTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]), currency)


def render_report(
    settings: Settings, as_of: date, *, run_id: str | None = None, status: str = "", message: str = ""
) -> Path:
    """Render the weekly report for the week ending `as_of`; return the web report's path. With `run_id`
    the run is closed with `status` in the same transaction that records the report, so a run killed
    while rendering is never `completed` without its report (it is marked killed at the next start)."""
    from segmint.report import create_report

    with warehouse(settings) as con:
        if run_id is None:
            return create_report(con, settings, as_of).path
        with transaction(con):
            # First, so the report shows tonight's run with its final status.
            finish_run(con, run_id, status, message)
            path = create_report(con, settings, as_of).path
            # The report stage ends here: a completed run has every stage's row, committed with it.
            end_stage(con, run_id)
            return path


def predict(settings: Settings, run_id: str, as_of: date) -> PredictionOutcome | None:
    """Fit lifetime value, churn, anomalies and basket rules on tonight's features (None when disabled)."""
    if not settings.predict.enabled:
        return None
    from segmint.predict.runner import run_predictions

    with warehouse(settings) as con:
        outcome = run_predictions(con, settings.predict, run_id, as_of)
        no_orders = events_only(settings, con)
    if no_orders:
        # One sentence instead of each model's own reason for having no purchases to learn from.
        learnt = ("lifetime value", "churn", "anomalies left out")
        outcome.messages = [
            NO_ORDERS_PREDICTIONS,
            *(m for m in outcome.messages if not m.startswith(learnt)),
        ]
    return outcome
