"""What a flow run leaves in Prefect's UI: a markdown summary, a table of the files loaded, a link to the report.

The content is built by plain functions (tested without Prefect); `publish_*` hands it to Prefect's
artifacts API and must be called inside a flow run, which the artifacts then belong to.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segmint.pipeline import NightlyOutcome
    from segmint.report import WeeklyOutcome

# Artifact keys (Prefect allows lower-case letters, digits and dashes): each key keeps its history across runs.
NIGHTLY_SUMMARY = "nightly-summary"
NIGHTLY_FILES = "nightly-files"
NIGHTLY_REPORT = "nightly-report"
WEEKLY_REPORT = "weekly-report"


def nightly_markdown(outcome: NightlyOutcome) -> str:
    """The night in a few lines: status, files, headline counts, segments, predictions, data quality."""
    lines = [f"# Nightly {outcome.as_of}: {outcome.status}", "", f"segmint run `{outcome.run_id}`", ""]
    rows: list[tuple[str, str]] = []
    by_status: dict[str, int] = {}
    for f in outcome.files:
        by_status[f.status] = by_status.get(f.status, 0) + 1
    files = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())) or "none new"
    rows.append(("Files", files))
    if outcome.files:
        read = sum(f.rows_read for f in outcome.files)
        loaded = sum(f.rows_loaded for f in outcome.files)
        quarantined = sum(f.rows_quarantined for f in outcome.files)
        held = sum(f.rows_held for f in outcome.files)
        rows.append(("Rows", f"{read:,} read, {loaded:,} loaded, {quarantined:,} quarantined, {held:,} held"))
    if outcome.totals is not None:
        t = outcome.totals
        rows.append(("Customers", f"{t.customers:,}"))
        rows.append(("Orders", f"{t.orders:,} ({t.order_lines:,} lines)"))
        rows.append(("Events", f"{t.events:,}"))
        rows.append(("Net revenue", f"{t.revenue:,.2f}{f' {t.currency}' if t.currency else ''}"))
    if outcome.features is not None:
        rows.append(("Customers with features", f"{outcome.features.customers:,}"))
    if outcome.segmentation is not None:
        s = outcome.segmentation
        published = outcome.segments is not None and outcome.segments.publish
        rows.append(
            (
                "Segments",
                f"{s.k} over {s.n_customers:,} customers, {'published' if published else 'not published'}",
            )
        )
    if outcome.predictions is not None:
        p = outcome.predictions
        rows.append(("Predictions", f"{p.n_customers:,} customers scored, {p.n_anomalies:,} anomalies"))
    if outcome.quality is not None:
        rows.append(("Data quality", outcome.quality.line))
    lines += ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows)]
    notes = [
        m
        for m in dict.fromkeys(outcome.messages)
        if m and (outcome.quality is None or m != outcome.quality.line)
    ]
    if notes:
        lines += ["", "## Notes", "", *(f"- {_cell(m)}" for m in notes)]
    if outcome.report_path is not None:
        lines += ["", f"Report: `{outcome.report_path}`"]
    return "\n".join(lines) + "\n"


def files_table(outcome: NightlyOutcome) -> list[dict[str, Any]]:
    """One row per file the night looked at, with its row accounting."""
    return [
        {
            "source": f.source,
            "file": str(f.path),
            "status": f.status,
            "rows_read": f.rows_read,
            "rows_loaded": f.rows_loaded,
            "rows_quarantined": f.rows_quarantined,
            "rows_duplicate": f.rows_duplicate,
            "rows_held": f.rows_held,
            "message": f.message,
        }
        for f in outcome.files
    ]


def report_link(path: Path) -> str:
    """The report's address for a link artifact (a file on the machine that runs segmint)."""
    return path.resolve().as_uri()


def publish_nightly(outcome: NightlyOutcome) -> None:
    """Attach the night's summary, files table and report link to the current flow run."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    create_markdown_artifact(
        key=NIGHTLY_SUMMARY,
        markdown=nightly_markdown(outcome),
        description=f"Nightly {outcome.as_of}: {outcome.status}",
    )
    create_table_artifact(
        key=NIGHTLY_FILES, table=files_table(outcome), description=f"Files loaded for {outcome.as_of}"
    )
    if outcome.report_path is not None:
        create_link_artifact(
            key=NIGHTLY_REPORT,
            link=report_link(outcome.report_path),
            link_text=f"Report for {outcome.as_of}",
            description="The week's report with tonight's segments",
        )


def publish_weekly(outcome: WeeklyOutcome) -> None:
    """Attach the weekly report's link (and whom it reached) to the current flow run."""
    from prefect.artifacts import create_link_artifact

    reached = f"; sent to {', '.join(outcome.sent_to)}" if outcome.sent_to else ""
    if outcome.not_sent:
        reached = f"; not sent: {outcome.not_sent}"
    create_link_artifact(
        key=WEEKLY_REPORT,
        link=report_link(outcome.path),
        link_text=outcome.subject,
        description=f"Weekly report for the week ending {outcome.as_of}{reached}",
    )


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell or list item (one line, no column breaks)."""
    return " ".join(text.split()).replace("|", "\\|")
