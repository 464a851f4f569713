"""Many shops past one machine: `segmint deploy --work-pool` registers each shop's deployments on a real
Prefect server, a real process worker runs three shops' nightlies at once, and each warehouse holds its own
shop's customers only."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import segmint
import shops
from segmint.config import load_settings
from segmint.prefect_env import FLOW_RUN_ENV
from segmint.warehouse import connect

POOL = "shops"
NIGHT = "2026-11-08"
PACKAGE_ROOT = str(Path(segmint.__file__).resolve().parent.parent)  # this checkout's src/ (or site-packages)


@dataclass(frozen=True)
class Shop:
    """One shop of the test: its folder, its name on the pool and the customer ids its export holds."""

    folder: str
    name: str
    shape: shops.ShopShape
    settings: str = ""


SHOPS = [
    # The name from the folder; the defaults of [schedule] but for the timezone.
    Shop("alpine", "alpine", shops.ShopShape(customers=40, days=90, seed=3, id_prefix="ALP-", events=False)),
    # The name from [shop] name; its own crons and timezone.
    Shop(
        "harbour-shop",
        "harbour",
        shops.ShopShape(customers=55, days=100, seed=5, id_prefix="HRB-"),
        "[shop]\nname = 'harbour'\n",
    ),
    Shop("north", "north", shops.ShopShape(customers=70, days=120, seed=9, id_prefix="NTH-", events=False)),
]
SCHEDULES = {
    "alpine": ("0 2 * * *", "0 7 * * 1", "Europe/Zurich"),
    "harbour": ("30 3 * * *", "0 8 * * 2", "Europe/Berlin"),
    "north": ("0 2 * * *", "0 7 * * 1", "UTC"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prefect() -> list[str]:
    cli = Path(sys.executable).with_name("prefect")
    if not cli.exists():
        pytest.skip(f"no prefect command next to {sys.executable}")
    return [str(cli)]


def _env(home: Path, api: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Subprocesses import this checkout's segmint, wherever the worker starts a flow run.
        "PYTHONPATH": os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p),
    }
    if api:
        env["PREFECT_API_URL"] = api
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a process this test started, with the children it started (its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@contextlib.contextmanager
def prefect_server(folder: Path) -> Iterator[str]:
    """A real `prefect server start` on 127.0.0.1 with its own home; its API URL once /api/health answers."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [*_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(folder / "server-home"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()
            assert time.monotonic() < deadline, "the Prefect server did not answer within 90 s"
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(1)
        yield api
    finally:
        _stop(server)
        log.close()


def _customer_ids(folder: Path) -> set[str]:
    with (folder / "customers" / "customers.csv").open(encoding="utf-8") as f:
        return {row["customer_id"] for row in csv.DictReader(f)}


def segmint_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


async def _read_deployments(names: list[str]) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return {name: await client.read_deployment_by_name(name) for name in names}


async def _run_all(names: list[str], timeout: float) -> dict[str, str]:
    """Start a run of each deployment at once; each run's final state once all have ended."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        runs = {}
        for name in names:
            deployment = await client.read_deployment_by_name(name)
            runs[name] = await client.create_flow_run_from_deployment(
                deployment.id, parameters={"as_of": NIGHT}
            )
        deadline = time.monotonic() + timeout
        final: dict[str, str] = {}
        while len(final) < len(runs):
            for name, run in runs.items():
                state = (await client.read_flow_run(run.id)).state
                if name not in final and state is not None and state.is_final():
                    final[name] = f"{state.type.value}: {state.message}"
            if time.monotonic() > deadline:
                pending = {
                    n: (await client.read_flow_run(r.id)).state for n, r in runs.items() if n not in final
                }
                raise AssertionError(f"runs not finished within {timeout:.0f} s: {pending}")
            await asyncio.sleep(2)
        return final


@pytest.mark.slow
def test_three_shops_on_one_work_pool_run_at_once_each_in_its_own_warehouse(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configs = {}
    for shop in SHOPS:
        folder = tmp_path / shop.folder
        config = shops.write_shop(folder, shop.shape, extra=shop.settings)
        nightly, weekly, zone = SCHEDULES[shop.name]
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                "timezone = 'UTC'\n",
                f"timezone = '{zone}'\nnightly_cron = '{nightly}'\nweekly_report_cron = '{weekly}'\n",
            ),
            encoding="utf-8",
        )
        assert load_settings(config).shop_name == shop.name
        configs[shop.name] = config

    worker: subprocess.Popen[bytes] | None = None
    with prefect_server(tmp_path) as api:
        client_env = _env(tmp_path / "client-home", api)
        try:
            deploy_args = ["deploy", "--work-pool", POOL]
            for config in configs.values():
                deploy_args += ["--config", str(config)]
            done = segmint_cli(*deploy_args, env=client_env)
            assert done.returncode == 0, done.stdout + done.stderr
            lines = done.stdout.splitlines()
            assert f"created work pool {POOL} (process)" in lines
            for name, config in configs.items():
                assert f"registered nightly-refresh/nightly-{name} (shop {name}, {config})" in lines
                assert f"registered weekly-report/weekly-{name} (shop {name}, {config})" in lines
            assert f"prefect worker start --pool {POOL}" in done.stdout

            # Deploying again updates in place; the pool is there now.
            again = segmint_cli(*deploy_args, env=client_env)
            assert again.returncode == 0 and "created work pool" not in again.stdout, again.stderr

            with temporary_settings(updates={PREFECT_API_URL: api}):
                names = [f"{flow}/{kind}-{shop}" for shop in configs
                         for flow, kind in (("nightly-refresh", "nightly"), ("weekly-report", "weekly"))]  # fmt: skip
                found = asyncio.run(_read_deployments(names))
                for shop, config in configs.items():
                    nightly_cron, weekly_cron, zone = SCHEDULES[shop]
                    nightly, weekly = (
                        found[f"nightly-refresh/nightly-{shop}"],
                        found[f"weekly-report/weekly-{shop}"],
                    )
                    assert nightly.entrypoint == "segmint.entrypoints.nightly"
                    assert weekly.entrypoint == "segmint.entrypoints.weekly_report"
                    for d, cron in ((nightly, nightly_cron), (weekly, weekly_cron)):
                        assert d.work_pool_name == POOL and d.tags == ["segmint", shop]
                        assert [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] == [(cron, zone)]
                        assert d.job_variables == {"env": FLOW_RUN_ENV}
                        assert d.pull_steps in (None, [])  # nothing to clone or copy
                        assert d.global_concurrency_limit is not None
                        assert d.global_concurrency_limit.limit == 1
                    assert nightly.parameters == {"config": str(config)}
                    assert weekly.parameters == {"config": str(config), "send": True}

                worker_log = (tmp_path / "worker.log").open("wb")
                worker = subprocess.Popen(
                    [*_prefect(), "worker", "start", "--pool", POOL],
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,  # not the project folder: the entrypoint is the installed package's
                    env=_env(tmp_path / "worker-home", api) | {"PREFECT_WORKER_QUERY_SECONDS": "2"},
                    start_new_session=True,
                )
                started = time.monotonic()
                final = asyncio.run(_run_all([f"nightly-refresh/nightly-{s}" for s in configs], timeout=300))
                took = time.monotonic() - started
        finally:
            if worker is not None:
                _stop(worker)
    log = (tmp_path / "worker.log").read_text(encoding="utf-8", errors="replace")
    assert all(state.startswith("COMPLETED") for state in final.values()), (final, log[-4000:])
    print(f"three nightlies on one worker: {took:.0f} s")

    every_shop = {shop.name: _customer_ids(tmp_path / shop.folder) for shop in SHOPS}
    for shop in SHOPS:
        with connect(tmp_path / shop.folder / "warehouse.duckdb") as con:
            runs = con.execute("select flow, as_of::varchar, status from runs").fetchall()
            customers = {r[0] for r in con.execute("select customer_id from customers").fetchall()}
            buyers = {r[0] for r in con.execute("select distinct customer_id from orders").fetchall()}
            featured = con.execute("select count(*) from customer_features").fetchone()
        assert runs == [("nightly", NIGHT, "completed")], (shop.name, runs)
        assert customers == every_shop[shop.name]
        assert {c for c in buyers if c} <= every_shop[shop.name] | {None}, shop.name
        assert all(str(c).startswith(shop.shape.id_prefix) for c in buyers if c), shop.name
        assert featured is not None and featured[0] > 0
        assert (tmp_path / shop.folder / "reports" / NIGHT / "report.html").is_file()
