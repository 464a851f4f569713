"""Prefect settings that make a serverless run work on a small machine (see README, Scheduling)."""

import os
from pathlib import Path


def configure_prefect(output_dir: Path, home: Path | None = None) -> None:
    """Set Prefect's environment before it is imported; values the user set win. Prefect's home (its
    database) is `home` when given ([prefect] home), else <output_dir>/prefect."""
    # The temporary server takes 14-20 s to start cold, above Prefect's 20 s default timeout.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Analytics on the temporary server log a "database is locked" traceback on every run.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_HOME", str(home or output_dir / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
