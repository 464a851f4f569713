"""CI runs `bash .ci/run`, which runs `make test`: lint (ruff, ruff format --check, mypy) comes before pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_make_test_lints_before_it_tests() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    # -n prints the commands without running them; -B so that the venv's stamp does not hide any.
    plan = subprocess.run(
        ["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    order = [
        next(i for i, line in enumerate(plan) if needle in line)
        for needle in ("ruff check .", "ruff format --check .", "/mypy", "-m pytest")
    ]
    assert order == sorted(order), plan
