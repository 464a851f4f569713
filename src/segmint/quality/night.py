"""Night checks: SQL over the warehouse once per run, for what no single batch shows.

Volume compares each source's rows dated the night being computed with the same count for the nights
before (a missing export is a night of zero rows); freshness says when the newest row is more than
`max_data_age_days` before the night; rejected files and batches still waiting for replay are named.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import duckdb

from segmint.config import QualitySettings, Settings, SourceSettings
from segmint.ingest import FileResult
from segmint.ingest.load import absent_sentence, partial_sentence
from segmint.quality.results import CheckResult
from segmint.quality.suites import NightCheck, load_suite
from segmint.words import counted

# Runs that ingest a night's files; replays and on-demand validation are not nights.
INGEST_FLOWS = ("nightly", "ingest")


@dataclass(frozen=True)
class Volume:
    """A source's rows dated the night being computed against the same for the nights before."""

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


# The data date of each source table's rows: volume and freshness judge the night being computed.
DATA_DATE = {"orders": "ordered_at", "events": "occurred_at"}


def run_night(con: duckdb.DuckDBPyConnection, run_id: str) -> date | None:
    """The night (as_of) a run computes, or None when the run has none recorded."""
    row = con.execute("select as_of from runs where run_id = ?", [run_id]).fetchone()
    return row[0] if row and row[0] is not None else None


def source_volume(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    settings: QualitySettings,
    table: str = "orders",
) -> Volume:
    """The source's rows whose data date is the run's night, against the same for the nights before.

    Counting by data date, not by the files a run loaded, keeps volume right for a backfill of an
    earlier night and for daily exports that repeat earlier days (repeated rows load once). A day
    without rows after the source's first day is a night of zero rows (a missing export).
    """
    night = run_night(con, run_id)
    column = DATA_DATE.get(table)
    if night is None or column is None:
        return Volume(0, ())
    # The night's rows came in a historical export (a file reaching back past the comparison window) rather
    # than a nightly one: such a file is often cut in the middle of its last day (UCI Online Retail ends at
    # 12:50), and no night of it was delivered on its own, so its nights are not judged for volume.
    bulk = con.execute(
        f"""
        select count(*) from (
            select source_file from {table}
            where source_file in (select path from loaded_files where source = $source)
            group by source_file
            having bool_or({column}::date = $night) and min({column})::date < $night - $nights::integer
        )
        """,
        {"source": source, "night": night, "nights": settings.volume_nights},
    ).fetchone()
    first_load = bool(bulk and bulk[0])
    rows = con.execute(
        f"""
        with files as (select distinct path from loaded_files where source = $source),
        dated as (
            select {column}::date as day from {table}
            where source_file in (select path from files) and {column}::date <= $night
        ),
        first_day as (select min(day) as day from dated),
        days as (
            select unnest(generate_series($night - $nights::integer, $night, interval 1 day))::date as day
        )
        select d.day = $night as tonight, count(r.day)::bigint as rows
        from days d cross join first_day f left join dated r on r.day = d.day
        where d.day = $night or d.day >= f.day
        group by d.day
        order by d.day
        """,
        {"source": source, "night": night, "nights": settings.volume_nights},
    ).fetchall()
    tonight = next((int(r[1]) for r in rows if r[0]), 0)
    history = () if first_load else tuple(int(r[1]) for r in rows if not r[0])
    band = expected_band(history, settings)
    return Volume(tonight, history, *(band or (None, None)))


def _freshness(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    table: str,
    check: NightCheck,
    source: SourceSettings,
    q: QualitySettings,
) -> CheckResult:
    night = run_night(con, run_id)
    column = DATA_DATE[table]
    row = con.execute(
        f"""
        select max({column})::date from {table}
        where source_file in (select path from loaded_files where source = ?)
        """,
        [source.name],
    ).fetchone()
    newest: date | None = row[0] if row else None
    observed: dict[str, object] = {"newest": str(newest) if newest else None, "night": str(night)}
    if night is None or newest is None:
        # Nothing loaded yet: the rejected-files check names the file; a first night is not stale.
        observed["summary"] = f"no {table} loaded from source '{source.name}' yet"
        return _night_result(table, source, check, True, observed)
    # Rows after the night are ignored by the features; only how far the newest row is behind counts.
    newest_by_night = con.execute(
        f"""
        select max({column})::date from {table}
        where source_file in (select path from loaded_files where source = ?) and {column}::date <= ?
        """,
        [source.name, night],
    ).fetchone()
    if not (newest_by_night and newest_by_night[0]):
        # The source starts after this night (a backfill from before a clickstream was added): nothing to
        # be stale, and nothing of it reaches tonight's features.
        observed["summary"] = f"no {table} of source '{source.name}' on or before {night}"
        return _night_result(table, source, check, True, observed)
    newest = newest_by_night[0]
    age = (night - newest).days
    observed |= {"newest": str(newest), "age_days": age, "max_data_age_days": q.max_data_age_days}
    noun = "order" if table == "orders" else "event"
    # With orders loaded, an old clickstream is no reason to compute an older night: the orders decide it.
    has_orders = table == "events" and _count_rows(con, "orders") > 0
    observed["summary"] = (
        (
            f"your newest event is {newest}, {age:,} days before the night of {night}: the clickstream "
            "export may have stopped (orders are not affected)"
            if has_orders
            else stale_sentence(noun, newest, night)
        )
        if age > q.max_data_age_days
        else (
            f"newest {noun} from source '{source.name}' is {newest}, {counted(age, 'day')} before the night"
        )
    )
    return _night_result(table, source, check, age <= q.max_data_age_days, observed)


def _count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


def stale_sentence(noun: str, newest: date, night: date, tonight: bool = False) -> str:
    """One sentence saying that the data ends well before the night, and how to compute its last day."""
    age = (night - newest).days
    when = "tonight" if tonight else f"the night of {night}"
    return (
        f"your newest {noun} is {newest}, {counted(age, 'day')} before {when}: the export may have stopped; "
        f"pass --as-of {newest} to compute that night"
    )


def newest_data_day(con: duckdb.DuckDBPyConnection) -> tuple[str, date] | None:
    """The newest order day in the warehouse (else the newest event day), with its noun."""
    for table, noun in (("orders", "order"), ("events", "event")):
        row = con.execute(f"select max({DATA_DATE[table]})::date from {table}").fetchone()
        if row and row[0] is not None:
            return noun, row[0]
    return None


@dataclass(frozen=True)
class DataEnd:
    """The warehouse's newest data day when it is before the night, and whether that day's night already ran."""

    day: date
    night: date
    ran: bool

    def summary(self, rows: str, band: str) -> str:
        """Why a source has no rows tonight: the data ends before the night, or an export is missing."""
        if self.ran:
            return f"{rows}; {band}; the newest data is {self.day}, a night already computed: tonight's export may be missing"
        age = (self.night - self.day).days
        return (
            f"{rows} because your data ends {self.day}, {counted(age, 'day')} before the night of {self.night} "
            f"({band}): pass --as-of {self.day} to compute the last night with data"
        )


def data_end(con: duckdb.DuckDBPyConnection, run_id: str) -> DataEnd | None:
    """Where the warehouse's data ends, when every order and event is dated before the run's night."""
    night = run_night(con, run_id)
    row = con.execute(
        "select greatest((select max(ordered_at)::date from orders), (select max(occurred_at)::date from events))"
    ).fetchone()
    newest: date | None = row[0] if row else None
    if night is None or newest is None or newest >= night:
        return None
    # An earlier night of that day already ran: the data stopped after it, so tonight's export is missing;
    # otherwise the export was taken before tonight ended (a first night downloaded in the morning).
    ran = con.execute(
        "select count(*) from runs where list_contains($flows, flow) and as_of = $day and run_id <> $run "
        "and status in ('completed', 'held')",
        {"flows": list(INGEST_FLOWS), "day": newest, "run": run_id},
    ).fetchone()
    return DataEnd(newest, night, bool(ran and ran[0]))


def _volume(
    table: str,
    check: NightCheck,
    source: SourceSettings,
    v: Volume,
    q: QualitySettings,
    end: DataEnd | None = None,
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
        rows = f"{v.tonight:,} rows tonight from source '{source.name}'"
        band = f"recent nights' median {v.median:,.0f}, expected {max(v.low, 0):,.0f} to {v.high:,.0f}"
        observed["summary"] = f"{rows}; {band}"
        success = v.tonight >= v.low if check.check == "volume_low" else v.tonight <= v.high
        if not success and check.check == "volume_low" and v.median is not None:
            # Only an extreme drop (a missing or cut-off export) holds the night; a quiet day is a warning.
            floor = q.volume_hold_share * v.median
            observed["hold_below"] = round(floor, 1)
            if v.tonight >= floor:
                observed["summary"] = f"{observed['summary']}" + (
                    f"; a quiet day, not held (only fewer than {floor:,.0f} rows, "
                    f"{q.volume_hold_share:.0%} of the median, hold the night)"
                )
                check = replace(check, severity="warning")
        if (
            not success
            and v.tonight == 0
            and end is not None
            and (end.night - end.day).days <= q.max_data_age_days
        ):
            # Past max_data_age_days the freshness check says where the data ends; within it only this does.
            observed["summary"] = end.summary(rows, band)
            # `run nightly` and `status` offer --as-of this day first (no earlier run computed it).
            observed["newest" if end.ran else "data_ends"] = str(end.day)
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


def _absent(
    table: str, check: NightCheck, source: SourceSettings, files: Sequence[FileResult]
) -> CheckResult:
    absent = [
        (f, column, rows)
        for f in files
        if f.source == source.name
        for column, rows in f.absent_columns.items()
    ]
    sample: list[dict[str, object]] = [
        {"file": str(f.path), "column": column, "rows": rows} for f, column, rows in absent
    ]
    summary = "; ".join(f"{f.path.name}: {absent_sentence(source.kind, c, n)}" for f, c, n in absent)
    return _night_result(
        table, source, check, not absent, {"summary": summary or "no optional column went missing"}, sample
    )


def _partial(
    table: str, check: NightCheck, source: SourceSettings, files: Sequence[FileResult]
) -> CheckResult:
    partial = [f for f in files if f.source == source.name and f.orders_partial]
    sample: list[dict[str, object]] = [
        {"file": str(f.path), "orders": f.orders_partial, "lines_quarantined": f.lines_missing}
        for f in partial
    ]
    orders, lines = sum(f.orders_partial for f in partial), sum(f.lines_missing for f in partial)
    summary = partial_sentence(orders, lines) if partial else "every order loaded with all of its lines"
    return _night_result(table, source, check, not partial, {"summary": summary}, sample)


def accepted(result: CheckResult, accept: Sequence[str]) -> bool:
    """Whether `accept` (from `run nightly --accept`) names the check, as `suite.key` or `key`."""
    return result.key in accept or f"{result.suite}.{result.key}" in accept


def night_checks(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    files: Sequence[FileResult],
    accept: Sequence[str] = (),
) -> list[CheckResult]:
    """Run every suite's night checks for tonight's run; a failed check named in `accept` only warns."""
    results = _night_checks(con, settings, run_id, files)
    for r in results:
        if r.blocking and accepted(r, accept):
            # The owner looked at the numbers and says the data is right: recorded, reported, not holding.
            r.severity = "warning"
            r.observed["accepted"] = True
            r.observed["summary"] = (
                f"{r.observed.get('summary', '')}; accepted with --accept {r.suite}.{r.key}"
            )
    return results


def _night_checks(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, files: Sequence[FileResult]
) -> list[CheckResult]:
    results: list[CheckResult] = []
    # volume_low and volume_high judge the same counts: one volume query per source.
    volumes: dict[str, Volume] = {}
    end = data_end(con, run_id)
    for table in ("orders", "events", "customers", "feedback"):
        sources = [s for s in settings.sources if s.kind == table]
        for check in load_suite(table).night_checks:
            if check.check in ("volume_low", "volume_high"):
                for s in sources:
                    if s.name not in volumes:
                        volumes[s.name] = source_volume(con, run_id, s.name, settings.quality, table)
                    results.append(_volume(table, check, s, volumes[s.name], settings.quality, end))
            elif check.check == "freshness" and table in DATA_DATE:
                results += [_freshness(con, run_id, table, check, s, settings.quality) for s in sources]
            elif check.check == "rejected_files":
                results += [_rejected(table, check, s, files) for s in sources]
            elif check.check == "held_batches":
                results += [_waiting(con, run_id, table, check, s) for s in sources]
            elif check.check == "absent_columns":
                results += [_absent(table, check, s, files) for s in sources]
            elif check.check == "partial_orders":
                results += [_partial(table, check, s, files) for s in sources]
    return results
