"""Ingest: read shop exports with a preset or column mapping, quarantine bad rows, load each file once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from segmint.config import Settings, SourceSettings
from segmint.currency import sync_shop
from segmint.errors import ConfigError
from segmint.ingest.load import Audit, Batch, FileResult, ingest_files, load_file
from segmint.ingest.presets import check_source

__all__ = ["Audit", "Batch", "FileResult", "ingest", "load_file", "resolve_sources"]


def resolve_sources(settings: Settings) -> list[tuple[SourceSettings, list[Path]]]:
    """Each configured source with the files its glob matches; one sentence if a source matches none."""
    if not settings.sources:
        raise ConfigError(
            f"{settings.config_path}: no [[sources]] are configured; add one (see segmint.example.toml)."
        )
    resolved = []
    for source in settings.sources:
        check_source(source)
        files = settings.source_files(source)
        if not files:
            raise ConfigError(
                f"Source '{source.name}': no file matches {source.path!r} (relative to {settings.base_dir}); "
                "fix its path or add the export there."
            )
        resolved.append((source, files))
    return resolved


def ingest(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, *, audit: Audit | None = None
) -> list[FileResult]:
    """Load every configured source into the warehouse."""
    tolerance = timedelta(hours=settings.quality.future_tolerance_hours)
    sync_shop(con, settings.shop)
    return ingest_files(
        con,
        resolve_sources(settings),
        run_id,
        future_tolerance=tolerance,
        audit=audit,
        settle_seconds=settings.ingest.settle_seconds,
        max_line_bytes=settings.ingest.max_line_bytes,
    )
