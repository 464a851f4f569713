"""The runs ledger: one row per flow run, so every night's outcome is visible in the warehouse."""

from __future__ import annotations

import logging
import os
import resource
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import duckdb

from segmint import __version__
from segmint.redact import redact

logger = logging.getLogger(__name__)


@cache
def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    checkout = Path(__file__).resolve().parent.parent.parent
    if (checkout / ".git").exists():
        try:
            sha = subprocess.run(
                ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            return f"{__version__}+g{sha}"
        except (OSError, subprocess.SubprocessError):
            pass
    return __version__


def start_run(
    con: duckdb.DuckDBPyConnection, flow: str, as_of: date | None, run_id: str | None = None
) -> str:
    """Mark runs whose process has died as killed, then record this run as started (with its process
    and host) and return its id. Call it under the writer lock."""
    reap_killed_runs(con)
    run_id = run_id or uuid.uuid4().hex[:12]
    con.execute(
        """
        insert into runs (
            run_id, flow, as_of, started_at, finished_at, status, code_version, message, pid, host
        )
        values (?, ?, ?, current_localtimestamp(), null, 'running', ?, null, ?, ?)
        """,
        [run_id, flow, as_of, code_version(), os.getpid(), socket.gethostname()],
    )
    return run_id


@dataclass(frozen=True)
class _OpenStage:
    stage: str
    started_at: datetime  # local wall time, as the ledger's other timestamps
    clock: float  # time.monotonic() at the start: a clock change cannot skew the seconds


# The stage each run of this process is in: a stage's row is written when it ends, from here.
_OPEN_STAGES: dict[str, _OpenStage] = {}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (a high-water mark: it never goes down)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def enter_stage(con: duckdb.DuckDBPyConnection, run_id: str, stage: str) -> None:
    """Record the stage a run is starting (a killed run is marked with it), ending the one before in
    run_stages, and log one line."""
    end_stage(con, run_id)
    con.execute("update runs set stage = ? where run_id = ?", [stage, run_id])
    _OPEN_STAGES[run_id] = _OpenStage(stage, datetime.now(), time.monotonic())
    logger.info("run %s: %s", run_id, stage)


def end_stage(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Write the row of the stage the run is in to run_stages: its times, seconds and the process's peak
    RSS so far (nothing when no stage is open in this process)."""
    open_stage = _OPEN_STAGES.pop(run_id, None)
    if open_stage is None:
        return
    seconds = time.monotonic() - open_stage.clock
    con.execute(
        "insert into run_stages (run_id, stage, started_at, finished_at, seconds, peak_rss_mb) "
        "values (?, ?, ?, ?, ?, ?)",
        [run_id, open_stage.stage, open_stage.started_at, datetime.now(), seconds, peak_rss_mb()],
    )
    logger.info("run %s: %s took %.1f s (peak RSS %.0f MB)", run_id, open_stage.stage, seconds, peak_rss_mb())


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, message: str = "") -> None:
    """Record how a run ended: completed, held (data held back) or failed."""
    con.execute(
        "update runs set finished_at = current_localtimestamp(), status = ?, message = ? where run_id = ?",
        # A stored message never carries a configured secret (an error can quote a URL or a login).
        [status, redact(message) or None, run_id],
    )


@dataclass(frozen=True)
class KilledRun:
    """A run found `running` whose process no longer exists."""

    run_id: str
    flow: str
    stage: str | None
    message: str


def _started_at(pid: int) -> datetime | None:
    """When process `pid` started (naive UTC), from /proc; None where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after "pid (comm)"
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC).replace(tzinfo=None)


def process_gone(pid: int | None, since: datetime) -> bool:
    """True when the process that started a run at `since` no longer exists (its pid may be reused)."""
    if pid is None:
        return True  # a run recorded before runs had a pid: under the writer lock, none is alive
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    started = _started_at(pid)
    # A process younger than the run is another program that got the same pid.
    return started is not None and started > since + timedelta(seconds=2)


def reap_killed_runs(con: duckdb.DuckDBPyConnection) -> list[KilledRun]:
    """Mark `killed` the runs left `running` on this host by a process that no longer exists (with the
    stage they reached), and their segment runs still pending the gate. Call it under the writer lock."""
    host = socket.gethostname()
    killed = []
    for run_id, flow, started_at, pid, run_host, stage in con.execute(
        "select run_id, flow, started_at, pid, host, stage from runs where status = 'running' order by started_at"
    ).fetchall():
        if run_host not in (None, host) or not process_gone(pid, started_at):
            continue
        where = f"during {stage}" if stage else "before its first stage"
        who = f"process {pid} on {run_host}" if pid is not None else "its process"
        message = f"killed {where}: {who} ended without closing the run"
        con.execute(
            """
            update runs set status = 'killed', finished_at = current_localtimestamp(), message = ?
            where run_id = ? and status = 'running'
            """,
            [message, run_id],
        )
        con.execute(
            """
            update segment_runs set status_reason = ?
            where run_id = ? and not published and starts_with(status_reason, 'pending')
            """,
            [f"not published: run {run_id} was killed before the publication gate", run_id],
        )
        logger.warning("run %s (%s) %s; marked killed", run_id, flow, message)
        killed.append(KilledRun(str(run_id), str(flow), stage, message))
    return killed


# "Which run is in force" is answered here only: the flows, the CLI, campaigns and the report ask these.


def published_run(
    con: duckdb.DuckDBPyConnection,
    *,
    on: date | None = None,
    upto: date | None = None,
    before: date | None = None,
) -> tuple[str, date] | None:
    """The published segment run in force (run id, as-of): the latest published one, of the night `on`,
    of a night not after `upto` or of a night before `before` when given."""
    row = con.execute(
        """
        select run_id, as_of from segment_runs
        where published and (cast($on as date) is null or as_of = $on)
            and (cast($upto as date) is null or as_of <= $upto)
            and (cast($before as date) is null or as_of < $before)
        order by as_of desc, published_at desc nulls last, created_at desc limit 1
        """,
        {"on": on, "upto": upto, "before": before},
    ).fetchall()
    return (str(row[0][0]), row[0][1]) if row else None


@dataclass(frozen=True)
class HeldNight:
    """A night whose latest nightly run was held, with the failed critical checks that held it."""

    run_id: str
    as_of: date
    checks: list[str]  # "suite.key: what was measured"


def held_night(con: duckdb.DuckDBPyConnection, on: date) -> HeldNight | None:
    """The night `on` when its latest nightly run was held by a failed critical check, else None."""
    import json

    last = con.execute(
        "select run_id, status from runs where flow = 'nightly' and as_of = ? "
        "and status in ('completed', 'held') order by started_at desc limit 1",
        [on],
    ).fetchone()
    if last is None or last[1] != "held":
        return None
    failed = con.execute(
        "select suite, expectation, any_value(observed) from validation_results "
        "where run_id = ? and severity = 'critical' and not success "
        "group by suite, expectation order by suite, expectation",
        [last[0]],
    ).fetchall()
    checks = []
    # "No customer features" follows from the others when there are others: not a cause of its own.
    causes = [row for row in failed if row[1] != "features_computed"] or failed
    for suite, key, observed in causes:
        try:
            summary = str((json.loads(observed) or {}).get("summary") or "")
        except (TypeError, ValueError, AttributeError):
            summary = ""
        checks.append(f"{suite}.{key}: {summary}" if summary else f"{suite}.{key}")
    return HeldNight(str(last[0]), on, checks)


def prediction_run(con: duckdb.DuckDBPyConnection, upto: date) -> tuple[str, date] | None:
    """The prediction run in force on `upto` (run id, as-of): the latest one of a night not after it."""
    row = con.execute(
        "select run_id, as_of from prediction_runs where as_of <= ? order by as_of desc, created_at desc limit 1",
        [upto],
    ).fetchall()
    return (str(row[0][0]), row[0][1]) if row else None
