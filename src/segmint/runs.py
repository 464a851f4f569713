"""The runs ledger: one row per flow run, so every night's outcome is visible in the warehouse."""

from __future__ import annotations

import subprocess
import uuid
from datetime import date
from functools import cache
from pathlib import Path

import duckdb

from segmint import __version__


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
        [status, message or None, run_id],
    )
