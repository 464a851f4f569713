"""Data Docs that work offline: every page GX writes points at CSS, JS and fonts bundled with segmint.

GX's page templates load bootstrap, jquery, bootstrap-table, font-awesome and vega from CDNs and the logo
from GX's servers (with this context's id appended): offline the pages are blank, and online each view
reports its use. GX writes every page through its site's store backend, so the site is configured with
`OfflineFilesystemStoreBackend`, which rewrites those addresses to relative paths into
`static/vendor/` (copied from docs_assets/ next to this module) before a page reaches the disk, whichever
GX code path renders it (a result's page after its validation, the index, or a full docs build).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, ClassVar

from great_expectations.data_context.store.tuple_store_backend import TupleFilesystemStoreBackend
from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "docs_assets"
VENDOR = ("static", "vendor")  # inside the docs folder
_GX_IMAGES = ("static", "images")  # GX copies its own images here on every build

# The addresses in GX's templates (great_expectations/render/view/templates) and the bundled file for each.
CDN_ASSETS: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/vega@5": "js/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "js/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "js/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/fontawesome-all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "js/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "js/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "js/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "css/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "js/bootstrap-table-filter-control.min.js"
    ),
    # The templates ask for 1.19.0's stylesheet beside 1.19.1's script; 1.19.1's serves both.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "css/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "css/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "js/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "css/bootstrap-datepicker.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "css/bootstrap-prefers-dark.min.css"
    ),
}
_CDN = re.compile("|".join(re.escape(url) for url in sorted(CDN_ASSETS, key=len, reverse=True)))
# GX's logo (light, and the dark-mode one in its inline styles), with the context's id appended.
_LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[a-z_-]*logo[a-z_-]*\.png[^\"')]*"
)
# Subresource integrity pins the CDN's bytes; a local copy is loaded from the same folder instead.
_SRI = re.compile(r'\s+(?:integrity="sha[0-9]+-[^"]*"|crossorigin="anonymous")')
# Anything a page would still fetch from the network (links a reader clicks are not fetched).
REMOTE_FETCH = re.compile(
    r"<(?:script|link|img|iframe|source)\b[^>]*?\s(?:src|href)=[\"'](https?:)?//[^\"']+|url\([\"']?(?:https?:)?//[^)]+\)"
)
_warned: set[str] = set()


def offline_html(html: str, page: Path, docs_dir: Path) -> str:
    """The page with CDN assets and GX's logo pointing at the local copies under `docs_dir`."""
    vendor = Path(os.path.relpath(docs_dir.joinpath(*VENDOR), page.parent)).as_posix()
    images = Path(os.path.relpath(docs_dir.joinpath(*_GX_IMAGES), page.parent)).as_posix()
    html = _CDN.sub(lambda m: f"{vendor}/{CDN_ASSETS[m.group(0)]}", html)
    html = _LOGO.sub(f"{images}/logo-long.png", html)
    html = _SRI.sub("", html)
    for found in REMOTE_FETCH.finditer(html):
        # A GX upgrade can add an asset segmint does not bundle yet: say so once, the page still renders.
        if found.group(0) not in _warned:
            _warned.add(found.group(0))
            log.warning("data docs page %s still loads %s from the network", page.name, found.group(0))
    return html


def install_assets(docs_dir: Path) -> None:
    """Copy the bundled CSS, JS and fonts into the docs folder (once; again when segmint's copy changed).

    A bundled file ending in .gz is written decompressed, under its name without .gz (see docs_assets/README.md).
    """
    target = docs_dir.joinpath(*VENDOR)
    for source in ASSETS.rglob("*"):
        if not source.is_file():
            continue
        relative = source.relative_to(ASSETS)
        if source.suffix == ".gz":
            copy = target / relative.with_suffix("")
            content = gzip.decompress(source.read_bytes())
            if not (copy.is_file() and copy.stat().st_size == len(content)):
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(content)
            continue
        copy = target / relative
        if copy.is_file() and copy.stat().st_size == source.stat().st_size:
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)


class OfflineFilesystemStoreBackend(TupleFilesystemStoreBackend):
    """GX's filesystem store for a docs site, writing each HTML page with local asset paths."""

    def _set(self, key: Any, value: Any, **kwargs: Any) -> Any:
        if not isinstance(key, tuple):
            key = key.to_tuple()
        page = Path(self.full_base_directory) / self._convert_key_to_filepath(key)  # type: ignore[no-untyped-call]
        if page.suffix == ".html" and isinstance(value, str | bytes):
            text = value.decode("utf-8") if isinstance(value, bytes) else value
            value = offline_html(text, page, Path(self.full_base_directory))
        return super()._set(key, value, **kwargs)  # type: ignore[no-untyped-call]


class _SharedEnvironment:
    """A GX Jinja view that compiles GX's templates once per process, not once per docs build.

    GX makes a new view, and so a new Jinja environment that compiles every template again (about a
    second), for each docs build; a result's page is built once per validation.
    """

    _environments: ClassVar[dict[tuple[Any, ...], Any]] = {}
    env: Any
    custom_styles_directory: Any
    custom_views_directory: Any

    def __init__(self, custom_styles_directory: Any = None, custom_views_directory: Any = None) -> None:
        key = (type(self), custom_styles_directory, custom_views_directory)
        shared = _SharedEnvironment._environments.get(key)
        if shared is None:
            super().__init__(custom_styles_directory, custom_views_directory)  # type: ignore[call-arg]
            _SharedEnvironment._environments[key] = self.env
        else:
            self.custom_styles_directory = custom_styles_directory
            self.custom_views_directory = custom_views_directory
            self.env = shared


class SharedJinjaPageView(_SharedEnvironment, DefaultJinjaPageView):
    """GX's page view (validation results), its templates compiled once per process."""


class SharedJinjaIndexPageView(_SharedEnvironment, DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once per process."""
