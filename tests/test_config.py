"""Settings: TOML file, environment overrides, paths relative to the file, one-sentence errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segmint.config import load_settings
from segmint.errors import ConfigError

BASIC = """
[warehouse]
path = "data/warehouse.duckdb"
[[sources]]
name = "shop"
kind = "orders"
path = "incoming/*.csv.gz"
preset = "online_retail"
"""


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "segmint.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, BASIC))
    assert settings.warehouse.path == tmp_path / "conf" / "data" / "warehouse.duckdb"
    assert settings.output_dir == tmp_path / "conf" / "data"
    assert settings.sources[0].preset == "online_retail"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMINT_WAREHOUSE__PATH", "/srv/shop.duckdb")
    monkeypatch.setenv("SEGMINT_ALERTS__SMTP_PASSWORD", "s3cret")
    settings = load_settings(write_config(tmp_path, BASIC))
    assert settings.warehouse.path == Path("/srv/shop.duckdb")
    assert settings.alerts.smtp_password is not None
    assert settings.alerts.smtp_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASIC + "\n[warehouse2]\npath = 'x'\n", "unknown key 'warehouse2'"),
        (BASIC.replace('path = "data', 'pth = "data'), "unknown key 'warehouse.pth'"),
        (BASIC.replace("online_retail", "magento"), "key 'sources.0.preset': unknown preset 'magento'"),
        (BASIC.replace('kind = "orders"', 'kind = "refunds"'), "key 'sources.0.kind'"),
        ("[warehouse\n", "not valid TOML"),
    ],
)
def test_bad_config_gives_one_sentence_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write_config(tmp_path, text))
    assert expected in str(info.value)
    assert str(info.value).count("\n") == 0
    assert info.value.exit_code == 2


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"not found; run `segmint init` in .* to write it from your exports"
    ) as info:
        load_settings(tmp_path / "nope.toml")
    assert "example" not in str(info.value)  # a shop's folder has no example file to copy


def test_example_config_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "segmint.example.toml"
    settings = load_settings(example)
    assert [s.preset for s in settings.sources] == ["online_retail", "canonical"]


TOKEN = "xoxb-7731-Zq8RkT2mW9vLp4Ns"  # token-shaped: what a chat webhook's path carries


@pytest.mark.parametrize(
    ("alerts", "env", "expected"),
    [
        ('sender = "shop@example.com\\r\\nBcc: all@example.com"', {},
         "key 'alerts.sender': 'shop@example.com\\r\\nBcc: all@example.com' contains a line break"),
        ('recipients = ["owner@example.com", "owner@example.com\\nBcc: x@example.com"]', {},
         "key 'alerts.recipients.1': "),
        ('recipients = ["owner@example.com", "owner"]', {}, "key 'alerts.recipients.1': 'owner' is not an e-mail"),
        ('recipients = ["a@example.com, b@example.com"]', {}, "is not one e-mail address"),
        ('report_recipients = ["boss at example.com"]', {}, "key 'alerts.report_recipients.0': "),
        ("sender = 'Shop <@example.com>'", {}, "key 'alerts.sender': "),
        ("", {"SEGMINT_ALERTS__SENDER": "x@example.com\r\nSubject: hi"}, "key 'alerts.sender': "),
        ("", {"SEGMINT_ALERTS__WEBHOOK_URL": f"hooks.slack.com/services/T0/B0/{TOKEN}"},
         "key 'alerts.webhook_url': not an http(s) URL: it has no scheme; write it as https://host/path"),
        ("", {"SEGMINT_ALERTS__WEBHOOK_URL": f"ftp://hooks.example.com/{TOKEN}"}, "its scheme is 'ftp'"),
        ("", {"SEGMINT_ALERTS__WEBHOOK_URL": f"https://bot:{TOKEN}@hooks.example.com/x"},
         "the URL carries a user name or password before the host"),
        ("", {"SEGMINT_ALERTS__WEBHOOK_URL": f"https:///{TOKEN}"}, "the URL has no host"),
        ("", {"SEGMINT_ALERTS__WEBHOOK_URL": f"https://hooks.example.com/{TOKEN}\r\nX: y"}, "line break"),
    ],
)  # fmt: skip
def test_alert_settings_are_validated_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alerts: str, env: dict[str, str], expected: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings(write_config(tmp_path, BASIC + "\n[alerts]\n" + alerts + "\n"))
    message = str(info.value)
    assert expected in message
    assert message.count("\n") == 0 and message.count("\r") == 0, "one line"
    assert TOKEN not in message, "the webhook's token is never repeated"
    assert info.value.exit_code == 2


def test_good_alert_settings_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMINT_ALERTS__WEBHOOK_URL", f"https://hooks.slack.com/services/T0/B0/{TOKEN}?x=1")
    text = BASIC + '\n[alerts]\nsender = "Our shop <shop@example.com>"\nrecipients = ["owner@example.com"]\n'
    settings = load_settings(write_config(tmp_path, text))
    assert settings.alerts.sender == "Our shop <shop@example.com>"
    assert settings.alerts.sender_address == "shop@example.com"
    assert settings.alerts.recipients == ["owner@example.com"]
    assert settings.alerts.from_address == "Our shop <shop@example.com>"


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        # An SMTP login that is an address: most providers relay mail only from it.
        ("smtp_user = 'shop@myshop.example'\nrecipients = ['owner@gmail.example']", "segmint <shop@myshop.example>"),
        # Else the first recipient (the alert recipients before the report's).
        ("smtp_user = 'relay-user'\nrecipients = ['Owner <owner@myshop.example>', 'b@x.example']",
         "segmint <owner@myshop.example>"),
        ("report_recipients = ['weekly@myshop.example']", "segmint <weekly@myshop.example>"),
        ("", None),  # nothing to send from (nor to): `segmint doctor` says alerts need a sender
    ],
)  # fmt: skip
def test_the_sender_defaults_to_a_real_address_of_the_config(
    tmp_path: Path, alerts: str, expected: str | None
) -> None:
    settings = load_settings(write_config(tmp_path, BASIC + "\n[alerts]\n" + alerts + "\n"))
    assert settings.alerts.sender is None
    assert settings.alerts.from_address == expected
    assert settings.alerts.sender_address == (expected or "").removeprefix("segmint <").removesuffix(">")


def test_report_url_is_an_http_url_and_names_each_nights_report(tmp_path: Path) -> None:
    from datetime import date

    text = BASIC + "\n[report]\nurl = 'https://shop.example/segmint/'\n"
    report = load_settings(write_config(tmp_path, text)).report
    assert report.night_url(date(2026, 12, 2)) == "https://shop.example/segmint/2026-12-02/report.html"
    assert load_settings(write_config(tmp_path, BASIC)).report.night_url(date(2026, 12, 2)) is None
    with pytest.raises(ConfigError) as info:
        load_settings(write_config(tmp_path, BASIC + "\n[report]\nurl = '/srv/segmint/reports'\n"))
    assert "key 'report.url': '/srv/segmint/reports' is not an http(s) URL" in str(info.value)


def test_prefect_home_can_put_prefects_database_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segmint.prefect_env import configure_prefect

    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'data/wh.duckdb'\n[prefect]\nhome = 'elsewhere/prefect'\n", encoding="utf-8"
    )
    settings = load_settings(config)
    assert settings.prefect_home == tmp_path / "elsewhere" / "prefect"
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    configure_prefect(settings.output_dir, settings.prefect_home)
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "elsewhere" / "prefect")
    config.write_text("[warehouse]\npath = 'data/wh.duckdb'\n", encoding="utf-8")
    assert load_settings(config).prefect_home == tmp_path / "data" / "prefect"
