"""Night checks: SQL over the warehouse once per run, for what no single batch shows.

Volume compares each source's rows tonight with the median of recent nights (a missing export is a
night of zero rows); rejected files and batches still waiting for replay are named with their files.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from segmint.config import QualitySettings, Settings, SourceSettings
from segmint.ingest import FileResult
from segmint.quality.results import CheckResult
from segmint.quality.suites import NightCheck, load_suite

# Runs that ingest a night's files; replays and on-demand validation are not nights.
INGEST_FLOWS = ("nightly", "ingest")


@dataclass(frozen=True)
class Volume:
    """A source's rows tonight against the median of recent nights."""

    tonight: int
    history: tuple[int, ...]
    low: float | None = None
    high: float | None = None

    @property
    def median(self) -> float | None:
        """The median of the history, or None without enough nights."""
        return statistics.median(self.history) if self.history else None


def expected_band(history: Sequence[int], settings: QualitySettings) -> tuple[float, float] | None:
    """The band tonight's rows should fall in, or None with too few nights of history."""
    if len(history) < settings.volume_min_nights:
        return None
    median = float(statistics.median(history))
    # Counts are noisy: never flag within three Poisson standard deviations of the median.
    tolerance = max(settings.volume_band * median, 3 * math.sqrt(median))
    return median - tolerance, median + tolerance


def source_volume(
    con: duckdb.DuckDBPyConnection, run_id: str, source: str, settings: QualitySettings
) -> Volume:
    """Rows the source delivered tonight (loaded or held) and on each of the recent nights before."""
    rows = con.execute(
        """
        with delivered as (
            select run_id, rows_read from loaded_files where source = $source
            union all
            select run_id, rows_read from held_batches where source = $source
        ),
        current as (select started_at from runs where run_id = $run),
        nights as (
            select r.run_id, r.started_at from runs r, current c
            where r.flow in (select unnest($flows)) and r.run_id <> $run and r.started_at < c.started_at
            order by r.started_at desc
            limit $nights
        )
        select n.run_id = $run as tonight, coalesce(sum(d.rows_read), 0)::bigint as rows
        from (select run_id, started_at from nights union all select $run, null) n
        left join delivered d using (run_id)
        group by n.run_id, n.started_at
        order by n.started_at
        """,
        {"source": source, "run": run_id, "flows": list(INGEST_FLOWS), "nights": settings.volume_nights},
    ).fetchall()
    tonight = next((int(r[1]) for r in rows if r[0]), 0)
    history = tuple(int(r[1]) for r in rows if not r[0])
    band = expected_band(history, settings)
    return Volume(tonight, history, *(band or (None, None)))


def _volume(
    table: str, check: NightCheck, source: SourceSettings, v: Volume, q: QualitySettings
) -> CheckResult:
    observed: dict[str, object] = {"tonight": v.tonight, "history": list(v.history), "median": v.median}
    if v.low is None or v.high is None:
        observed["summary"] = (
            f"{v.tonight:,} rows tonight; not judged: {len(v.history)} earlier nights, "
            f"{q.volume_min_nights} needed"
        )
        success = True
    else:
        observed |= {"low": round(v.low, 1), "high": round(v.high, 1)}
        observed["summary"] = (
            f"{v.tonight:,} rows tonight from source '{source.name}'; recent nights' median "
            f"{v.median:,.0f}, expected {max(v.low, 0):,.0f} to {v.high:,.0f}"
        )
        success = v.tonight >= v.low if check.check == "volume_low" else v.tonight <= v.high
    return _night_result(table, source, check, success, observed)


def _night_result(
    table: str,
    source: SourceSettings,
    check: NightCheck,
    success: bool,
    observed: dict[str, object],
    sample: list[dict[str, object]] | None = None,
) -> CheckResult:
    return CheckResult(
        suite=table,
        batch=f"source {source.name} (tonight)",
        key=check.key,
        title=check.title,
        severity=check.severity,
        success=success,
        unexpected_count=len(sample) if sample is not None else None,
        observed=observed,
        sample=sample or [],
    )


def _rejected(
    table: str, check: NightCheck, source: SourceSettings, files: Sequence[FileResult]
) -> CheckResult:
    rejected = [f for f in files if f.source == source.name and f.status == "rejected"]
    sample: list[dict[str, object]] = [{"file": str(f.path), "problem": f.message} for f in rejected]
    summary = f"{len(rejected)} of {sum(f.source == source.name for f in files)} files rejected"
    return _night_result(table, source, check, not rejected, {"summary": summary}, sample)


def _waiting(
    con: duckdb.DuckDBPyConnection, run_id: str, table: str, check: NightCheck, source: SourceSettings
) -> CheckResult:
    rows = con.execute(
        """
        select path, run_id, rows_read, reason, held_at from held_batches
        where source = ? and status = 'held' and run_id <> ? order by held_at
        """,
        [source.name, run_id],
    ).fetchall()
    sample: list[dict[str, object]] = [
        {"file": r[0], "held_by_run": r[1], "rows": r[2], "reason": r[3], "replay": f"segmint replay {r[1]}"}
        for r in rows
    ]
    summary = f"{len(rows)} batches held by earlier runs are waiting for `segmint replay`"
    return _night_result(table, source, check, not rows, {"summary": summary}, sample)


def night_checks(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, files: Sequence[FileResult]
) -> list[CheckResult]:
    """Run every suite's night checks for tonight's run."""
    results: list[CheckResult] = []
    # volume_low and volume_high judge the same counts: one volume query per source.
    volumes: dict[str, Volume] = {}
    for table in ("orders", "events", "customers"):
        sources = [s for s in settings.sources if s.kind == table]
        for check in load_suite(table).night_checks:
            if check.check in ("volume_low", "volume_high"):
                for s in sources:
                    if s.name not in volumes:
                        volumes[s.name] = source_volume(con, run_id, s.name, settings.quality)
                    results.append(_volume(table, check, s, volumes[s.name], settings.quality))
            elif check.check == "rejected_files":
                results += [_rejected(table, check, s, files) for s in sources]
            elif check.check == "held_batches":
                results += [_waiting(con, run_id, table, check, s) for s in sources]
    return results
