"""The nightly flow as a real Prefect flow run against a temporary Prefect server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from segmint.cli import load_flow_module
from segmint.warehouse import connect


def small_shop(tmp_path: Path) -> Path:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "orders.csv").write_text(
        "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price\n"
        "O1,1,C1,2024-05-01 10:00:00,P1,2,3.00\n"
        "O2,1,C2,2024-05-02 10:00:00,P2,1,5.00\n"
        "O3,1,C1,not a date,P2,1,5.00\n",
        encoding="utf-8",
    )
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'incoming/*.csv'\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.usefixtures("prefect_server")
def test_nightly_flow_records_a_run_and_is_visible_in_prefect(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    nightly = load_flow_module("nightly").nightly
    outcome = nightly(config=str(small_shop(tmp_path)), as_of="2024-05-02")
    assert outcome.status == "completed"
    assert [(f.rows_read, f.rows_loaded, f.rows_quarantined) for f in outcome.files] == [(3, 2, 1)]
    with connect(tmp_path / "wh.duckdb") as con:
        runs = con.execute(
            "select run_id, flow, as_of::varchar, status, finished_at is not null from runs"
        ).fetchall()
    assert runs == [(outcome.run_id, "nightly", "2024-05-02", "completed", True)]

    async def flow_runs() -> list[tuple[str, str]]:
        async with get_client() as client:
            found = await client.read_flow_runs()
            return [(r.name, r.state_name or "") for r in found if r.parameters.get("as_of") == "2024-05-02"]

    states = asyncio.run(flow_runs())
    assert states and all(state == "Completed" for _, state in states)
