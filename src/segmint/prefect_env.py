"""Prefect settings that make a serverless run work on a small machine (see README, Scheduling), and the
names of flow runs. Prefect is imported lazily here: the environment must be set before Prefect is."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date
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

# The package's own logger, sent into each flow run's logs (Prefect's `PREFECT_LOGGING_EXTRA_LOGGERS`).
PACKAGE_LOGGER = "segmint"

# What every process that runs segmint's flows needs, whoever starts it (the CLI, `segmint serve`, or a
# worker started by `prefect deploy`, whose prefect.yaml repeats these as job variables; a test checks).
FLOW_RUN_ENV = {
    # INFO, so each flow run shows its steps in Prefect's UI (at WARNING a run showed no logs at all).
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_LOGGING_EXTRA_LOGGERS": PACKAGE_LOGGER,
}


class _OneSentence(logging.Filter):
    """Drops the traceback from Prefect's log line of a task or flow that failed with a SegmintError:
    a full disk or a damaged file is one sentence, and the line still names the task."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SegmintError):
            record.exc_info = None
            record.exc_text = None
        return True


def configure_prefect(output_dir: Path, home: Path | None = None) -> None:
    """Set Prefect's environment before it is imported; values the user set win. Prefect's home (its
    database) is `home` when given ([prefect] home), else <output_dir>/prefect."""
    # The temporary server takes 14-20 s to start cold, above Prefect's 20 s default timeout.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Analytics on the temporary server log a "database is locked" traceback on every run.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_HOME", str(home or output_dir / "prefect"))
    for name, value in FLOW_RUN_ENV.items():
        os.environ.setdefault(name, value)
    # The terminal keeps its own short summary: Prefect's INFO lines go to the run's logs, not the console.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    # segmint's lines outside a flow run (before it starts, or on the audit's worker thread) are printed by
    # the CLI; Prefect would add a warning for each that it cannot attach to a run.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # Prefect's temporary server opens its database in PREFECT_HOME without creating the folder: on a
    # fresh folder's first run it waited out its start timeout and printed pages of tracebacks.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    # Logger filters survive Prefect's logging setup (dictConfig replaces handlers, not filters).
    for logger_name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _OneSentence) for f in logger.filters):
            logger.addFilter(_OneSentence())


def retry_unless_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """A task's retry_condition_fn: retry I/O failures, never an error the owner must fix."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            error = state.result(raise_on_failure=False)
        except Exception as exc:  # the result could not be read: judge the error that says so
            error = exc
    return not isinstance(error, USER_ERRORS)


def log_package_at_info() -> None:
    """Let the package's INFO lines through in a flow run (a worker's process leaves them at WARNING)."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def run_name(flow: str, default_day: Callable[[Path], date]) -> Callable[[], str]:
    """A `flow_run_name` callable: `<flow> <night>`, e.g. `nightly 2026-06-30`, from the run's parameters.

    `default_day` gives the night a run without `as_of` computes, from its config file.
    """

    def name() -> str:
        from prefect.runtime import flow_run

        parameters = flow_run.parameters
        as_of = parameters.get("as_of")
        if as_of:
            return f"{flow} {as_of}"
        try:
            return f"{flow} {default_day(Path(parameters.get('config') or 'segmint.toml')).isoformat()}"
        except Exception:  # a bad config fails the run itself, with its own sentence; the name stays plain
            return flow

    return name
