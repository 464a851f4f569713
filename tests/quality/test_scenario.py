"""The corrupted night, end to end through real Prefect flow runs on generated daily exports.

Duplicated order ids, negative prices and a day of events missing: the night is blocked, yesterday's
segments stay published, the alert names the three problems; after `segmint replay` of the fixed batch
the next night publishes; row accounting holds throughout.
"""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from segmint.cli import load_flow_module, main
from segmint.synth.generate import generate
from segmint.warehouse import connect

END = date(2026, 11, 20)
DAYS = 31
START = END - timedelta(days=DAYS - 1)


def day(n: int) -> date:
    """The n-th generated day, from 1."""
    return START + timedelta(days=n - 1)


class Shop:
    """A shop folder that receives the generator's daily exports night by night."""

    def __init__(self, root: Path, smtp_port: int) -> None:
        self.gen, self.dir = root / "generated", root / "shop"
        generate(self.gen, customers=600, days=DAYS, end=END, seed=11, split="day")
        for kind in ("orders", "events", "customers"):
            (self.dir / kind).mkdir(parents=True)
        shutil.copy(self.gen / "customers" / "customers.csv", self.dir / "customers")
        config = (self.gen / "segmint.toml").read_text(encoding="utf-8")
        self.config = self.dir / "segmint.toml"
        self.config.write_text(
            config
            + f"\n[alerts]\nsmtp_host = '127.0.0.1'\nsmtp_port = {smtp_port}\nsender = 'segmint@shop.example'\n"
            "recipients = ['owner@shop.example']\nretries = 1\nretry_backoff_seconds = 0.05\n"
            # Re-cluster monthly and assign customers to those segments in between, as a shop would.
            "[segmentation]\nrecluster_every_days = 30\n"
            # A 600-customer shop swings by more than half between weekdays; a missing export is still 0 rows.
            "[quality]\nvolume_band = 0.75\n",
            encoding="utf-8",
        )

    def deliver(self, n: int, kinds: tuple[str, ...] = ("orders", "events")) -> None:
        for kind in kinds:
            name = f"{kind}_{day(n)}.csv"
            shutil.copy(self.gen / kind / name, self.dir / kind / name)

    def corrupt_orders(self, n: int) -> Path:
        """Day n's orders as a broken export: lines repeated, order ids reused, prices negative."""
        rows = pl.read_csv(self.gen / "orders" / f"orders_{day(n)}.csv", infer_schema=False)
        earlier = pl.read_csv(self.gen / "orders" / f"orders_{day(n - 1)}.csv", infer_schema=False)
        negative = rows.with_columns(
            pl.when(pl.int_range(pl.len()) % 4 == 0)
            .then("-" + pl.col("unit_price"))
            .otherwise(pl.col("unit_price"))
            .alias("unit_price")
        )
        reused = earlier.head(20).with_columns(pl.lit(f"{day(n)} 09:00:00").alias("ordered_at"))
        path = self.dir / "orders" / f"orders_{day(n)}.csv"
        pl.concat([negative, rows.head(rows.height // 3), reused]).write_csv(path)
        return path

    def night(self, n: int) -> Any:
        return load_flow_module("nightly").nightly(config=str(self.config), as_of=day(n).isoformat())


class Heard(logging.Handler):
    """Keeps the messages logged to the logger it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def published(con: duckdb.DuckDBPyConnection) -> list[tuple[str, date]]:
    return con.execute("select run_id, as_of from segment_runs where published order by as_of").fetchall()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_a_corrupted_night_is_blocked_alerted_and_replayed(
    tmp_path: Path, smtp: Any, webhook: Any, monkeypatch: pytest.MonkeyPatch, accounting: Any
) -> None:
    monkeypatch.setenv("SEGMINT_ALERTS__WEBHOOK_URL", webhook.url)  # a secret: from the environment only
    shop = Shop(tmp_path, smtp.port)
    warehouse = shop.dir / "warehouse.duckdb"

    # History: the first 26 days in one night, then three ordinary nights. Nothing is sent.
    for n in range(1, 27):
        shop.deliver(n)
    for n in (26, 27, 28, 29):
        if n > 26:
            shop.deliver(n)
        outcome = shop.night(n)
        assert outcome.status == "completed", [
            (c.suite, c.batch, c.key, c.observed) for c in outcome.checks if not c.success
        ]
        assert outcome.quality.ok and outcome.quality.line.startswith("data quality OK: ")
        assert outcome.segments.publish, outcome.segments.reasons
    assert smtp.received == [] and webhook.attempts == 0
    with connect(warehouse, read_only=True) as con:
        yesterday = published(con)[-1]
        assert yesterday[1] == day(29)
        accounting(con)

    # Night 30: the orders export is broken and the events export never arrived.
    shop.corrupt_orders(30)
    outcome = shop.night(30)
    assert outcome.status == "held"
    [held] = [f for f in outcome.files if f.status == "held"]
    assert held.path.name == f"orders_{day(30)}.csv" and held.rows_held == held.rows_read
    assert not outcome.segments.publish
    assert outcome.segments.kept_run_id == yesterday[0]
    # Nor are predictions refreshed: campaigns keep targeting night 29's.
    assert outcome.predictions is None and "predictions not refreshed" in "; ".join(outcome.messages)
    with connect(warehouse, read_only=True) as con:
        assert published(con)[-1] == yesterday  # yesterday's segments stay the published ones
        tonight = con.execute(
            "select published, status_reason from segment_runs where as_of = ?", [day(30)]
        ).fetchall()
        assert tonight and not tonight[-1][0] and tonight[-1][1].startswith("held: failed critical check")
        reasons = con.execute(
            "select published, reasons from publication_decisions where run_id = ?", [outcome.run_id]
        ).fetchone()
        assert reasons is not None and not reasons[0]
        assert con.execute(
            "select count(*) from orders where source_file like ?", [f"%{day(30)}%"]
        ).fetchone() == (0,)
        assert con.execute("select max(as_of) from prediction_runs").fetchone() == (day(29),)
        accounting(con)

    # The alert names the three problems, by email and by webhook.
    [mail] = smtp.received
    body = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert "Order lines are not duplicated" in body  # duplicated order ids
    assert "Orders already loaded from an earlier file come again unchanged" in body  # reused ids, changed
    assert "Unit prices are not negative" in body  # negative prices
    assert "no day of events missing" in body and "0 rows tonight from source 'events'" in body
    assert f"segmint replay {outcome.run_id}" in body
    assert f"segments of {day(29)}" in body and "stay published" in body
    [hook] = webhook.bodies
    assert hook["text"] == mail.message["Subject"]

    # The owner re-exports the day correctly and replays the held run.
    shop.deliver(30, ("orders",))
    main(["replay", outcome.run_id, "--config", str(shop.config)])  # exits non-zero if anything stays held
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select status from held_batches").fetchall() == [("superseded",)]
        accounting(con)

    # The next night (with the late events of night 30) publishes again; nothing more is sent.
    shop.deliver(30, ("events",))
    shop.deliver(31)
    flow_log = logging.getLogger("prefect.flow_runs")  # Prefect's run logger does not propagate
    heard = Heard()
    flow_log.addHandler(heard)
    try:
        outcome = shop.night(31)
    finally:
        flow_log.removeHandler(heard)
    quality_lines = [m for m in heard.messages if "data quality" in m]
    assert quality_lines == [outcome.quality.line]  # one OK line, nothing else about quality
    assert outcome.status == "completed", outcome.messages
    assert outcome.quality.ok and outcome.segments.publish
    assert len(smtp.received) == 1 and len(webhook.bodies) == 1
    with connect(warehouse, read_only=True) as con:
        assert published(con)[-1][1] == day(31)
        accounting(con)
