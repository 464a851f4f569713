"""`segmint replay RUN_ID`: publish the batches a run held back, once the cause is fixed.

For each batch the run held: if the file at its path has changed (the owner re-exported it there), that
file is loaded; otherwise the kept copy is audited again (after a threshold or suite change). `force`
publishes whatever fails (bad rows still go to quarantine). A replay is a run of its own in `runs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from segmint.config import Settings, SourceSettings
from segmint.currency import sync_shop
from segmint.errors import SegmintError
from segmint.ingest import FileResult, load_file
from segmint.ingest.load import held_by, load_held
from segmint.ingest.read import sha256_of
from segmint.quality.audit import BatchAudit
from segmint.quality.results import CheckResult
from segmint.runs import finish_run, start_run


@dataclass
class ReplayOutcome:
    """What a replay did: its own run id, each batch's result and the checks it ran."""

    run_id: str
    replayed: str
    files: list[FileResult] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)
    still_held: list[str] = field(default_factory=list)
    forced: bool = False

    @property
    def status(self) -> str:
        """completed when every batch is published, held when some still fail."""
        return "held" if self.still_held else "completed"


def _waiting(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, str]]:
    rows = con.execute(
        "select source, sha256, path from held_batches where run_id = ? and status = 'held' order by held_at",
        [run_id],
    ).fetchall()
    if rows:
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
    if not con.execute("select 1 from runs where run_id = ?", [run_id]).fetchone():
        raise SegmintError(f"There is no run {run_id!r} in the warehouse; copy the run id from the alert.")
    if not con.execute("select 1 from held_batches where run_id = ?", [run_id]).fetchone():
        raise SegmintError(f"Run {run_id} held no batch back; there is nothing to replay.")
    raise SegmintError(
        f"Every batch run {run_id} held back is already published or replaced; nothing to replay."
    )


def _source(settings: Settings, name: str, path: str) -> SourceSettings:
    for source in settings.sources:
        if source.name == name:
            return source
    raise SegmintError(
        f"The held batch {path} came from source '{name}', which {settings.config_path} no longer has; "
        "add the source back to replay it."
    )


def replay(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    *,
    force: bool = False,
    now: datetime | None = None,
) -> ReplayOutcome:
    """Replay every batch `run_id` held back that is still waiting; the caller holds the writer lock."""
    waiting = _waiting(con, run_id)
    sync_shop(con, settings.shop)  # rates or a base currency set since the batch was held
    now = now or datetime.now(UTC).replace(tzinfo=None)
    tolerance = timedelta(hours=settings.quality.future_tolerance_hours)
    outcome = ReplayOutcome(start_run(con, "replay", None), run_id, forced=force)
    audit = BatchAudit(settings, now=now, force=force)
    try:
        for name, sha, path_text in waiting:
            source, path = _source(settings, name, path_text), Path(path_text)
            if path.is_file():
                current = sha256_of(path)
                fresh = current != sha and held_by(con, current) is None
                if (
                    fresh
                    and not con.execute("select 1 from loaded_files where sha256 = ?", [current]).fetchone()
                ):
                    # The owner fixed the export in place: that file is the replay.
                    result = load_file(
                        con,
                        source,
                        path,
                        outcome.run_id,
                        now=now,
                        future_tolerance=tolerance,
                        audit=audit,
                        max_line_bytes=settings.ingest.max_line_bytes,
                    )
                    outcome.files.append(result)
                    # A file that replaces the batch settles it; one that does not (the next night's
                    # export under the same name) leaves the kept copy to replay below.
                    if result.status != "loaded" or held_by(con, sha) is None:
                        continue
            outcome.files.append(
                load_held(con, source, sha, outcome.run_id, now=now, future_tolerance=tolerance, audit=audit)
            )
        outcome.results = audit.results
        outcome.still_held = [p for _n, sha, p in waiting if held_by(con, sha) is not None]
    except BaseException as exc:
        finish_run(con, outcome.run_id, "failed", str(exc))
        raise
    finally:
        audit.finish()
    message = f"replay of run {run_id}" + (" (forced)" if force else "")
    if outcome.still_held:
        message += f"; still held: {', '.join(Path(p).name for p in outcome.still_held)}"
    finish_run(con, outcome.run_id, outcome.status, message)
    return outcome
