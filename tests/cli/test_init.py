"""`segmint init`: a shop's folder from the example files shipped with the package."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from cli.conftest import REAL, Cli
from segmint.config import load_settings
from segmint.resources import TEMPLATES, template_path

ROOT = Path(__file__).resolve().parents[2]


def exports(tmp_path: Path) -> tuple[Path, Path]:
    """A real CDNOW export and a real Online Retail II export, as a shop would download them."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    cdnow = folder / "CDNOW_sample.txt"
    shutil.copy(REAL / "cdnow" / "CDNOW_sample.txt", cdnow)
    retail = folder / "online_retail_ii_head5000.csv.gz"
    shutil.copy(REAL / "online_retail_ii" / "online_retail_ii_head5000.csv.gz", retail)
    return cdnow, retail


def test_init_with_flags_writes_a_config_that_loads(cli: Cli, tmp_path: Path) -> None:
    _, retail = exports(tmp_path)
    done = cli(
        "init",
        "shop",
        "--orders",
        str(retail),
        "--timezone",
        "Europe/Berlin",
        "--email",
        "me@shop.test",
        "--no-input",
    )
    assert done.returncode == 0, done.stderr
    shop = tmp_path / "shop"
    assert sorted(p.name for p in shop.iterdir()) == [".env", "campaigns.toml", "segmint.toml"]
    settings = load_settings(shop / "segmint.toml")
    [source] = settings.sources
    assert (source.name, source.kind, source.preset) == ("shop", "orders", "online_retail")  # guessed
    assert settings.source_files(source) == [retail]
    assert settings.schedule.timezone == "Europe/Berlin"
    assert settings.alerts.recipients == settings.alerts.report_recipients == ["me@shop.test"]
    assert settings.campaigns.playbook == shop / "campaigns.toml"
    # The shipped playbook, less its first line's advice to copy it (init wrote the copy).
    written, example = (
        (shop / "campaigns.toml").read_text(),
        template_path("campaigns.example.toml").read_text(),
    )
    assert written.splitlines()[1:] == example.splitlines()[1:]
    assert "Copy to" not in written and "Copy to" not in (shop / "segmint.toml").read_text()
    assert (shop / ".env").read_text() == template_path(".env.example").read_text()
    assert stat.S_IMODE((shop / ".env").stat().st_mode) == 0o600
    assert "next: segmint doctor --config shop/segmint.toml" in done.stdout


def test_init_asks_when_options_are_missing(cli: Cli, tmp_path: Path) -> None:
    cdnow, _ = exports(tmp_path)
    answers = "\n".join([str(cdnow), "", "", "", "Europe/Paris", ""]) + "\n"
    done = cli("init", stdin=answers)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Orders export" in done.stdout and "How to read it" in done.stdout
    settings = load_settings(tmp_path / "segmint.toml")
    assert [(s.kind, s.preset) for s in settings.sources] == [("orders", "cdnow")]
    assert settings.sources[0].path == "downloads/CDNOW_sample.txt"  # inside the folder: relative
    assert settings.schedule.timezone == "Europe/Paris"
    assert settings.alerts.recipients == []  # nobody to mail yet


def test_init_without_an_answer_or_with_a_wrong_export_says_what_to_pass(cli: Cli, tmp_path: Path) -> None:
    no_answer = cli("init", "shop")
    assert no_answer.returncode == 2
    assert no_answer.stderr.strip().startswith("error: segmint init needs an answer to 'Orders export")
    missing = cli("init", "shop", "--orders", "nothing/*.csv", "--no-input")
    assert missing.returncode == 2
    assert "error: No file matches the orders export 'nothing/*.csv'" in missing.stderr
    cdnow, _ = exports(tmp_path)
    wrong = cli("init", "shop", "--orders", str(cdnow), "--preset", "rees46", "--no-input")
    assert wrong.returncode == 2
    assert "Preset 'rees46' reads events files, not orders" in wrong.stderr
    assert not (tmp_path / "shop").exists()


def test_init_never_overwrites_without_force(cli: Cli, tmp_path: Path) -> None:
    cdnow, retail = exports(tmp_path)
    assert cli("init", "--orders", str(cdnow), "--no-input").returncode == 0
    (tmp_path / ".env").write_text("SEGMINT_ALERTS__SMTP_PASSWORD=secret\n")
    again = cli("init", "--orders", str(retail), "--no-input")
    assert again.returncode == 2
    assert "segmint.toml already exists; edit it, or pass --force" in again.stderr
    assert (tmp_path / ".env").read_text() == "SEGMINT_ALERTS__SMTP_PASSWORD=secret\n"
    forced = cli("init", "--orders", str(retail), "--no-input", "--force")
    assert forced.returncode == 0, forced.stderr
    assert load_settings(tmp_path / "segmint.toml").sources[0].preset == "online_retail"


def test_init_takes_events_with_their_own_preset(cli: Cli, tmp_path: Path) -> None:
    _, retail = exports(tmp_path)
    events = tmp_path / "downloads" / "events.csv"
    shutil.copy(REAL / "rees46_sample" / "2019-Oct-head1000.csv", events)
    done = cli("init", "--orders", str(retail), "--events", str(events), "--no-input")
    assert done.returncode == 0, done.stderr
    settings = load_settings(tmp_path / "segmint.toml")
    assert [(s.name, s.kind, s.preset) for s in settings.sources] == [
        ("shop", "orders", "online_retail"),
        ("web", "events", "rees46"),
    ]


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_are_the_top_level_example_files(name: str) -> None:
    # One source of truth: in a checkout, init reads the top-level files; the wheel carries copies of them
    # (tests/test_packaging.py checks the copies).
    assert template_path(name) == ROOT / name
