"""Nightly refresh: ingest every source, then the later stages; each task is one package call."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from segmint import pipeline, run_artifacts
from segmint.config import Settings, load_settings
from segmint.errors import WarehouseBusyError
from segmint.features import FeatureBuild
from segmint.ingest import FileResult
from segmint.predict.runner import PredictionOutcome
from segmint.prefect_env import log_package_at_info, retry_unless_user_error, run_name
from segmint.quality.conclude import QualityOutcome
from segmint.quality.gate import GateDecision
from segmint.quality.results import CheckResult
from segmint.segment import SegmentationResult

# Loading is idempotent (each file once, by sha256), so retrying an I/O failure is safe; an error the
# owner must fix (configuration, a missing file, a full disk, a damaged warehouse) fails at once.
io_task = task(
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_unless_user_error,
    cache_policy=NO_CACHE,
)


@io_task
def ingest(settings: Settings, run_id: str) -> list[FileResult]:
    """Load every configured source."""
    return pipeline.ingest_sources(settings, run_id)


@task(cache_policy=NO_CACHE)
def check_night(
    settings: Settings, run_id: str, files: list[FileResult], accept: list[str]
) -> list[CheckResult]:
    """Volume per source, rejected files, batches waiting for replay (accepted checks only warn)."""
    return pipeline.check_night(settings, run_id, files, accept)


@task(cache_policy=NO_CACHE, timeout_seconds=3600)
def features(settings: Settings, day: date) -> FeatureBuild:
    """Customer features for tonight, from data up to the end of the day."""
    return pipeline.build_features(settings, day)


@task(cache_policy=NO_CACHE)
def check_features(settings: Settings, run_id: str, day: date) -> list[CheckResult]:
    """Validate tonight's customer features."""
    return pipeline.check_features(settings, run_id, day)


@task(cache_policy=NO_CACHE, timeout_seconds=3600)
def segment(settings: Settings, run_id: str, day: date) -> SegmentationResult | str:
    """Cluster customers into stable, named segments (stored, pending the gate), or why not in one sentence."""
    return pipeline.segment_or_reason(settings, run_id, day)


@task(cache_policy=NO_CACHE)
def publication_gate(settings: Settings, run_id: str, day: date, segment_run_id: str) -> GateDecision:
    """Decide whether tonight's segments are published."""
    return pipeline.publication_gate(settings, run_id, day, segment_run_id)


@task(cache_policy=NO_CACHE)
def publish_segments(settings: Settings, segment_run_id: str, decision: GateDecision) -> None:
    """Publish tonight's segments or hold them (the last published run stays current)."""
    pipeline.publish_segments(settings, segment_run_id, decision)


@task(cache_policy=NO_CACHE)
def conclude_quality(
    settings: Settings, run_id: str, day: date, segments: GateDecision | None
) -> QualityOutcome:
    """Data docs, then an alert on a failed critical check, or one OK line."""
    return pipeline.conclude_quality(settings, run_id, day, segments)


@task(cache_policy=NO_CACHE)
def totals(settings: Settings) -> pipeline.WarehouseTotals:
    """Headline counts for the summary."""
    return pipeline.warehouse_totals(settings)


@task(
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=10,
    timeout_seconds=1800,
    retry_condition_fn=retry_unless_user_error,
)
def report(settings: Settings, day: date, run_id: str, status: str, message: str) -> Path:
    """Render the week's report with tonight's segments, closing the run in the same transaction."""
    return pipeline.render_report(settings, day, run_id=run_id, status=status, message=message)


@task(cache_policy=NO_CACHE, timeout_seconds=3600)
def predict(settings: Settings, run_id: str, day: date) -> PredictionOutcome | None:
    """Lifetime value, churn, anomalies and basket rules for tonight."""
    return pipeline.predict(settings, run_id, day)


def _default_night(config: Path) -> date:
    return pipeline.default_night(load_settings(config))


@flow(
    name="nightly-refresh",
    flow_run_name=run_name("nightly", _default_night),  # e.g. "nightly 2026-06-30"
    timeout_seconds=4 * 3600,
    log_prints=True,
)
def nightly(
    config: str = "segmint.toml", as_of: str | None = None, accept: list[str] | None = None
) -> pipeline.NightlyOutcome:
    """Refresh the warehouse for one night (default: yesterday, in the schedule's timezone); the night
    checks named in `accept` (`suite.key`, e.g. orders.volume_not_low) only warn tonight."""
    log_package_at_info()
    settings = load_settings(Path(config))
    day = date.fromisoformat(as_of) if as_of else pipeline.default_night(settings)
    logger = get_run_logger()
    try:
        # One writer connection for every stage: an outside reader cannot abort the run halfway.
        with pipeline.locked_writer(settings) as opened:
            if opened.lost_log:
                logger.warning(opened.lost_log)
            return _refresh(settings, day, opened.lost_log, accept or [])
    except WarehouseBusyError as exc:
        # Another run holds the warehouse: this one changes nothing and says so in one line.
        logger.warning(str(exc))
        return pipeline.NightlyOutcome(run_id="", as_of=day, status="busy", messages=[str(exc)])


def _refresh(
    settings: Settings, day: date, lost_log: str | None = None, accept: list[str] | None = None
) -> pipeline.NightlyOutcome:
    logger = get_run_logger()
    run_id = pipeline.begin_run(settings, "nightly", day)
    outcome = pipeline.NightlyOutcome(run_id=run_id, as_of=day, messages=[lost_log] if lost_log else [])

    def stage(name: str) -> None:
        pipeline.enter(settings, run_id, name)

    try:
        stage("ingest")
        outcome.files = ingest(settings, run_id)
        outcome.messages += [f.message for f in outcome.files if f.status in ("rejected", "held")]
        outcome.messages += [warning for f in outcome.files for warning in f.warnings]
        stage("check_night")
        outcome.checks = check_night(settings, run_id, outcome.files, accept or [])
        stage("features")
        outcome.features = features(settings, day)
        stage("check_features")
        outcome.checks += check_features(settings, run_id, day)
        stage("segment")
        segmented = segment(settings, run_id, day)
        if isinstance(segmented, str):
            outcome.messages.append(segmented)
        else:
            outcome.segmentation = segmented
            outcome.messages += segmented.messages
            stage("publication_gate")
            outcome.segments = publication_gate(settings, run_id, day, segmented.run_id)
            stage("publish_segments")
            publish_segments(settings, segmented.run_id, outcome.segments)
        # The alert goes out as soon as the data's fate is known; sending never fails the run.
        stage("conclude_quality")
        outcome.quality = conclude_quality(settings, run_id, day, outcome.segments)
        log_quality = logger.info if outcome.quality.ok else logger.warning
        log_quality(outcome.quality.line)
        outcome.messages.append(outcome.quality.line)
        outcome.totals = totals(settings)
        # Predictions read tonight's features and published segments: keep this after segmentation.
        # Campaigns target the latest prediction run, so a night whose data failed keeps the last good one.
        if not outcome.quality.data_failed:
            stage("predict")
            outcome.predictions = predict(settings, run_id, day)
            if outcome.predictions is not None:
                outcome.messages += outcome.predictions.messages
        elif settings.predict.enabled:
            outcome.messages.append(
                "predictions not refreshed: tonight's data failed a critical check; the last good run stays in force"
            )
        outcome.status = "completed" if outcome.quality.ok else "held"
        stage("report")
        # The run is closed in the transaction that records its report: a kill while rendering leaves
        # it running (marked killed at the next start), never completed without its report.
        outcome.report_path = report(settings, day, run_id, outcome.status, "; ".join(outcome.messages))
    except BaseException as exc:
        failed = f"report not rendered: {exc}" if outcome.status != "running" else str(exc)
        outcome.status = "failed"
        try:
            pipeline.end_run(settings, run_id, "failed", failed)
        except Exception as again:  # e.g. the disk is still full: the next start marks the run killed
            logger.warning("run %s could not be closed: %s", run_id, again)
        raise
    logger.info("nightly run %s for %s: %s", run_id, day, outcome.status)
    run_artifacts.publish_nightly(outcome)
    return outcome


if __name__ == "__main__":
    nightly()
