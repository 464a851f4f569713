"""Weekly report: render the week that just ended and email it; each task is one package call."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from segmint import report as reporting
from segmint import run_artifacts
from segmint.config import Settings, load_settings
from segmint.errors import ConfigError
from segmint.prefect_env import log_package_at_info, run_name
from segmint.report import WeeklyOutcome


# Rendering writes its files atomically and records one row, so a retry after an I/O failure is safe.
@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, timeout_seconds=1800)
def render(settings: Settings, day: date | None) -> reporting.ReportResult:
    """Render the week; waits for a running nightly refresh to release the warehouse."""
    return reporting.render(settings, day, lock_wait_seconds=settings.schedule.report_lock_wait_seconds)


# Retries and backoff come from settings.alerts at run time (see weekly_report below).
@task(cache_policy=NO_CACHE, timeout_seconds=300)
def deliver(settings: Settings, result: reporting.ReportResult) -> list[str]:
    """Email the report over SMTP; returns refused addresses."""
    return reporting.send_report(settings, result)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30], timeout_seconds=600)
def mark_sent(settings: Settings, result: reporting.ReportResult, recipients: list[str]) -> None:
    """Record the delivery in the warehouse."""
    reporting.mark_sent(
        settings, result, recipients, lock_wait_seconds=settings.schedule.report_lock_wait_seconds
    )


def _last_day(config: Path) -> date:
    return reporting.last_complete_day(load_settings(config).schedule.timezone)


@flow(
    name="weekly-report",
    flow_run_name=run_name("weekly", _last_day),  # e.g. "weekly 2026-06-28"
    timeout_seconds=2 * 3600,
    log_prints=True,
)
def weekly_report(
    config: str = "segmint.toml", as_of: str | None = None, send: bool = False
) -> WeeklyOutcome:
    """Render the weekly report for the week ending `as_of` (default: the last published night) and email it
    if `send`."""
    log_package_at_info()
    settings = load_settings(Path(config))
    # Without a day: the last published night (render picks it under the lock), never a held one.
    requested = date.fromisoformat(as_of) if as_of else None
    if send and not settings.alerts.weekly_report_recipients:
        raise ConfigError(
            f"{settings.config_path}: no recipients for the weekly report; "
            "set alerts.report_recipients (or alerts.recipients), or run without --send."
        )
    result = render(settings, requested)
    day = result.as_of
    outcome = WeeklyOutcome(day, result.path, result.email_path, reporting.subject(result.data.period))
    # SMTP never set up: one sentence for the owner, no retries (nothing would change between them).
    outcome.not_sent = reporting.smtp_not_configured(settings.alerts, settings.config_path) if send else None
    if send and outcome.not_sent is None:
        alerts = settings.alerts
        refused = deliver.with_options(
            retries=alerts.retries,
            retry_delay_seconds=exponential_backoff(alerts.retry_backoff_seconds),
        )(settings, result)
        outcome.refused = refused
        outcome.sent_to = [r for r in result.recipients if r not in refused]
        mark_sent(settings, result, outcome.sent_to)
    logger = get_run_logger()
    logger.info("weekly report for %s: %s", day, result.path)
    if outcome.sent_to:
        logger.info("sent to %s", ", ".join(outcome.sent_to))
    if outcome.refused:
        logger.warning("the SMTP server refused %s", ", ".join(outcome.refused))
    # Not logged: the CLI prints the not-sent sentence once; the run's artifact records it.
    run_artifacts.publish_weekly(outcome)
    return outcome


if __name__ == "__main__":
    weekly_report()
