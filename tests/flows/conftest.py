"""Flow fixtures: the hand-written shop in a warehouse file with its segmint.toml, a real SMTP server,
and the URL of the session's Prefect test server for subprocesses."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from segmint.warehouse import connect

REPORT_TESTS = Path(__file__).resolve().parent.parent / "report"


def _report_conftest() -> ModuleType:
    # tests/report/conftest.py owns the helper loader; tests are not a package, so load it by path.
    spec = importlib.util.spec_from_file_location("flows_report_conftest", REPORT_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_report = _report_conftest()
# The same fixtures as the report tests: the hand-written shop and a real SMTP server on 127.0.0.1.
shop = _report.shop
smtp = _report.smtp


def write_config(folder: Path, extra: str = "") -> Path:
    """segmint.toml for a warehouse file in `folder`."""
    config = folder / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n[alerts]\nsender = 'shop@example.com'\n"
        "recipients = ['owner@example.com']\n" + extra,
        encoding="utf-8",
    )
    return config


@pytest.fixture
def shop_config(tmp_path: Path, shop: ModuleType) -> Path:
    """A warehouse file holding the hand-written shop, and its segmint.toml."""
    with connect(tmp_path / "warehouse.duckdb") as con:
        shop.seed(con)
    return write_config(tmp_path)
