"""Prefect settings that make a serverless run work on a small machine (see README, Scheduling)."""

import logging
import os
from pathlib import Path

from segmint.errors import SegmintError


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
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Logger filters survive Prefect's logging setup (dictConfig replaces handlers, not filters).
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OneSentence) for f in logger.filters):
            logger.addFilter(_OneSentence())
