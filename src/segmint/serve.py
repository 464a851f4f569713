"""Schedules: the nightly refresh and the weekly report as Prefect deployments, served or registered.

`segmint serve` runs both on their cron schedules (timezone from settings.schedule) in one long-running
process against a Prefect server; `segmint serve --register-only` creates or updates the deployments and
returns. prefect.yaml declares the same two deployments for `prefect deploy` with a work pool; its build
steps ask this module for every value that comes from settings (`python -m segmint.serve nightly-cron`),
so both ways schedule the same crons in the same timezone (tests/flows/test_serve.py checks the rest).
`segmint deploy --work-pool` registers the same two per shop on a work pool, named after the shop, with
flows any worker imports from the installed package (segmint.entrypoints).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from segmint.config import Settings, load_settings

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

_T = TypeVar("_T")


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
        # Prefect's server-side schedule computes the dates, so the preview agrees with the runs it
        # creates (a start inside a DST gap, like 02:00 on the night clocks go forward, moves as it does).
        from prefect.server.schemas.schedules import CronSchedule

        zone = ZoneInfo(self.timezone)
        start = after or datetime.now(zone)
        dates = _run_sync(
            CronSchedule(cron=self.cron, timezone=self.timezone).get_dates(n=count, start=start)
        )
        return [datetime.fromtimestamp(d.timestamp(), zone) for d in dates]


def _run_sync(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Await a coroutine from sync code, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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

    from segmint.resources import load_flow_module

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


# Where a worker imports each flow from: the installed package (see segmint.entrypoints).
ENTRYPOINT_MODULE = "segmint.entrypoints"


def pool_deployment_name(schedule: Schedule, shop: str) -> str:
    """A shop's deployment on a work pool: the schedule's name and the shop's, e.g. `nightly-berlin`."""
    return f"{schedule.deployment}-{shop}"


def build_pool_deployments(
    settings: Settings, work_pool: str, image: str | None = None
) -> list[RunnerDeployment]:
    """The shop's two deployments for a work pool: the crons and timezone of `segmint serve`, the shop's
    name in each deployment's name and tags, and the flow imported from the installed package."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from segmint.prefect_env import FLOW_RUN_ENV

    shop = settings.shop_name
    job_variables: dict[str, Any] = {"env": dict(FLOW_RUN_ENV)}
    if image:
        job_variables["image"] = image
    deployments = []
    for s in schedules(settings):
        flow_obj = getattr(load_entrypoints(), s.function)
        deployment = flow_obj.to_deployment(
            name=pool_deployment_name(s, shop),
            schedule=Cron(s.cron, timezone=s.timezone, slug=s.deployment),
            parameters=s.parameters,
            description=f"{s.description} Shop: {shop}.",
            tags=["segmint", shop],
            work_pool_name=work_pool,
            job_variables=job_variables,
            entrypoint_type=EntrypointType.MODULE_PATH,
            # The warehouse's writer lock holds only on one machine: Prefect keeps a second run of the
            # same deployment waiting, whichever worker picked the first one up.
            concurrency_limit=1,
        )
        # The flow was loaded from a file under a private module name; a worker imports it by this one.
        deployment.entrypoint = f"{ENTRYPOINT_MODULE}.{s.function}"
        deployments.append(deployment)
    return deployments


def load_entrypoints() -> Any:
    """segmint.entrypoints, imported on first use (it loads both flows, and with them Prefect)."""
    import importlib

    return importlib.import_module(ENTRYPOINT_MODULE)


@dataclass(frozen=True)
class PoolDeployment:
    """What `segmint deploy` did for one shop: its name, its config and its deployments' full names."""

    shop: str
    config: Path
    deployments: list[str]


def ensure_process_pool(work_pool: str, create: bool = True) -> bool:
    """True when the work pool was created now (a process pool); False when it exists already.

    Without `create`, a missing pool is a ConfigError that says how to create it.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from segmint.errors import ConfigError

    async def ensure() -> bool:
        async with get_client() as client:
            try:
                await client.read_work_pool(work_pool)
                return False
            except ObjectNotFound:
                if not create:
                    raise ConfigError(
                        f"Work pool {work_pool!r} does not exist; create it with "
                        f"`prefect work-pool create {work_pool} --type docker` (or kubernetes), then deploy again."
                    ) from None
            try:
                await client.create_work_pool(
                    WorkPoolCreate(
                        name=work_pool,
                        type="process",
                        base_job_template=ProcessWorker.get_default_base_job_template(),
                    )
                )
            except ObjectAlreadyExists:  # another deploy made it meanwhile
                return False
            return True

    return _run_sync(ensure())


def deploy_to_pool(
    shops: list[Settings], work_pool: str, image: str | None = None
) -> tuple[bool, list[PoolDeployment]]:
    """Register each shop's nightly and weekly deployments on `work_pool` (created as a process pool when
    missing, unless an image asks for a container pool); whether the pool was created, and what was done."""
    from segmint.errors import ConfigError

    seen: dict[str, Path] = {}
    for settings in shops:
        other = seen.setdefault(settings.shop_name, settings.config_path)
        if other != settings.config_path:
            raise ConfigError(
                f"{other} and {settings.config_path} are both shop {settings.shop_name!r}; give one of them "
                "its own [shop] name, so that neither replaces the other's deployments."
            )
    created = ensure_process_pool(work_pool, create=image is None)
    done = []
    for settings in shops:
        names = []
        for deployment in build_pool_deployments(settings, work_pool, image):
            deployment.apply()
            names.append(f"{deployment.flow_name}/{deployment.name}")
        done.append(PoolDeployment(settings.shop_name, settings.config_path, names))
    return created, done


def serve(settings: Settings) -> None:
    """Serve both deployments until interrupted: Prefect starts each run on its schedule."""
    import prefect

    prefect.serve(*build_deployments(settings), print_starting_message=False)


def api_url() -> str | None:
    """The Prefect server this process talks to (None: a temporary one would be started)."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


# What prefect.yaml's build steps ask for: each value comes from the same settings `segmint serve` uses.
VALUES = ("timezone", "config", "project-dir", "nightly-cron", "weekly-cron")


def value(settings: Settings, name: str) -> str:
    """One of VALUES for prefect.yaml, from settings (the crons and timezone of `segmint serve`)."""
    by_deployment = {s.deployment: s for s in schedules(settings)}
    if name == "timezone":
        return settings.schedule.timezone
    if name == "config":
        return str(settings.config_path)
    if name == "nightly-cron":
        return by_deployment["nightly"].cron
    if name == "weekly-cron":
        return by_deployment["weekly"].cron
    if name == "project-dir":
        from segmint.resources import resource_dir

        return str(resource_dir("flows").parent)
    raise ValueError(f"unknown value {name!r}; one of {', '.join(VALUES)}")


def main(argv: list[str] | None = None) -> int:
    """`python -m segmint.serve VALUE [--config PATH]`, for prefect.yaml's build steps."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m segmint.serve", description=main.__doc__)
    parser.add_argument("value", choices=VALUES)
    parser.add_argument("--config", type=Path, default=Path("segmint.toml"), help="settings file")
    args = parser.parse_args(argv)
    print(value(load_settings(args.config, must_exist=False), args.value))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
