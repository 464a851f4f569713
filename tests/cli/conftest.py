"""The command line as a new user meets it: real subprocesses, a clean environment, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]
TESTS = Path(__file__).resolve().parent.parent
REAL = TESTS / "data" / "real"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the terminal width, Prefect's server or segmint's settings.

    The settle wait stays off (tests/conftest.py): files written a moment ago load at once.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"COLUMNS", "LINES", "PREFECT_API_URL", "PREFECT_HOME"}
        and (not k.startswith("SEGMINT_") or k == "SEGMINT_INGEST__SETTLE_SECONDS")
    }
    return {**env, **extra}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Run `segmint ARGS` in a subprocess (stdout a pipe, not a terminal), from tmp_path by default."""

    def run(
        *args: str, cwd: Path | None = None, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from segmint.cli import main; main()", *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            input=stdin if stdin is not None else "",
            env=env or clean_env(PREFECT_HOME=str(tmp_path / "prefect-home")),
            timeout=600,
        )

    return run
