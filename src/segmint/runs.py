"""The runs ledger: one row per flow run, so every night's outcome is visible in the warehouse."""

from __future__ import annotations

import subprocess
import uuid
from datetime import date
from functools import cache
from pathlib import Path

import duckdb

from segmint import __version__
from segmint.redact import redact


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
    """Record a run as started and return its id."""
    run_id = run_id or uuid.uuid4().hex[:12]
    con.execute(
        "insert into runs values (?, ?, ?, current_localtimestamp(), null, 'running', ?, null)",
        [run_id, flow, as_of, code_version()],
    )
    return run_id


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, message: str = "") -> None:
    """Record how a run ended: completed, held (data held back) or failed."""
    con.execute(
        "update runs set finished_at = current_localtimestamp(), status = ?, message = ? where run_id = ?",
        # A stored message never carries a configured secret (an error can quote a URL or a login).
        [status, redact(message) or None, run_id],
    )


def published_run(
    con: duckdb.DuckDBPyConnection, *, on: date | None = None, upto: date | None = None
) -> tuple[str, date] | None:
    """The published segment run in force (run id, as-of): the latest published one, of the night `on`
    or of a night not after `upto` when given."""
    row = con.execute(
        """
        select run_id, as_of from segment_runs
        where published and (cast($on as date) is null or as_of = $on)
            and (cast($upto as date) is null or as_of <= $upto)
        order by as_of desc, published_at desc nulls last, created_at desc limit 1
        """,
        {"on": on, "upto": upto},
    ).fetchone()
    return (str(row[0]), row[1]) if row else None
