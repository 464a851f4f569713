"""A real `segmint run nightly` whose alert fails on a webhook and an SMTP server that quote the secrets they
were given: no secret is left in the output, the warehouse (alerts_sent, runs, every table), Prefect's own
database (its flow run logs included) or any file the night wrote (data docs, report)."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import shops
from leaky_servers import failing_smtp, failing_webhook
from segmint.errors import EXIT_DATA_HELD
from segmint.warehouse import connect


def files_holding(folder: Path, needles: list[bytes]) -> list[str]:
    """Every file under `folder` whose bytes contain one of `needles`."""
    return [
        f"{path}: {needle.decode()}"
        for path in folder.rglob("*")
        if path.is_file()
        for needle in needles
        if needle in path.read_bytes()
    ]


@pytest.mark.slow
def test_no_secret_survives_a_night_whose_alerts_fail(tmp_path: Path) -> None:
    password = f"pw-{secrets.token_urlsafe(16)}"
    token = f"xoxb-{secrets.token_urlsafe(18)}"
    signature = f"sig-{secrets.token_urlsafe(12)}"
    shop, prefect_home = tmp_path / "shop", tmp_path / "prefect"
    shape = shops.ShopShape(customers=60, days=90, stale_days=10, events=False)
    with failing_smtp() as smtp, failing_webhook() as hook:
        url = f"http://127.0.0.1:{hook.port}/services/T0AAAA1/B0BBBB2/{token}?key={signature}"
        alerts = (
            f"[alerts]\nsmtp_host = '127.0.0.1'\nsmtp_port = {smtp.port}\nsmtp_user = 'shop'\n"
            "recipients = ['owner@shop.example']\nsender = 'Shop <shop@shop.example>'\n"
            "retries = 1\nretry_backoff_seconds = 0.01\n"
        )
        config = shops.write_shop(shop, shape, extra=alerts)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env |= {
            "PREFECT_HOME": str(prefect_home),  # its own database, to search afterwards
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # segmint's log lines go into the flow run's logs in Prefect's database too
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_LOGGING_EXTRA_LOGGERS": "segmint",
            "SEGMINT_ALERTS__SMTP_PASSWORD": password,
            "SEGMINT_ALERTS__WEBHOOK_URL": url,
            "COLUMNS": "200",
        }
        night = ["run", "nightly", "--config", str(config), "--as-of", shape.end.isoformat()]
        done = subprocess.run(
            [sys.executable, "-c", "from segmint.cli import main; main()", *night],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert smtp.calls >= 2 and hook.calls == 2, done.stdout + done.stderr  # 1 + 1 retry, each failed
    output = done.stdout + done.stderr
    # Ten days without data: the freshness check holds the night and the alert goes out (and fails).
    assert done.returncode == EXIT_DATA_HELD, output
    needles = [password, token, signature, "/services/T0AAAA1"]

    assert not [n for n in needles if n in output], output
    with connect(shop / "warehouse.duckdb") as con:
        sent = con.execute(
            "select channel, target, success, error from alerts_sent order by channel"
        ).fetchall()
        assert [(c, t, s) for c, t, s, _ in sent] == [
            ("email", "owner@shop.example", False),
            ("webhook", f"127.0.0.1:{hook.port}", False),
        ]
        assert "5.7.8 login shop:[redacted] rejected" in str(sent[0][3]), "the server did quote the password"
        assert "no such hook [redacted]" in str(sent[1][3]), "the server did quote the path"
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]
        everything = "".join(str(con.execute(f'select * from "{t}"').fetchall()) for t in tables)
    assert "runs" in tables and "alerts_sent" in tables
    assert not [n for n in needles if n in everything]

    database = prefect_home / "prefect.db"
    assert database.is_file()
    with sqlite3.connect(database) as prefect:
        logs = [r[0] for r in prefect.execute("select message from log").fetchall()]
        runs = prefect.execute("select count(*) from flow_run").fetchone()
    assert runs == (1,)
    assert any("alert by webhook to 127.0.0.1" in m and "[redacted]" in m for m in logs), logs
    # Byte for byte: Prefect's database and every file of the night (data docs, report, ...).
    leaks = files_holding(prefect_home, [n.encode() for n in needles])
    leaks += files_holding(shop, [n.encode() for n in needles])
    assert not leaks
    assert list(shop.rglob("*.html")), "the data docs and report were searched"
