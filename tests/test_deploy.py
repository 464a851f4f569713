"""deploy/: the systemd units are valid (systemd-analyze verify) and their times match the default schedule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from segmint.config import ScheduleSettings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted(p.name for p in DEPLOY.iterdir() if p.suffix in {".service", ".timer"})


def _installed_copy(tmp_path: Path) -> list[Path]:
    # The units name /srv/segmint and its venv; verify checks that ExecStart exists, so point them at
    # this test's folder and this venv's console script, and run them as the current user.
    import getpass

    segmint = Path(sys.executable).with_name("segmint")
    if not segmint.exists():
        pytest.skip(f"no segmint console script next to {sys.executable} to point ExecStart at")
    copies = []
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        text = text.replace("/srv/segmint/.venv/bin/segmint", str(segmint)).replace(
            "/srv/segmint", str(tmp_path)
        )
        text = text.replace("User=segmint", f"User={getpass.getuser()}")
        copy = tmp_path / name
        copy.write_text(text, encoding="utf-8")
        copies.append(copy)
    return copies


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, _installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ignoring" not in done.stderr and "Unknown" not in done.stderr, done.stderr


def test_every_service_runs_segmint_with_a_config_and_every_timer_has_its_service() -> None:
    assert {"segmint-nightly.service", "segmint-nightly.timer", "segmint-serve.service"} <= set(UNITS)
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        if name.endswith(".service"):
            assert (
                "ExecStart=/srv/segmint/.venv/bin/segmint " in text
                and "--config /srv/segmint/segmint.toml" in text
            )
        else:
            assert name.replace(".timer", ".service") in UNITS


def _on_calendar(cron: str) -> str:
    minute, hour, day, month, weekday = cron.split()
    days = {"*": "", "1": "Mon ", "0": "Sun ", "6": "Sat "}[weekday]
    assert (day, month) == ("*", "*")
    return f"OnCalendar={days}*-*-* {int(hour):02d}:{int(minute):02d}:00"


@pytest.mark.parametrize(
    ("timer", "cron"),
    [
        ("segmint-nightly.timer", ScheduleSettings().nightly_cron),
        ("segmint-weekly.timer", ScheduleSettings().weekly_report_cron),
    ],
)
def test_timers_start_at_the_default_schedule(timer: str, cron: str) -> None:
    assert _on_calendar(cron) in (DEPLOY / timer).read_text(encoding="utf-8").splitlines()
