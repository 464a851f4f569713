"""Great Expectations as its users expect it: severity in GX's own field, validation through a Checkpoint
whose result's page is rendered at once, and Data Docs that work with the network blocked."""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pandas as pd
import pytest

from segmint.config import QualitySettings
from segmint.quality.docs import CDN_ASSETS, REMOTE_FETCH, offline_html
from segmint.quality.engine import Engine
from segmint.quality.frames import INDEX_COLUMNS, table_parameters
from segmint.quality.suites import load_suites

TESTS = Path(__file__).resolve().parent.parent


def test_severity_is_great_expectations_own_field(gx: Engine) -> None:
    """What GX stores and reports as each expectation's severity is the suite file's."""
    warnings = 0
    for suite in load_suites().values():
        for scope in ("batch", "table"):
            expects = suite.for_scope(scope)  # type: ignore[arg-type]
            if not expects:
                continue
            registered = gx.context.suites.get(suite.gx_name(scope))  # type: ignore[arg-type]
            by_key = {e.meta["key"]: e for e in registered.expectations}
            for expect in expects:
                assert by_key[expect.key].severity.value == expect.severity, (suite.name, expect.key)
                assert "severity" not in (by_key[expect.key].meta or {})
                warnings += expect.severity == "warning"
    assert warnings >= 3  # the suites do have warnings, which GX used to call critical


def customers_frame() -> pd.DataFrame:
    # Ten bad emails (a warning) and ten missing ids (critical), beyond the suites' tolerance.
    n = 40
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" if i % 4 else None for i in range(n)],
            "email": [f"c{i}@example.com" if i % 4 != 1 else "not an email" for i in range(n)],
            "country": ["DE"] * n,
            "first_seen_at": pd.to_datetime(["2024-01-01"] * n),
            "marketing_consent": [True] * n,
        }
    )


def validate_customers(gx: Engine, run_id: str) -> list[Any]:
    parameters = table_parameters(QualitySettings(), datetime(2024, 6, 1), None)
    return gx.validate(
        "customers",
        "table",
        customers_frame(),
        parameters,
        batch="warehouse",
        run_id=run_id,
        index_columns=INDEX_COLUMNS["customers"],
    )


def stored_results(gx: Engine, run_id: str) -> list[dict[str, Any]]:
    store: Any = gx.context.validation_results_store
    keys = [k for k in store.list_keys() if str(k.run_id.run_name).startswith(f"{run_id} ")]
    return [store.get(k).to_json_dict() for k in keys]


def test_a_failed_warning_is_a_warning_in_gx_and_in_segmint(gx: Engine) -> None:
    results = validate_customers(gx, "sev-1")
    failed = {r.key: r.severity for r in results if not r.success}
    assert "warning" in failed.values() and "critical" in failed.values(), failed
    (stored,) = stored_results(gx, "sev-1")
    in_gx = {
        r["expectation_config"]["meta"]["key"]: r["expectation_config"]["severity"]
        for r in stored["results"]
        if not r["success"]
    }
    assert in_gx == failed


def test_validation_runs_through_a_checkpoint_that_renders_its_page(gx: Engine) -> None:
    names = {c.name for c in gx.context.checkpoints.all()}
    assert {"customers.table", "orders.batch", "customer_features.table"} <= names
    before = time.time()
    validate_customers(gx, "page-1")
    # The page exists as soon as the validation returns, and the index lists it.
    (page,) = (gx.docs_dir / "validations" / "customers" / "table" / "page-1 warehouse").rglob("*.html")
    assert page.stat().st_mtime >= before - 1
    assert "not an email" in page.read_text(encoding="utf-8")
    assert "page-1 warehouse" in (gx.docs_dir / "index.html").read_text(encoding="utf-8")


def test_a_night_of_batches_renders_the_index_once(gx: Engine) -> None:
    parameters = table_parameters(QualitySettings(), datetime(2024, 6, 1), None)
    for n in (1, 2):
        gx.validate(
            "customers",
            "table",
            customers_frame(),
            parameters,
            batch=f"file{n}.csv",
            run_id="night-1",
            index_columns=INDEX_COLUMNS["customers"],
            index=False,
        )
    # Each batch's page at once; the index, which lists every result kept, only when asked.
    pages = list((gx.docs_dir / "validations" / "customers" / "table").glob("night-1 file*.csv"))
    assert len(pages) == 2
    index = gx.docs_dir / "index.html"
    assert not index.exists() or "night-1 file2.csv" not in index.read_text(encoding="utf-8")
    gx.build_index()
    listed = index.read_text(encoding="utf-8")
    assert "night-1 file1.csv" in listed and "night-1 file2.csv" in listed


def test_old_results_leave_the_docs_and_the_index(gx: Engine) -> None:
    validate_customers(gx, "old-1")
    assert "old-1 warehouse" in (gx.build_docs("old-1", keep_days=30)).read_text(encoding="utf-8")
    gx.build_docs("old-1", keep_days=-1)  # everything is older than "tomorrow"
    assert "old-1 warehouse" not in (gx.docs_dir / "index.html").read_text(encoding="utf-8")
    assert stored_results(gx, "old-1") == []


def test_pages_point_at_bundled_assets_only(gx: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        validate_customers(gx, "assets-1")
        gx.build_docs("assets-1")
    # Rendering went through without GX's "unexpected Exception during data docs rendering" tracebacks.
    assert [r.getMessage()[:200] for r in caplog.records if r.levelno >= logging.WARNING] == []
    pages = list(gx.docs_dir.rglob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert REMOTE_FETCH.findall(text) == [], page
        assert "great-expectations-web-assets" not in text and "integrity=" not in text, page
    for asset in set(CDN_ASSETS.values()):
        assert (gx.docs_dir / "static" / "vendor" / asset).is_file(), asset


def test_a_compressed_asset_is_installed_as_the_upstream_file(tmp_path: Path) -> None:
    import hashlib

    from segmint.quality.docs import install_assets

    install_assets(tmp_path)
    installed = tmp_path / "static" / "vendor" / "js" / "vega-embed.min.js"
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == (
        "12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da"  # vega-embed 6.29.0's build
    )
    assert not (tmp_path / "static" / "vendor" / "js" / "vega-embed.min.js.gz").exists()
    installed.write_bytes(b"truncated")  # a damaged copy is replaced on the next install
    install_assets(tmp_path)
    assert installed.stat().st_size == 60630


def test_every_cdn_address_of_gx_templates_is_bundled() -> None:
    """A GX upgrade that adds or moves an asset fails here, before a page goes blank offline."""
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view"
    for template in [*templates.rglob("*.j2"), *templates.rglob("*.css")]:
        text = offline_html(template.read_text(encoding="utf-8"), Path("/docs/x/page.html"), Path("/docs"))
        assert REMOTE_FETCH.findall(text) == [], template


# --- a real browser with the network blocked ---------------------------------------------------------


@functools.cache
def _browser_module() -> ModuleType:
    """tests/report/browser.py, the DevTools driver the report tests use (tests are not a package)."""
    spec = importlib.util.spec_from_file_location("quality_browser", TESTS / "report" / "browser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


class _Quiet(SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        _Quiet.requests.append(f"{args[0] if args else ''} {args[1] if len(args) > 1 else ''}")


@pytest.fixture
def docs_server(gx: Engine) -> Iterator[str]:
    """The docs folder over HTTP on 127.0.0.1 (logging each request)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(gx.docs_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(_browser_module().chromium_path() is None, reason="Debian's chromium is not installed")
def test_docs_are_styled_with_the_network_blocked(gx: Engine, docs_server: str, tmp_path: Path) -> None:
    browser = _browser_module()
    validate_customers(gx, "browser-1")
    gx.build_docs("browser-1")
    (page,) = (gx.docs_dir / "validations" / "customers" / "table" / "browser-1 warehouse").rglob("*.html")
    urls = [
        f"{docs_server}/index.html",
        f"{docs_server}/{urllib.parse.quote(page.relative_to(gx.docs_dir).as_posix())}",
    ]
    # Every host name but 127.0.0.1 resolves to nothing: a request that tried to leave would fail.
    blocked = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
    with browser.browser(browser.chromium_path(), tmp_path / "profile", blocked) as first:
        for n, url in enumerate(urls):
            tab = browser.Page(first.ws)  # a fresh record of events for each page
            seen = tab.load(url)
            tab.evaluate("document.fonts.ready.then(() => true)")
            styled = tab.evaluate(
                """({
                    jquery: typeof window.jQuery === 'function',
                    table: !!(window.jQuery && jQuery.fn.bootstrapTable),
                    vega: typeof window.vegaEmbed === 'function',
                    navbar: getComputedStyle(document.querySelector('.navbar')).display,
                    icons: document.fonts.check('900 16px "Font Awesome 6 Free"'),
                    sheets: Array.from(document.styleSheets).filter(s => s.href).length,
                })"""
            )
            tab.screenshot(tmp_path / f"docs-{n}.png")
            leaving = [r for r in seen.requests if not r.startswith((docs_server, "data:"))]
            assert leaving == [], leaving
            assert seen.failed_requests == [], seen.failed_requests
            assert seen.exceptions == [], seen.exceptions
            assert styled == {
                "jquery": True,
                "table": True,
                "vega": True,
                "navbar": "flex",  # bootstrap's navbar; unstyled it is a block
                "icons": True,
                "sheets": 6,
            }, (url, styled)
    served = " ".join(_Quiet.requests)
    assert "/static/vendor/js/jquery.min.js" in served and "/static/vendor/css/bootstrap.min.css" in served
