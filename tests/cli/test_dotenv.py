"""`.env` beside segmint.toml: the environment beats .env, which beats the TOML file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segmint.config import load_settings
from segmint.errors import ConfigError


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SEGMINT_"):
            monkeypatch.delenv(key)
    (tmp_path / "segmint.toml").write_text(
        "[alerts]\nsmtp_host = 'from-toml'\nsmtp_port = 25\nsmtp_user = 'shop'\n", encoding="utf-8"
    )
    return tmp_path


def test_env_beats_dotenv_beats_toml(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = folder / "segmint.toml"
    assert load_settings(config).alerts.smtp_host == "from-toml"
    (folder / ".env").write_text(
        "# secrets\nSEGMINT_ALERTS__SMTP_HOST=from-dotenv\nSEGMINT_ALERTS__SMTP_PASSWORD=s3cret\n"
        "SEGMINT_ALERTS__WEBHOOK_URL=\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.alerts.smtp_host == "from-dotenv"
    assert settings.alerts.smtp_password is not None
    assert settings.alerts.smtp_password.get_secret_value() == "s3cret"
    assert settings.alerts.webhook_url is None  # an empty line is unset, not ""
    assert settings.alerts.smtp_user == "shop"  # TOML keys .env does not name stay
    monkeypatch.setenv("SEGMINT_ALERTS__SMTP_HOST", "from-env")
    assert load_settings(config).alerts.smtp_host == "from-env"


def test_dotenv_is_read_from_the_configs_folder_not_the_current_one(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / ".env").write_text("SEGMINT_ALERTS__SMTP_HOST=beside-config\n", encoding="utf-8")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / ".env").write_text("SEGMINT_ALERTS__SMTP_HOST=current-folder\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    assert load_settings(folder / "segmint.toml").alerts.smtp_host == "beside-config"


def test_a_misspelt_dotenv_setting_names_the_file_and_the_variable(folder: Path) -> None:
    (folder / ".env").write_text("SEGMINT_ALERTS__SMTP_HOTS=x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.env: unknown setting SEGMINT_ALERTS__SMTP_HOTS; remove it"):
        load_settings(folder / "segmint.toml")


def test_prefect_lines_are_passed_on_and_the_environment_wins(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set, then unset: monkeypatch restores the variable's absence after the test (load_settings sets it).
    monkeypatch.setenv("PREFECT_API_URL", "unset-below")
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "ERROR")
    (folder / ".env").write_text(
        "PREFECT_API_URL=http://127.0.0.1:4200/api\nPREFECT_LOGGING_LEVEL=DEBUG\nOTHER_TOOL=1\n",
        encoding="utf-8",
    )
    load_settings(folder / "segmint.toml")  # other tools' lines are not segmint settings: no error
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "ERROR"
    assert "OTHER_TOOL" not in os.environ
