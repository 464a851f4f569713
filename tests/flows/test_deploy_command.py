"""`segmint deploy --work-pool`: the shop's name, the deployments it builds, and its one-sentence refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from segmint.config import load_settings
from segmint.errors import ConfigError
from segmint.prefect_env import FLOW_RUN_ENV
from segmint.serve import build_pool_deployments, deploy_to_pool, schedules


def shop_config(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "segmint.toml"
    config.write_text(f"[warehouse]\npath = 'warehouse.duckdb'\n{extra}", encoding="utf-8")
    return config


def test_the_shop_name_comes_from_shop_name_else_the_config_folder(tmp_path: Path) -> None:
    assert load_settings(shop_config(tmp_path / "alpine")).shop_name == "alpine"
    assert load_settings(shop_config(tmp_path / "Mein Laden!")).shop_name == "Mein-Laden"
    named = shop_config(tmp_path / "whatever", "[shop]\nname = 'harbour'\n")
    assert load_settings(named).shop_name == "harbour"


def test_a_shop_name_unfit_for_a_deployment_name_is_one_sentence(tmp_path: Path) -> None:
    config = shop_config(tmp_path / "x", "[shop]\nname = 'a/b'\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value) == (
        f"{config}: key 'shop.name': 'a/b' is not a shop name; use letters, digits, '-', '_' or '.', "
        "starting with a letter or digit."
    )


def test_pool_deployments_carry_the_shop_and_the_schedules_of_segmint_serve(tmp_path: Path) -> None:
    config = shop_config(
        tmp_path / "harbour", "[schedule]\ntimezone = 'Europe/Berlin'\nnightly_cron = '30 3 * * *'\n"
    )
    settings = load_settings(config)
    built = build_pool_deployments(settings, "shops", image="registry.example/segmint:1")
    assert [(d.flow_name, d.name) for d in built] == [
        ("nightly-refresh", "nightly-harbour"),
        ("weekly-report", "weekly-harbour"),
    ]
    for d, s in zip(built, schedules(settings), strict=True):
        assert d.entrypoint == f"segmint.entrypoints.{s.function}"
        assert d.tags == ["segmint", "harbour"]
        assert d.work_pool_name == "shops"
        assert d.parameters == s.parameters
        assert [(x.schedule.cron, x.schedule.timezone) for x in d.schedules] == [(s.cron, "Europe/Berlin")]
        assert d.job_variables == {"env": FLOW_RUN_ENV, "image": "registry.example/segmint:1"}
        assert d.concurrency_limit == 1
    assert built[0].parameters == {"config": str(config)}


def test_the_entrypoints_are_the_flows_of_the_flows_folder() -> None:
    from prefect.flows import load_flow_from_entrypoint

    assert load_flow_from_entrypoint("segmint.entrypoints.nightly").name == "nightly-refresh"
    assert load_flow_from_entrypoint("segmint.entrypoints.weekly_report").name == "weekly-report"


def test_two_configs_of_one_shop_name_are_refused_before_anything_is_registered(tmp_path: Path) -> None:
    a = load_settings(shop_config(tmp_path / "a", "[shop]\nname = 'same'\n"))
    b = load_settings(shop_config(tmp_path / "b", "[shop]\nname = 'same'\n"))
    with pytest.raises(ConfigError) as raised:
        deploy_to_pool([a, b], "shops")
    assert str(raised.value) == (
        f"{a.config_path} and {b.config_path} are both shop 'same'; give one of them its own [shop] name, "
        "so that neither replaces the other's deployments."
    )


def segmint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_deploy_without_a_prefect_server_says_how_to_get_one(tmp_path: Path) -> None:
    config = shop_config(tmp_path / "shop")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "home")  # no profile naming a server
    done = segmint("deploy", "--work-pool", "shops", "--config", str(config), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert " ".join(done.stderr.split()) == (
        "error: PREFECT_API_URL is not set: a work pool needs a Prefect server that every worker reaches; "
        "start one with `prefect server start`, set PREFECT_API_URL to its /api address and deploy again."
    )


def test_deploy_with_an_image_to_a_missing_pool_says_how_to_create_it(
    tmp_path: Path, prefect_api_url: str
) -> None:
    config = shop_config(tmp_path / "shop")
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    done = segmint(
        "deploy", "--work-pool", "containers", "--image", "segmint:1", "--config", str(config), env=env
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert " ".join(done.stderr.split()) == (
        "error: Work pool 'containers' does not exist; create it with "
        "`prefect work-pool create containers --type docker` (or kubernetes), then deploy again."
    )
