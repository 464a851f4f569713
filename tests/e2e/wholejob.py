"""The whole nightly job as a shop owner runs it: a shop's folder and config, what each command printed,
and read-only access to the warehouse they wrote."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
REAL = TESTS / "data" / "real"
PLAYBOOK = ROOT / "campaigns.example.toml"
# Screenshots are kept here for a person to look at after the run (CI can upload the folder).
ARTIFACTS = Path(os.environ.get("SEGMINT_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def browser_module() -> ModuleType:
    """tests/report/browser.py: headless chromium over the DevTools protocol."""
    spec = importlib.util.spec_from_file_location("e2e_browser", TESTS / "report" / "browser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def write_config(folder: Path, sources: str, extra: str = "") -> Path:
    """segmint.toml in `folder`: a warehouse file there, the example playbook, the given [[sources]]."""
    config = folder / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'data/warehouse.duckdb'\n"
        f"[campaigns]\nplaybook = '{PLAYBOOK}'\n"
        "[alerts]\nsmtp_port = 1\nretries = 0\nsender = 'shop@example.com'\nrecipients = ['owner@example.com']\n"
        f"{extra}\n{sources}",
        encoding="utf-8",
    )
    return config


def source(name: str, kind: str, path: Path | str, preset: str = "canonical", extra: str = "") -> str:
    """One [[sources]] block."""
    return f"[[sources]]\nname = '{name}'\nkind = '{kind}'\npath = '{path}'\npreset = '{preset}'\n{extra}\n"


@dataclass
class Job:
    """What the commands of one shop printed and returned, and where its warehouse is."""

    config: Path
    as_of: date
    steps: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        """The warehouse file the config points at."""
        from segmint.config import load_settings

        return load_settings(self.config).warehouse.path

    def output(self, step: str) -> str:
        """Everything a step printed."""
        done = self.steps[step]
        return done.stdout + done.stderr

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the shop's warehouse, as a BI tool would open it."""
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            yield con
        finally:
            con.close()

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        """The first row of a query on the warehouse."""
        with self.read() as con:
            return con.execute(sql, params or []).fetchone()


def assert_no_traceback(job: Job) -> None:
    """No step printed a Python traceback."""
    for step in job.steps:
        assert "Traceback (most recent call last)" not in job.output(step), (
            f"{step}:\n{job.output(step)[-4000:]}"
        )


# How a run says a model could not run, in words (prediction_runs.message): what the tests accept instead.
CHURN_SKIPPED = ("churn skipped: ", "churn needs ")
CLV_SKIPPED = ("lifetime value skipped: ", "Lifetime values are not reliable for this shop: ")


def says_why(message: str, reasons: tuple[str, ...]) -> bool:
    """Whether the message gives one of the plain-language reasons."""
    return any(reason in message for reason in reasons)
