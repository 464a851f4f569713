"""Prefect settings that make a serverless run work on a small machine (see README, Scheduling)."""

import os
from pathlib import Path
from typing import Any

from segmint.errors import SegmintError

# Errors that wait for the owner (a wrong setting, a missing or unreadable file): retrying them only
# delays the one sentence that says what to fix.
USER_ERRORS: tuple[type[BaseException], ...] = (
    SegmintError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def configure_prefect(output_dir: Path) -> None:
    """Set Prefect's environment before it is imported; values the user set win."""
    # The temporary server takes 14-20 s to start cold, above Prefect's 20 s default timeout.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Analytics on the temporary server log a "database is locked" traceback on every run.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_HOME", str(output_dir / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Prefect's temporary server opens its database in PREFECT_HOME without creating the folder: on a
    # fresh folder's first run it waited out its start timeout and printed pages of tracebacks.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)


def retry_unless_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """A task's retry_condition_fn: retry I/O failures, never an error the owner must fix."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            error = state.result(raise_on_failure=False)
        except Exception as exc:  # the result could not be read: judge the error that says so
            error = exc
    return not isinstance(error, USER_ERRORS)
