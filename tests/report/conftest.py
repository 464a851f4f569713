"""Report fixtures: the hand-written shop in an in-memory warehouse, and settings writing into tmp_path."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from segmint.config import Settings
from segmint.warehouse import connect


def load_helper(name: str) -> ModuleType:
    """tests/report/<name>.py, importable from any test folder (tests are not a package)."""
    spec = importlib.util.spec_from_file_location(f"report_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def shop() -> ModuleType:
    """The shop module: rows, constants and `seed(con)`."""
    return load_helper("shop")


@pytest.fixture(scope="session")
def cdp() -> ModuleType:
    """Headless chromium over the DevTools protocol (tests/report/browser.py)."""
    return load_helper("browser")


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1; `.received` holds what it got, `.port` where it listens."""
    with load_helper("smtp").smtp_sink() as sink:
        yield sink


@pytest.fixture
def shop_con(shop: ModuleType) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse holding the hand-written shop."""
    con = connect(":memory:")
    shop.seed(con)
    yield con
    con.close()


@pytest.fixture
def report_settings(tmp_path: Path) -> Settings:
    """Settings whose outputs (reports) go to tmp_path."""
    return Settings(
        config_path=tmp_path / "segmint.toml",
        warehouse={"path": tmp_path / "warehouse.duckdb"},
        alerts={"sender": "shop@example.com", "recipients": ["owner@example.com"]},
    )
