"""`segmint report` as a user runs it: a real subprocess on a warehouse file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from segmint.warehouse import connect, writer_lock


def segmint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def shop_config(tmp_path: Path, shop: ModuleType) -> Path:
    """A segmint.toml next to a warehouse file holding the hand-written shop."""
    with connect(tmp_path / "warehouse.duckdb") as con:
        shop.seed(con)
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n[alerts]\nrecipients = ['owner@example.com']\n",
        encoding="utf-8",
    )
    return config


def test_report_prints_its_path_on_the_last_line(shop_config: Path) -> None:
    done = segmint("report", "--config", str(shop_config))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    path = Path(lines[-1])
    # Default week: the last published night (r_sat, 2026-11-07; r_sun was held), under the warehouse's folder.
    assert path == shop_config.parent / "reports" / "2026-11-07" / "report.html"
    assert path.is_file() and "Your customers this week" in path.read_text(encoding="utf-8")
    assert f"email: {path.with_name('email.eml')}" in lines
    assert lines[0].startswith("week 2026-W45 (1 Nov – 7 Nov 2026), rendered in ")


def test_report_for_a_given_week_and_open(shop_config: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    fake_browser = tmp_path / "fake-browser"
    fake_browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n', encoding="utf-8")
    fake_browser.chmod(0o755)
    done = segmint("report", "--config", str(shop_config), "--as-of", "2026-11-01", "--open",
                   env={"BROWSER": str(fake_browser)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.parent.name == "2026-11-01"
    assert opened.read_text(encoding="utf-8").strip() == path.as_uri()


def test_report_waits_for_no_one_while_a_run_writes(shop_config: Path) -> None:
    with writer_lock(shop_config.parent / "warehouse.duckdb"):
        done = segmint("report", "--config", str(shop_config))
    assert done.returncode == 3
    assert done.stderr.strip() == (
        f"error: Another segmint run is writing {shop_config.parent / 'warehouse.duckdb'}; "
        "this run exits without changes, try again when it has finished."
    )


def test_a_bad_day_is_one_sentence(shop_config: Path) -> None:
    done = segmint("report", "--config", str(shop_config), "--as-of", "2026-11-31")
    assert done.returncode == 2  # a usage error, like an unknown option
    assert done.stderr.strip() == "error: --as-of '2026-11-31' is not a date; write it as YYYY-MM-DD."


def test_report_without_a_warehouse_says_what_to_do(tmp_path: Path) -> None:
    config = tmp_path / "segmint.toml"
    config.write_text("[warehouse]\npath = 'nowhere/warehouse.duckdb'\n", encoding="utf-8")
    done = segmint("report", "--config", str(config))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: No warehouse at {tmp_path / 'nowhere' / 'warehouse.duckdb'}; load data first with "
        "`segmint run nightly` (or `segmint ingest`), or point --config at the right segmint.toml."
    )
    assert not (tmp_path / "nowhere").exists()
