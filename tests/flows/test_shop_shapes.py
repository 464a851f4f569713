"""Shop shapes through the real `segmint run nightly` (Prefect): stale data, backfills, nothing loadable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

import shops
from segmint.errors import EXIT_DATA_HELD, EXIT_FAILED
from segmint.warehouse import connect


def run(api_url: str, *argv: str) -> tuple[int, str]:
    """Run the real CLI in a process against the session's Prefect server; its exit code and output."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    command = [sys.executable, "-c", "from segmint.cli import main; main()", *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


def test_stale_data_is_held_by_freshness_with_one_sentence_and_its_exit_code(
    tmp_path: Path, prefect_api_url: str
) -> None:
    night = date.today() - timedelta(days=1)  # what `run nightly` picks without --as-of (UTC schedule)
    shape = shops.ShopShape(customers=40, days=90, end=night, stale_days=40, events=False)
    config = shops.write_shop(tmp_path, shape)
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config))
    assert code == EXIT_DATA_HELD, out
    with connect(tmp_path / "warehouse.duckdb") as con:
        last = con.execute("select max(ordered_at)::date from orders").fetchall()[0][0]
    age = (date.today() - last).days
    assert age >= 41
    assert (
        f"Your data ends {last} (the newest order), {age} days before today ({date.today()}): the export "
        f"may have stopped, and the night of {night} has no data of its own; to compute the last night with "
        f"data, run `segmint run nightly --as-of {last} --config {config}`"
    ) in out, out
    assert "Traceback" not in out and "held by orders.data_fresh: " in out
    # Accepting stale data would publish segments for a night without data: not offered.
    assert "--accept orders.data_fresh" not in out and out.count("Your data ends") == 1, out
    # Nothing was held back for a stale export: replay is not offered as the way out.
    assert "segmint replay " not in out.replace("`segmint replay` has nothing to publish", "")
    with connect(tmp_path / "warehouse.duckdb") as con:
        status, message = con.execute("select status, message from runs").fetchall()[0]
        failed = con.execute(
            "select expectation from validation_results where not success and severity = 'critical'"
        ).fetchall()
    assert status == "held" and ("data_fresh",) in failed, message


def test_a_first_night_on_an_export_ending_days_before_it_offers_its_last_day_first(
    tmp_path: Path, prefect_api_url: str
) -> None:
    night = date.today() - timedelta(days=1)  # what `run nightly` picks without --as-of (UTC schedule)
    # Downloaded in the morning two days ago: the data ends within max_data_age_days (3) of the night.
    shape = shops.ShopShape(customers=600, days=60, end=night, stale_days=2, events=False)
    config = shops.write_shop(tmp_path, shape)
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config))
    assert code == EXIT_DATA_HELD and "Traceback" not in out, out
    last = shape.last_day
    assert (
        f"held by orders.volume_not_low: 0 rows tonight from source 'shop' because your data ends {last}, "
        f"2 days before the night of {night} ("
    ) in out, out
    fix = f"`segmint run nightly --as-of {last} --config {config}` computes the last night with data"
    accept = f"segmint run nightly --as-of {night} --config {config} --accept orders.volume_not_low"
    # The night of the last data day is the fix; accepting tonight (a night without data) comes after it.
    assert fix in out and out.index(fix) < out.index(accept), out
    assert f"only if nothing really happened after {last}, `{accept}`" in out, out
    assert "if the numbers are right" not in out and "Your data ends" not in out, out
    code, status = run(prefect_api_url, "status", "--config", str(config))
    assert f"  your data ends {last}, before the night of {night}: {fix}\n" in status, status
    assert f"  only if nothing really happened after {last}: {accept}\n" in status, status
    # Campaigns built now come from that held night (nothing is published yet): the build says so.
    shutil.copy(Path(__file__).parents[2] / "campaigns.example.toml", tmp_path / "campaigns.toml")
    command = [sys.executable, "-c", "from segmint.cli import main; main()", "campaigns", "build"]
    done = subprocess.run(
        [*command, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    held = [w for w in warnings if w.startswith(f"the night of {night} was held by a failed critical check")]
    assert len(held) == 1 and "orders.volume_not_low: 0 rows tonight" in held[0], warnings
    assert f"do not upload them yet; fix the night as `segmint status --config {config}` says" in held[0]


@pytest.mark.slow  # several real nightlies in a row
def test_a_backfill_of_an_earlier_night_after_later_nights_completes_with_no_alert(
    tmp_path: Path, prefect_api_url: str
) -> None:
    end = date(2026, 11, 8)
    shape = shops.ShopShape(customers=60, days=60, end=end, events=True)
    config = shops.write_shop(tmp_path, shape, daily_exports=True, through=end - timedelta(days=2))
    for k in (2, 1, 0):  # three nights, each delivering that day's export (repeating the two before)
        shops.write_shop(tmp_path, shape, daily_exports=True, through=end - timedelta(days=k))
        run(
            prefect_api_url,
            "run",
            "nightly",
            "--config",
            str(config),
            "--as-of",
            str(end - timedelta(days=k)),
        )
    code, out = run(
        prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", str(end - timedelta(days=5))
    )
    assert "Traceback" not in out
    with connect(tmp_path / "warehouse.duckdb") as con:
        backfill = con.execute(
            "select run_id, status from runs where as_of = ? order by started_at desc limit 1",
            [end - timedelta(days=5)],
        ).fetchall()[0]
        failed = con.execute(
            "select suite, expectation from validation_results where run_id = ? and not success and severity = 'critical'",
            [backfill[0]],
        ).fetchall()
    assert failed == [] and backfill[1] == "completed", out
    assert "data quality FAILED" not in out and code == 0


def test_a_first_night_with_nothing_loadable_names_the_file(tmp_path: Path, prefect_api_url: str) -> None:
    broken = shops.write_unloadable(tmp_path)
    config = shops.write_config(tmp_path, events=False, customers=False)
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", "2026-11-08")
    assert code != 0 and str(broken) in out and "Traceback" not in out, out
    # Not the advice to run the nightly that just ran.
    assert "segments not computed: no order or event is loaded yet: every file was rejected" in out, out
    assert "No customer features" not in out
    code, out = run(prefect_api_url, "report", "--config", str(config), "--as-of", "2026-11-08")
    # The report still renders (its sections say "Not yet available") and names the rejected file.
    assert code in (0, EXIT_FAILED) and "Traceback" not in out, out
    page = (tmp_path / "reports" / "2026-11-08" / "report.html").read_text(encoding="utf-8")
    assert broken.name in page
    assert "No segments yet: no order or event is loaded yet: every file was rejected" in page


@pytest.mark.slow  # several real nightlies in a row
def test_a_night_held_by_a_night_check_names_it_and_its_accept_command_publishes_the_night(
    tmp_path: Path, prefect_api_url: str
) -> None:
    end = date(2026, 11, 8)
    shape = shops.ShopShape(customers=1500, days=40, end=end, events=False)
    config = shops.write_shop(tmp_path, shape, daily_exports=True)
    shops.thin_day(tmp_path, end, keep_every=40)  # the export was cut off: a few orders of the day left
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", str(end))
    assert code == EXIT_DATA_HELD and "Traceback" not in out, out
    assert "held by orders.volume_not_low: " in out and "recent nights' median" in out, out
    accept = f"segmint run nightly --as-of {end} --config {config} --accept orders.volume_not_low"
    assert f"`{accept}` publishes tonight's segments" in out
    assert "segmint replay " not in out.replace("`segmint replay` has nothing to publish", ""), out
    code, status = run(prefect_api_url, "status", "--config", str(config))
    assert "was held by 1 failed critical check(s):\n  orders.volume_not_low: " in status, status
    assert accept in status
    report = next((tmp_path / "reports").glob("*/report.html")).read_text()
    assert "recent nights&#39; median" in report
    code, out = run(prefect_api_url, *accept.split()[1:])
    assert code == 0 and "segments published" in out, out


def test_a_tiny_shop_says_why_it_has_no_segments_and_nights_not_over_are_refused(
    tmp_path: Path, prefect_api_url: str
) -> None:
    end = date(2026, 11, 8)
    config = shops.write_shop(tmp_path, shops.ShopShape(customers=25, days=60, end=end, events=False))
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", str(end))
    assert code == 0 and "Traceback" not in out, out
    code, out = run(prefect_api_url, "segments", "--config", str(config))
    assert code == 1, out
    assert (
        "No segmentation has been published yet: " in out and "run `segmint run nightly` first" not in out
    ), out
    assert "customers" in out.split("published yet: ", 1)[1], out
    tomorrow = date.today() + timedelta(days=1)
    code, out = run(prefect_api_url, "run", "nightly", "--config", str(config), "--as-of", str(tomorrow))
    assert code == 2 and f"--as-of {tomorrow} is not over yet" in out and "Traceback" not in out, out
    code, out = run(prefect_api_url, "report", "--config", str(config), "--as-of", "2026-13-01")
    assert code == 2 and "'2026-13-01' is not a date" in out, out
