"""Schedules: the nightly refresh and the weekly report as Prefect deployments, served or registered.

`segmint serve` runs both on their cron schedules (timezone from settings.schedule) in one long-running
process against a Prefect server; `segmint serve --register-only` creates or updates the deployments and
returns. prefect.yaml declares the same two deployments for `prefect deploy` with a work pool; its build
steps ask this module for the values that come from settings (`python -m segmint.serve timezone`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from segmint.config import Settings, load_settings

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


@dataclass(frozen=True)
class Schedule:
    """One scheduled flow: which flow file and function, under which deployment name, when."""

    flow_file: str  # in flows/
    function: str
    flow_name: str
    deployment: str
    cron: str
    timezone: str
    parameters: dict[str, Any]
    description: str

    @property
    def full_name(self) -> str:
        """How Prefect names the deployment: <flow name>/<deployment name>."""
        return f"{self.flow_name}/{self.deployment}"

    def next_runs(self, count: int = 3, after: datetime | None = None) -> list[datetime]:
        """The next `count` start times, in the schedule's timezone."""
        import importlib

        # Prefect's own cron parser, so the preview agrees with the schedule it registers.
        croniter: Any = importlib.import_module("prefect._vendor.croniter").croniter
        start = after or datetime.now(ZoneInfo(self.timezone))
        it = croniter(self.cron, start)
        return [it.get_next(datetime) for _ in range(count)]


def schedules(settings: Settings) -> list[Schedule]:
    """The nightly refresh (default 02:00) and the weekly report (default Mondays 07:00)."""
    tz = settings.schedule.timezone
    config = str(settings.config_path)
    return [
        Schedule(
            "nightly",
            "nightly",
            "nightly-refresh",
            "nightly",
            settings.schedule.nightly_cron,
            tz,
            {"config": config},
            "Ingest, validate, build features, segment and render the report for the night.",
        ),
        Schedule(
            "weekly_report",
            "weekly_report",
            "weekly-report",
            "weekly",
            settings.schedule.weekly_report_cron,
            tz,
            {"config": config, "send": True},
            "Render the week that just ended and email it to the report recipients.",
        ),
    ]


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """One Prefect deployment per schedule, each with a cron schedule in the configured timezone."""
    from prefect.schedules import Cron

    from segmint.cli import load_flow_module

    deployments = []
    for s in schedules(settings):
        flow_obj = getattr(load_flow_module(s.flow_file), s.function)
        deployments.append(
            flow_obj.to_deployment(
                name=s.deployment,
                schedule=Cron(s.cron, timezone=s.timezone, slug=s.deployment),
                parameters=s.parameters,
                description=s.description,
                tags=["segmint"],
            )
        )
    return deployments


def register(settings: Settings) -> list[str]:
    """Create or update both deployments on the Prefect server and return their full names."""
    for deployment in build_deployments(settings):
        deployment.apply()
    return [s.full_name for s in schedules(settings)]


def serve(settings: Settings) -> None:
    """Serve both deployments until interrupted: Prefect starts each run on its schedule."""
    import prefect

    prefect.serve(*build_deployments(settings), print_starting_message=False)


def api_url() -> str | None:
    """The Prefect server this process talks to (None: a temporary one would be started)."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def main(argv: list[str] | None = None) -> int:
    """`python -m segmint.serve timezone|config|project-dir [--config PATH]`, for prefect.yaml's build steps."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m segmint.serve", description=main.__doc__)
    parser.add_argument("value", choices=["timezone", "config", "project-dir"])
    parser.add_argument("--config", type=Path, default=Path("segmint.toml"), help="settings file")
    args = parser.parse_args(argv)
    settings = load_settings(args.config, must_exist=False)
    if args.value == "timezone":
        print(settings.schedule.timezone)
    elif args.value == "config":
        print(settings.config_path)
    else:
        from segmint.resources import resource_dir

        print(resource_dir("flows").parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
