"""A small generated shop, ingested with the real ingest code, with features for two nights."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from segmint.config import load_settings
from segmint.features import build_features
from segmint.ingest import ingest
from segmint.synth.generate import generate
from segmint.warehouse import connect

NIGHT_1 = date(2026, 6, 29)
NIGHT_2 = date(2026, 6, 30)


def generated_shop(out: Path, customers: int, days: int) -> Path:
    """Generate a shop, ingest it, build features for NIGHT_1 and NIGHT_2; return the warehouse path."""
    generate(out, customers=customers, days=days, end=NIGHT_2, seed=3, fmt="parquet", split="none")
    settings = load_settings(out / "segmint.toml")
    path: Path = settings.warehouse.path
    with connect(path) as con:
        ingest(con, settings, "fixture")
        build_features(con, NIGHT_1)
        build_features(con, NIGHT_2)
    return path


@pytest.fixture(scope="session")
def small_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 customers over 180 days (built once per session; tests work on copies)."""
    return generated_shop(tmp_path_factory.mktemp("small_shop"), 1500, 180)


@pytest.fixture
def shop(small_shop: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private copy of the small shop's warehouse."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(small_shop, path)
    con = connect(path)
    yield con
    con.close()
