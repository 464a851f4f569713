"""The end of a run's quality work: data docs, then one OK line, or an alert on every channel."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from segmint.config import Settings
from segmint.quality.alerts import Alert, Delivery, build_alert, dispatch
from segmint.quality.engine import engine
from segmint.quality.gate import GateDecision
from segmint.quality.results import stored
from segmint.words import counted

log = logging.getLogger(__name__)


@dataclass
class QualityOutcome:
    """How a run's data fared: `ok` with one line to log, or the alert and its deliveries."""

    ok: bool
    line: str
    alert: Alert | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    docs: Path | None = None

    @property
    def data_failed(self) -> bool:
        """A critical check failed on the data (not only the segmentation held back by its own floors)."""
        return self.alert is not None and bool(self.alert.problems)


def build_docs(settings: Settings, run_id: str) -> Path | None:
    """Render the run's validations into data docs under the output folder; None if that failed."""
    try:
        return engine(settings.output_dir).build_docs(run_id, keep_days=settings.quality.docs_keep_days)
    except Exception as exc:  # docs are a convenience: the results are in the warehouse regardless
        log.error("data docs not built for run %s: %s", run_id, exc)
        return None


def conclude(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    as_of: date | None,
    segments: GateDecision | None = None,
) -> QualityOutcome:
    """Build data docs; when a critical check failed send the alert, else return the OK line."""
    docs = build_docs(settings, run_id)
    results = stored(con, run_id)
    alert = build_alert(con, run_id, as_of, segments=segments, docs=docs, results=results)
    if alert is None:
        files = len({r.batch for r in results if "/" in r.batch})
        warnings = sum(1 for r in results if not r.success)
        plural = "s" if files != 1 else ""
        # Warnings are checks that did not pass, so they are counted beside the passed ones, not among them.
        passed = len(results) - warnings
        line = f"data quality OK: {passed} checks passed ({files} file{plural}, night checks, features)"
        if warnings:
            where = f"data docs: {docs}" if docs is not None else "see the data docs"
            line += f" ({counted(warnings, 'warning')}, {where})"
        if segments is not None:
            line += f"; {segments.summary()}"
        return QualityOutcome(True, line, docs=docs)
    deliveries = dispatch(con, settings.alerts, alert)
    sent = [d.channel for d in deliveries if d.success]
    if alert.problems:
        # Each failed check by name with its numbers: the line is the run's message in status and the report.
        named = "; ".join(f"{p.name}: {p.summary}" if p.summary else p.name for p in alert.problems)
        count = len(alert.problems)
        line = (
            f"data quality FAILED: {count} critical check{'s' if count != 1 else ''} failed ({named}), "
            f"{len(alert.held)} batch{'es' if len(alert.held) != 1 else ''} held"
        )
    else:
        line = f"data quality OK, but {segments.summary() if segments else 'segments not published'}"
    if sent:
        line += f"; alert sent by {' and '.join(sent)}"
    elif not deliveries:  # nobody to tell: no recipients and no webhook in [alerts]
        line += "; no alert sent: set [alerts] recipients or webhook_url to be told"
    else:
        line += "; alert NOT delivered (see alerts_sent)"
    return QualityOutcome(False, line, alert, deliveries, docs)
