"""Quality fixtures: one Great Expectations engine per test process, settings for a warehouse file,
a real SMTP server and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from segmint.config import Settings, SourceSettings, WarehouseSettings
from segmint.ingest import FileResult
from segmint.ingest.load import ingest_files
from segmint.quality.engine import Engine, engine
from segmint.warehouse import connect

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def gx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder whose Great Expectations context the process shares (GX is slow to start)."""
    return tmp_path_factory.mktemp("quality-output")


@pytest.fixture(scope="session")
def gx(gx_dir: Path) -> Engine:
    """The process's Great Expectations engine."""
    return engine(gx_dir)


def make_settings(folder: Path, output: Path, **sections: Any) -> Settings:
    """Settings for a warehouse file in `folder`: canonical orders, events and customers sources."""
    sources = [
        SourceSettings(name="customers", kind="customers", path="customers/*.csv"),
        SourceSettings(name="orders", kind="orders", path="orders/*.csv"),
        SourceSettings(name="events", kind="events", path="events/*.csv"),
    ]
    return Settings(
        config_path=folder / "segmint.toml",
        warehouse=WarehouseSettings(path=folder / "warehouse.duckdb"),
        data_dir=output,
        sources=sources,
        **sections,
    )


@pytest.fixture
def settings(tmp_path: Path, gx_dir: Path) -> Settings:
    """Settings for a fresh warehouse file, sharing the process's GX output folder."""
    for kind in ("customers", "orders", "events"):
        (tmp_path / kind).mkdir()
    return make_settings(tmp_path, gx_dir)


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the settings' warehouse file."""
    with connect(settings.warehouse.path) as c:
        yield c


def ingest_orders(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> list[FileResult]:
    """Load the settings' orders source's files (no audit)."""
    source = next(s for s in settings.sources if s.kind == "orders")
    return ingest_files(con, [(source, settings.source_files(source))], run_id)


def check_accounting(con: duckdb.DuckDBPyConnection) -> None:
    """Every file: read = loaded + quarantined + duplicate + held; quarantine and held_rows agree row for row."""
    rows = con.execute(
        "select path, sha256, run_id, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_held "
        "from file_accounting"
    ).fetchall()
    assert rows, "no file was read"
    for path, sha, run_id, status, read, loaded, quarantined, duplicate, held in rows:
        assert read == loaded + quarantined + duplicate + held, path
        if status == "loaded":
            found = con.execute(
                "select count(*) from quarantine where source_file = ? and run_id = ?", [path, run_id]
            )
            assert found.fetchone() == (quarantined,), path
        else:
            assert con.execute("select count(*) from held_rows where sha256 = ?", [sha]).fetchone() == (
                held,
            ), path


@pytest.fixture
def accounting() -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Asserts row accounting over every file in a warehouse."""
    return check_accounting


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1 (tests/report/smtp.py) keeping what it receives."""
    with _load(TESTS / "report" / "smtp.py", "quality_smtp").smtp_sink() as sink:
        yield sink


@dataclass
class Webhook:
    """A local HTTP server that records JSON POSTs; the first `fail_first` answer 500."""

    fail_first: int = 0
    bodies: list[Any] = field(default_factory=list)
    attempts: int = 0
    url: str = ""


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A webhook receiver on 127.0.0.1 in a thread."""
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook.attempts += 1
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if hook.attempts <= hook.fail_first:
                self.send_response(500)
                self.end_headers()
                return
            hook.bodies.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secret-token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
