"""Schedules against a real Prefect server: `segmint serve` registers and serves both deployments, and
prefect.yaml deploys the same two with `prefect deploy`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from segmint.config import load_settings
from segmint.prefect_env import FLOW_RUN_ENV
from segmint.resources import resource_dir
from segmint.serve import register, schedules
from segmint.serve import value as serve_value

PROJECT = resource_dir("flows").parent
BERLIN = "[schedule]\ntimezone = 'Europe/Berlin'\n"


def deployments(*names: str) -> dict[str, Any]:
    """The named deployments as the Prefect server stores them."""
    from prefect.client.orchestration import get_client

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            return {name: await client.read_deployment_by_name(name) for name in names}

    return asyncio.run(read())


def check_schedules(
    found: dict[str, Any], timezone: str, config: str, crons: tuple[str, str] = ("0 2 * * *", "0 7 * * 1")
) -> None:
    nightly, weekly = found["nightly-refresh/nightly"], found["weekly-report/weekly"]
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in nightly.schedules] == [
        (crons[0], timezone, True)
    ]
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in weekly.schedules] == [
        (crons[1], timezone, True)
    ]
    assert nightly.parameters == {"config": config}
    assert weekly.parameters == {"config": config, "send": True}
    assert nightly.entrypoint.endswith("flows/nightly.py:nightly")
    assert weekly.entrypoint.endswith("flows/weekly_report.py:weekly_report")


@pytest.mark.usefixtures("prefect_server")
def test_register_creates_both_deployments_with_their_cron_schedules(shop_config: Path) -> None:
    shop_config.write_text(shop_config.read_text(encoding="utf-8") + BERLIN, encoding="utf-8")
    settings = load_settings(shop_config)
    names = register(settings)
    assert names == ["nightly-refresh/nightly", "weekly-report/weekly"]
    check_schedules(deployments(*names), "Europe/Berlin", str(shop_config))
    assert register(settings) == names  # registering again updates in place


def test_schedule_preview_is_in_the_shop_timezone(shop_config: Path) -> None:
    shop_config.write_text(shop_config.read_text(encoding="utf-8") + BERLIN, encoding="utf-8")
    nightly, weekly = schedules(load_settings(shop_config))
    sunday_noon = datetime(2026, 11, 8, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert nightly.next_runs(2, after=sunday_noon) == [
        datetime(2026, 11, 9, 2, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 11, 10, 2, 0, tzinfo=ZoneInfo("Europe/Berlin")),
    ]
    assert weekly.next_runs(1, after=sunday_noon) == [
        datetime(2026, 11, 9, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    ]


def test_schedule_preview_agrees_with_prefect_on_a_dst_night() -> None:
    """Clocks go forward at 02:00 on 29 March 2026 in Berlin: Prefect starts that night's run at 03:00."""
    from segmint.serve import Schedule

    berlin = ZoneInfo("Europe/Berlin")
    nightly = Schedule(
        "nightly", "nightly", "nightly-refresh", "nightly", "0 2 * * *", "Europe/Berlin", {}, ""
    )
    runs = nightly.next_runs(3, after=datetime(2026, 3, 28, 12, 0, tzinfo=berlin))
    assert [r.isoformat() for r in runs] == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:00:00+02:00",
        "2026-03-31T02:00:00+02:00",
    ]
    assert all(type(r) is datetime and r.tzinfo == berlin for r in runs)


def test_no_module_imports_prefects_private_modules() -> None:
    """Only Prefect's public API: its private modules (prefect._vendor, prefect._internal) change without notice."""
    import re

    private = re.compile(r"prefect\._[a-z]")
    offenders = [
        f"{path.relative_to(PROJECT)}:{n}"
        for folder in ("src", "flows")
        for path in sorted((PROJECT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []


def segmint(*args: str, api: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PREFECT_API_URL": api},
    )


def test_serve_register_only_command(shop_config: Path, prefect_api_url: str) -> None:
    shop_config.write_text(shop_config.read_text(encoding="utf-8") + "[schedule]\ntimezone = 'Asia/Tokyo'\n")
    done = segmint("serve", "--config", str(shop_config), "--register-only", api=prefect_api_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2:] == ["registered nightly-refresh/nightly", "registered weekly-report/weekly"]
    assert f"Prefect server: {prefect_api_url}" in lines
    check_schedules(
        deployments("nightly-refresh/nightly", "weekly-report/weekly"), "Asia/Tokyo", str(shop_config)
    )


@pytest.mark.slow
def test_serve_runs_a_deployment(shop_config: Path, prefect_api_url: str, tmp_path: Path) -> None:
    """`segmint serve` stays up, and a run of its weekly deployment completes and writes the report."""
    from prefect.client.orchestration import get_client

    log = (tmp_path / "serve.log").open("w")
    serving = subprocess.Popen(
        [sys.executable, "-c", "from segmint.cli import main; main()", "serve", "--config", str(shop_config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,  # not the project folder: the entrypoint must still resolve
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
    )

    async def run_weekly() -> str:
        async with get_client() as client:
            deadline = time.monotonic() + 120
            deployment = None
            while deployment is None:
                assert serving.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "serve did not register its deployments"
                try:
                    deployment = await client.read_deployment_by_name("weekly-report/weekly")
                    if deployment.updated is None or deployment.parameters.get("config") != str(shop_config):
                        deployment = None
                except Exception:
                    await asyncio.sleep(1)
            run = await client.create_flow_run_from_deployment(
                deployment.id, parameters={"config": str(shop_config), "as_of": "2026-11-08", "send": False}
            )
            while True:
                state = (await client.read_flow_run(run.id)).state
                if state is not None and state.is_final():
                    return str(state.type.value)
                assert time.monotonic() < deadline + 180, f"the served run did not finish: {state}"
                await asyncio.sleep(1)

    try:
        final = asyncio.run(run_weekly())
    finally:
        serving.terminate()
        try:
            serving.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serving.kill()
            serving.wait()
        log.close()
    assert final == "COMPLETED", (tmp_path / "serve.log").read_text()
    assert (shop_config.parent / "reports" / "2026-11-08" / "report.html").is_file()


def test_prefect_yaml_agrees_with_the_schedules_segmint_serve_registers(tmp_path: Path) -> None:
    """One source of truth: prefect.yaml takes every value that settings decide from a build step that
    asks segmint.serve, and declares the rest exactly as `segmint serve` does."""
    spec = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    steps = {
        step["id"]: step["script"]
        for entry in spec["build"]
        for name, step in entry.items()
        if name == "prefect.deployments.steps.run_shell_script"
    }
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[schedule]\ntimezone = 'Europe/Berlin'\nnightly_cron = '30 3 * * *'\nweekly_report_cron = '0 8 * * 2'\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    for step_id, script in steps.items():
        # Each step is `python -m segmint.serve VALUE ...`: run it as the deploy would, in the shop folder.
        args = script.split()
        assert args[:3] == ["python", "-m", "segmint.serve"], script
        assert serve_value(settings, args[3]) == subprocess_value(args[3:], tmp_path), step_id
    by_name = {d["name"]: d for d in spec["deployments"]}
    templated = {"nightly": "{{ nightly_cron.stdout }}", "weekly": "{{ weekly_cron.stdout }}"}
    for s in schedules(settings):
        d = by_name.pop(s.deployment)
        assert steps[f"{s.deployment}_cron"].split()[3] == f"{s.deployment}-cron"
        assert d["entrypoint"] == f"flows/{s.flow_file}.py:{s.function}"
        assert f"def {s.function}(" in (PROJECT / "flows" / f"{s.flow_file}.py").read_text(encoding="utf-8")
        assert f'name="{s.flow_name}"' in (PROJECT / "flows" / f"{s.flow_file}.py").read_text(
            encoding="utf-8"
        )
        assert d["description"] == s.description
        assert d["tags"] == ["segmint"]
        assert d["parameters"] == {**s.parameters, "config": "{{ config.stdout }}"}
        assert d["schedules"] == [
            {"cron": templated[s.deployment], "timezone": "{{ timezone.stdout }}", "slug": s.deployment}
        ]
        assert d["work_pool"]["job_variables"]["env"] == FLOW_RUN_ENV
    assert by_name == {}, "prefect.yaml declares a deployment segmint serve does not"


def subprocess_value(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "segmint.serve", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_prefect_deploy_reads_the_timezone_from_segmint_toml(prefect_api_url: str, tmp_path: Path) -> None:
    """`prefect deploy --all` with the committed prefect.yaml, in a folder whose segmint.toml says Berlin."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async def make_pool() -> None:
        async with get_client() as client:
            with contextlib.suppress(ObjectAlreadyExists):  # another test made it
                await client.create_work_pool(WorkPoolCreate(name="segmint", type="process"))

    asyncio.run(make_pool())
    project = tmp_path / "shop"
    shutil.copytree(PROJECT / "flows", project / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "prefect.yaml", project / "prefect.yaml")
    (project / "segmint.toml").write_text(
        BERLIN + "nightly_cron = '30 3 * * *'\nweekly_report_cron = '0 8 * * 2'\n", encoding="utf-8"
    )
    venv_bin = str(Path(sys.executable).parent)
    done = subprocess.run(
        [str(Path(venv_bin) / "prefect"), "--no-prompt", "deploy", "--all"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url, "PATH": f"{venv_bin}:{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = deployments("nightly-refresh/nightly", "weekly-report/weekly")
    check_schedules(found, "Europe/Berlin", str(project / "segmint.toml"), ("30 3 * * *", "0 8 * * 2"))
    for d in found.values():
        assert d.job_variables["env"] == FLOW_RUN_ENV
    assert all(d.work_pool_name == "segmint" for d in found.values())
    assert found["nightly-refresh/nightly"].pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT)}}
    ]
