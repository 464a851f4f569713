"""Shared fixtures: a migrated in-memory warehouse, a warehouse file, a Prefect test server, real data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from segmint.warehouse import connect

TESTS = Path(__file__).resolve().parent
# Tests write their exports a moment before they ingest them: a file loads at once instead of after the
# 30 s settle wait meant for exports still being written. Tests of settling set their own value.
os.environ.setdefault("SEGMINT_INGEST__SETTLE_SECONDS", "0")
DATA = TESTS / "data"
REAL = DATA / "real"


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse with every migration applied."""
    con = connect(":memory:")
    yield con
    con.close()


@pytest.fixture
def tmp_warehouse(tmp_path: Path) -> Path:
    """The path of a fresh warehouse file (created on first connect)."""
    return tmp_path / "warehouse.duckdb"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One real temporary Prefect server per test session (about 20 s to start)."""
    home = tmp_path_factory.mktemp("prefect")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def prefect_api_url(prefect_server: None) -> str:
    """The test server's API URL, for subprocesses (they do not share this process's settings)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness sets an API URL"
    return str(url)
