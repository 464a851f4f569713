"""Fixtures for the whole-job tests: the real commands in subprocesses against the session's Prefect test
server, and the report opened in headless chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from e2e.wholejob import ARTIFACTS, Job, browser_module

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def segmint(prefect_api_url: str) -> Runner:
    """Run `segmint ARGS` in a subprocess against the session's Prefect server."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "COLUMNS": "200"}

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from segmint.cli import main; main()", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=900,
        )

    return run


@pytest.fixture
def whole_job(segmint: Runner) -> Callable[[Path, date], Job]:
    """The nightly job and what the owner runs after it: report, campaign audiences, the weekly report."""

    def run(config: Path, as_of: date) -> Job:
        job = Job(config, as_of)
        common = ("--config", str(config), "--as-of", as_of.isoformat())
        job.steps["nightly"] = segmint("run", "nightly", *common)
        job.steps["report"] = segmint("report", *common)
        job.steps["campaigns"] = segmint("campaigns", "build", *common)
        job.steps["weekly"] = segmint("run", "weekly-report", *common)
        return job

    return run


@pytest.fixture
def report_in_browser(tmp_path: Path) -> Callable[[Path, str], dict[str, Any]]:
    """Open a report in headless chromium; return what loading it showed; keep a full-page screenshot."""
    cdp = browser_module()

    def open_report(path: Path, name: str) -> dict[str, Any]:
        binary = cdp.chromium_path()
        if binary is None:
            pytest.skip(
                "chromium is not installed: `make test` installs it, or `sudo apt-get install chromium`"
            )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with cdp.browser(binary, tmp_path / f"profile-{name}") as page:
            seen = page.load(path.as_uri())
            sections = page.evaluate(
                "[...document.querySelectorAll('main > section')].map(s => [s.id, s.offsetHeight > 0])"
            )
            text = page.evaluate("document.body.innerText")
            shot = page.screenshot(ARTIFACTS / f"report-{name}.png")
        return {"seen": seen, "sections": sections, "text": text, "screenshot": shot}

    return open_report
