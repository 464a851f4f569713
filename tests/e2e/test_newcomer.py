"""A new user's first evening, on a real export: init -> doctor -> run nightly -> report -> campaigns build.

No Prefect server and no PREFECT_HOME, as on a fresh machine: the nightly starts Prefect's temporary
server with its home under the new folder's data/. The SMTP settings come from .env (a real SMTP server
with a login on 127.0.0.1), as the README tells a new user to keep them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.wholejob import REAL
from report.smtp import smtp_sink

pytestmark = pytest.mark.slow
NIGHT = "1997-09-30"  # the CDNOW sample's 39 calibration weeks end here


def newcomer_env() -> dict[str, str]:
    drop = {"COLUMNS", "LINES", "PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILE"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SEGMINT_")}
    # Only what a test machine needs: Prefect's temporary server is slow to start under load.
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    return env


def test_a_new_shop_from_init_to_campaign_audiences(tmp_path: Path) -> None:
    export = tmp_path / "downloads" / "CDNOW_sample.txt"
    export.parent.mkdir()
    shutil.copy(REAL / "cdnow" / "CDNOW_sample.txt", export)
    shop = tmp_path / "shop"
    env = newcomer_env()

    def segmint(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-c", "from segmint.cli import main; main()", *args],
            capture_output=True,
            text=True,
            cwd=shop if shop.exists() else tmp_path,
            env=env,
            timeout=900,
        )
        assert "Traceback (most recent call last)" not in done.stdout + done.stderr, done.stderr[-3000:]
        return done

    with smtp_sink(login=("shop", "s3cret")) as server:
        init = segmint("init", "shop", "--orders", str(export), "--email", "owner@shop.test", "--no-input")
        assert init.returncode == 0, init.stderr
        assert "orders: " in init.stdout and "(preset cdnow)" in init.stdout
        with (shop / ".env").open("a", encoding="utf-8") as dotenv:
            dotenv.write(
                f"SEGMINT_ALERTS__SMTP_HOST=127.0.0.1\nSEGMINT_ALERTS__SMTP_PORT={server.port}\n"
                "SEGMINT_ALERTS__SMTP_USER=shop\nSEGMINT_ALERTS__SMTP_PASSWORD=s3cret\n"
            )

        doctor = segmint("doctor")
        # Only the data's age fails, read from the export before the first run: CDNOW ends in 1998, and
        # doctor says which night to compute.
        failed = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL")]
        assert doctor.returncode == 1 and len(failed) == 1, doctor.stdout
        assert failed[0].startswith("FAIL  data age: source files, nothing loaded yet: your newest order is ")
        assert "pass --as-of 1998-06-30 to compute that night" in failed[0], failed[0]
        assert f"ok    smtp: logged in to 127.0.0.1:{server.port} as shop" in doctor.stdout.splitlines()
        assert "ok    source 'shop': 1 file matches " in doctor.stdout

        nightly = segmint("run", "nightly", "--as-of", NIGHT)
        assert nightly.returncode == 0, nightly.stdout[-3000:] + nightly.stderr[-3000:]
        assert f"for {NIGHT}: completed" in nightly.stdout
        assert (shop / "data" / "prefect").is_dir()  # Prefect's home, made before its server started

        report = segmint("report", "--as-of", NIGHT)
        assert report.returncode == 0, report.stderr
        report_path = Path(report.stdout.strip().splitlines()[-1])
        assert report_path.is_file() and report_path.is_relative_to(shop / "data")

        built = segmint("campaigns", "build", "--json")
        assert built.returncode == 0, built.stderr
        audiences = json.loads(built.stdout)
        assert audiences["as_of"] == NIGHT
        assert {c["name"] for c in audiences["campaigns"]} >= {"vip-early-access", "second-purchase"}
        # CDNOW's export has no email addresses: the chosen customers are counted out for lack of one.
        chosen = sum(
            c["n_treatment"] + c["n_holdout"] + c["n_excluded_no_email"] for c in audiences["campaigns"]
        )
        assert chosen > 0, audiences
        for campaign in audiences["campaigns"]:
            assert Path(campaign["export_path"]).is_file()

        segments = json.loads(segmint("segments", "--json").stdout)
        assert segments["published"] is True and segments["as_of"] == NIGHT
        assert sum(s["size"] for s in segments["segments"]) == segments["n_customers"]

        status = json.loads(segmint("status", "--json").stdout)
        last = status["runs"][0]
        assert (last["flow"], last["as_of"], last["status"]) == ("nightly", NIGHT, "completed")
        assert status["held_batches"] == [] and status["data"]["newest"] == "1998-06-30"
