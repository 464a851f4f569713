"""`segmint status`: the last runs, batches waiting for a replay, the data's age and the next scheduled runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from segmint.config import Settings
from segmint.report.model import RunRow  # one row of the runs ledger, as the report shows it


@dataclass(frozen=True)
class HeldBatch:
    """A batch a run held back, with the command that publishes it once the export is fixed."""

    run_id: str
    source: str
    path: str
    reason: str
    held_at: datetime
    replay: str


@dataclass(frozen=True)
class DataAge:
    """The warehouse's newest order (else event) day against tonight."""

    noun: str
    newest: date
    night: date
    age_days: int
    max_age_days: int

    @property
    def stale(self) -> bool:
        """Older than [quality] max_data_age_days: the nightly's freshness check fails."""
        return self.age_days > self.max_age_days


@dataclass(frozen=True)
class HeldNight:
    """The last nightly run, when a failed critical check held it: which checks, with their numbers."""

    run_id: str
    as_of: date
    checks: list[str]  # "suite.key: what was measured"
    advice: str  # the command that publishes the night, for checks on loaded data (empty: replay or fix)
    data_ends: date | None = None  # the data ends before the night: `advice` computes this day instead
    accept: str = ""  # with data_ends: the command that publishes the night anyway


@dataclass(frozen=True)
class NextRun:
    """A scheduled flow's next start."""

    deployment: str
    cron: str
    timezone: str
    next_run: datetime


@dataclass
class Status:
    """Everything `segmint status` shows."""

    config: str
    warehouse: str
    warehouse_exists: bool
    runs: list[RunRow] = field(default_factory=list)
    held: list[HeldBatch] = field(default_factory=list)
    data: DataAge | None = None
    held_night: HeldNight | None = None
    schedules: list[NextRun] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings by the caller's encoder)."""
        out = asdict(self)
        out["held_batches"] = out.pop("held")
        out["data"] = None if self.data is None else {**asdict(self.data), "stale": self.data.stale}
        return out


def _replay_command(settings: Settings, run_id: str) -> str:
    return f"segmint replay {run_id} --config {settings.config_path}"


def _held_night(con: Any, settings: Settings) -> HeldNight | None:
    """The last nightly run's failed critical checks, when they held it."""
    import json

    last = con.execute(
        "select run_id, as_of, status from runs where flow = 'nightly' and as_of is not null "
        "order by started_at desc limit 1"
    ).fetchone()
    if last is None or last[2] != "held":
        return None
    failed = con.execute(
        "select suite, expectation, observed, batch from validation_results "
        "where run_id = ? and severity = 'critical' and not success order by suite, expectation",
        [last[0]],
    ).fetchall()
    checks, judged = [], []
    ends: date | None = None
    for suite, key, observed, batch in failed:
        try:
            values = json.loads(observed) or {}
            summary = str(values.get("summary") or "")
            ends = ends or (date.fromisoformat(values["data_ends"]) if values.get("data_ends") else None)
        except (TypeError, ValueError, AttributeError):
            summary = ""
        checks.append(f"{suite}.{key}: {summary}" if summary else f"{suite}.{key}")
        if str(batch).endswith("(tonight)") and key not in (
            "no_batch_waiting",
            "files_readable",
            "data_fresh",
        ):
            judged.append(f"{suite}.{key}")
    advice = ""
    if judged:
        # A check on loaded data: nothing to replay; accepting the numbers publishes the night.
        accept = " ".join(f"--accept {name}" for name in judged)
        advice = f"segmint run nightly --as-of {last[1]} --config {settings.config_path} {accept}"
    if ends is not None:
        # The data ends before the night: its last day is the night to compute, accepting is the fallback.
        first = f"segmint run nightly --as-of {ends} --config {settings.config_path}"
        return HeldNight(str(last[0]), last[1], checks, first, ends, advice)
    return HeldNight(str(last[0]), last[1], checks, advice)


def read_status(settings: Settings, *, last: int = 10) -> Status:
    """Read the status from the warehouse (read-only) and the schedules from the settings."""
    from segmint.pipeline import default_night
    from segmint.quality.night import newest_data_day
    from segmint.serve import schedules
    from segmint.warehouse import connect

    path = settings.warehouse.path
    status = Status(str(settings.config_path), str(path), path.exists())
    status.schedules = [
        NextRun(s.full_name, s.cron, s.timezone, s.next_runs(1)[0]) for s in schedules(settings)
    ]
    if not path.exists():
        return status
    with connect(path, read_only=True) as con:
        rows = con.execute(
            "select run_id, flow, as_of, started_at, finished_at, status, message from runs "
            "order by started_at desc limit ?",
            [last],
        ).fetchall()
        status.runs = [RunRow(*row) for row in rows]
        held = con.execute(
            "select run_id, source, path, reason, held_at from held_batches where status = 'held' "
            "order by held_at desc"
        ).fetchall()
        status.held = [
            HeldBatch(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], _replay_command(settings, str(r[0])))
            for r in held
        ]
        status.held_night = _held_night(con, settings)
        newest = newest_data_day(con)
    if newest is not None:
        night = default_night(settings)
        status.data = DataAge(
            newest[0], newest[1], night, (night - newest[1]).days, settings.quality.max_data_age_days
        )
    return status
