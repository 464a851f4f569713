"""Prefect as its users expect it: a run named by its night, INFO logs (segmint's own included) and
artifacts in the run, queried back from a real Prefect server through its client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from segmint import run_artifacts
from segmint.ingest import FileResult
from segmint.pipeline import NightlyOutcome, WarehouseTotals
from segmint.prefect_env import FLOW_RUN_ENV, configure_prefect

ORDERS = (
    "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price\n"
    "O1,1,C1,2024-05-01 10:00:00,P1,2,3.00\n"
    "O2,1,C2,2024-05-02 10:00:00,P2,1,5.00\n"
    "O3,1,C1,not a date,P2,1,5.00\n"
)


def small_shop(folder: Path) -> Path:
    incoming = folder / "incoming"
    incoming.mkdir()
    (incoming / "orders.csv").write_text(ORDERS, encoding="utf-8")
    config = folder / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'incoming/*.csv'\n",
        encoding="utf-8",
    )
    return config


def run_cli(*args: str, api: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")}
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "PREFECT_API_URL": api, "PREFECT_HOME": str(home)},
    )


def flow_run_record(name: str, config: Path, wait_for: str = "nightly run") -> dict[str, Any]:
    """The flow run with this name over this config, its logs and its artifacts, as the Prefect server has
    them (other tests on the same server may run the same night over their own config)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            ours = [r for r in runs if Path(r.parameters.get("config", "")).resolve() == config.resolve()]
            assert len(ours) == 1, [(r.name, r.parameters) for r in runs]
            run = ours[0]
            # Logs reach the server in batches: the run is over, but its last batch may still be in flight
            # (seconds on a machine busy with the other test worker).
            for _ in range(120):
                logs = await client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
                )
                if any(wait_for in log.message for log in logs):
                    break
                await asyncio.sleep(0.5)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            return {"run": run, "logs": logs, "artifacts": artifacts}

    return asyncio.run(read())


def test_a_nightly_run_is_named_by_its_night_and_has_info_logs_and_artifacts(
    tmp_path: Path, prefect_api_url: str
) -> None:
    """`segmint run nightly` against a real server, then the run read back with Prefect's client."""
    config = small_shop(tmp_path)
    done = run_cli(
        "run",
        "nightly",
        "--config",
        str(config),
        "--as-of",
        "2024-05-02",
        api=prefect_api_url,
        home=tmp_path / "p",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The terminal keeps its own summary: Prefect's INFO lines go to the run, not the console.
    assert "Beginning flow run" not in done.stderr and "Finished in state" not in done.stderr

    found = flow_run_record("nightly 2024-05-02", config)
    assert found["run"].state_name == "Completed"
    logs = found["logs"]
    assert all(log.level >= 20 for log in logs)
    messages = [log.message for log in logs]
    assert any(m.startswith("nightly run ") and m.endswith(": completed") for m in messages), messages
    assert any(log.name.startswith("segmint.") and "loading" in log.message for log in logs), [
        (log.name, log.message) for log in logs
    ]
    assert any(m.startswith("data quality OK") for m in messages), messages

    by_key = {a.key: a for a in found["artifacts"]}
    assert set(by_key) == {
        run_artifacts.NIGHTLY_SUMMARY,
        run_artifacts.NIGHTLY_FILES,
        run_artifacts.NIGHTLY_REPORT,
    }
    summary = by_key[run_artifacts.NIGHTLY_SUMMARY]
    assert summary.type == "markdown"
    assert "# Nightly 2024-05-02: completed" in summary.data
    assert "| Data quality | data quality OK" in summary.data
    assert "| Rows | 3 read, 2 loaded, 1 quarantined, 0 held |" in summary.data
    table = by_key[run_artifacts.NIGHTLY_FILES]
    assert table.type == "table"
    rows = table.data if isinstance(table.data, list) else __import__("json").loads(table.data)
    assert [(r["file"], r["status"], r["rows_read"], r["rows_loaded"]) for r in rows] == [
        (str(tmp_path / "incoming" / "orders.csv"), "loaded", 3, 2)
    ]
    link = by_key[run_artifacts.NIGHTLY_REPORT]
    assert link.type == "markdown"  # Prefect stores a link artifact as a markdown link
    report = tmp_path / "reports" / "2024-05-02" / "report.html"
    assert report.is_file()
    assert report.as_uri() in str(link.data)


@pytest.mark.usefixtures("prefect_server")
def test_a_run_without_as_of_is_named_by_the_night_it_computes(tmp_path: Path) -> None:
    from prefect import flow
    from prefect.runtime import flow_run

    from segmint.prefect_env import run_name

    config = tmp_path / "segmint.toml"
    config.write_text("", encoding="utf-8")
    seen: list[Path] = []

    def night(path: Path) -> Any:
        seen.append(path)
        from datetime import date

        return date(2026, 6, 30)

    @flow(flow_run_name=run_name("nightly", night))
    def probe(config: str = "segmint.toml", as_of: str | None = None) -> str:
        return str(flow_run.name)

    assert probe(config=str(config)) == "nightly 2026-06-30"
    assert seen == [config]
    assert probe(config=str(config), as_of="2024-01-31") == "nightly 2024-01-31"


def test_configure_prefect_sets_info_logging_for_flow_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [*FLOW_RUN_ENV, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "PREFECT_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_LOGGING_EXTRA_LOGGERS", "mine")  # what the user set wins
    configure_prefect(tmp_path)
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "INFO"
    assert os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] == "mine"
    assert os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "WARNING"


def test_the_summary_names_the_key_numbers_and_escapes_table_cells(tmp_path: Path) -> None:
    from datetime import date

    outcome = NightlyOutcome(run_id="r1", as_of=date(2026, 6, 30), status="held")
    outcome.files = [
        FileResult("shop", tmp_path / "a.csv", "loaded", rows_read=10, rows_loaded=9, rows_quarantined=1),
        FileResult(
            "shop", tmp_path / "b.csv", "held", rows_read=5, rows_held=5, message="b.csv held back: x | y"
        ),
    ]
    outcome.totals = WarehouseTotals(customers=7, orders=12, order_lines=30, events=0, revenue=1234.5)
    outcome.messages = ["b.csv held back: x | y"]
    text = run_artifacts.nightly_markdown(outcome)
    assert text.startswith("# Nightly 2026-06-30: held\n")
    assert "| Files | 1 held, 1 loaded |" in text
    assert "| Rows | 15 read, 9 loaded, 1 quarantined, 5 held |" in text
    assert "| Net revenue | 1,234.50 |" in text
    assert "- b.csv held back: x \\| y" in text
    assert [r["status"] for r in run_artifacts.files_table(outcome)] == ["loaded", "held"]


@pytest.mark.usefixtures("prefect_server")
def test_a_weekly_run_is_named_by_its_week_and_links_its_report(shop_config: Path) -> None:
    from segmint.cli import load_flow_module

    outcome = load_flow_module("weekly_report").weekly_report(config=str(shop_config), as_of="2026-11-08")
    found = flow_run_record("weekly 2026-11-08", shop_config, wait_for="weekly report for 2026-11-08")
    assert found["run"].state_name == "Completed"
    assert any(log.message.startswith("weekly report for 2026-11-08: ") for log in found["logs"])
    (link,) = found["artifacts"]
    assert (link.key, link.type) == (run_artifacts.WEEKLY_REPORT, "markdown")  # a markdown link
    assert outcome.path.as_uri() in str(link.data) and outcome.subject in str(link.data)
