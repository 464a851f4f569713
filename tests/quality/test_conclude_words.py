"""The OK line counts its warnings in plain words and says where the data docs are."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from segmint.config import Settings
from segmint.quality import conclude as module
from segmint.quality.results import CheckResult


def _result(success: bool) -> CheckResult:
    return CheckResult("orders", "orders/o.csv", "k", "A check", "warning", success)  # type: ignore[arg-type]


@pytest.mark.parametrize(("failed", "words"), [(1, "1 warning,"), (2, "2 warnings,")])
def test_the_ok_line_pluralises_warnings_and_names_the_docs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failed: int, words: str
) -> None:
    docs = tmp_path / "data_docs" / "index.html"
    results = [_result(True)] * 3 + [_result(False)] * failed
    monkeypatch.setattr(module, "build_docs", lambda settings, run_id: docs)
    monkeypatch.setattr(module, "stored", lambda con, run_id: results)
    monkeypatch.setattr(module, "build_alert", lambda *a, **k: None)
    con: Any = None
    outcome = module.conclude(con, Settings(), "run-1", date(2026, 11, 20))
    assert outcome.ok
    assert f"({words} data docs: {docs})" in outcome.line
    assert "1 warnings" not in outcome.line


def test_the_ok_line_without_docs_still_points_to_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "build_docs", lambda settings, run_id: None)
    monkeypatch.setattr(module, "stored", lambda con, run_id: [_result(False)])
    monkeypatch.setattr(module, "build_alert", lambda *a, **k: None)
    con: Any = None
    outcome = module.conclude(con, Settings(), "run-1", None)
    assert "(1 warning, see the data docs)" in outcome.line
