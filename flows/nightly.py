"""Nightly refresh: ingest every source, then the later stages; each task is one package call."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from segmint import pipeline
from segmint.config import Settings, load_settings
from segmint.ingest import FileResult
from segmint.warehouse import writer_lock

# Loading is idempotent (each file once, by sha256), so retrying an I/O failure is safe.
io_task = task(retries=2, retry_delay_seconds=[10, 60], cache_policy=NO_CACHE)


@io_task
def ingest(settings: Settings, run_id: str) -> list[FileResult]:
    """Load every configured source."""
    return pipeline.ingest_sources(settings, run_id)


@task(cache_policy=NO_CACHE)
def totals(settings: Settings) -> pipeline.WarehouseTotals:
    """Headline counts for the summary."""
    return pipeline.warehouse_totals(settings)


@flow(name="nightly-refresh", timeout_seconds=4 * 3600, log_prints=True)
def nightly(config: str = "segmint.toml", as_of: str | None = None) -> pipeline.NightlyOutcome:
    """Refresh the warehouse for one night (default: today)."""
    settings = load_settings(Path(config))
    day = date.fromisoformat(as_of) if as_of else date.today()
    with writer_lock(settings.warehouse.path):
        run_id = pipeline.begin_run(settings, "nightly", day)
        outcome = pipeline.NightlyOutcome(run_id=run_id, as_of=day)
        try:
            outcome.files = ingest(settings, run_id)
            outcome.messages += [f.message for f in outcome.files if f.status == "rejected"]
            outcome.totals = totals(settings)
            outcome.status = "completed"
        except BaseException as exc:
            pipeline.end_run(settings, run_id, "failed", str(exc))
            raise
        pipeline.end_run(settings, run_id, outcome.status, "; ".join(outcome.messages))
    get_run_logger().info("nightly run %s for %s: %s", run_id, day, outcome.status)
    return outcome


if __name__ == "__main__":
    nightly()
