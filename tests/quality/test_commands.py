"""`segmint validate`, `segmint ingest` holding a batch and `segmint replay`, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def segmint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        # The export is written a moment before: it loads at once, without the settle wait.
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "SEGMINT_INGEST__SETTLE_SECONDS": "0"},
    )


def shop(tmp_path: Path, negative: int) -> tuple[Path, Path]:
    (tmp_path / "orders").mkdir()
    path = tmp_path / "orders" / "orders_2026-11-20.csv"
    write_orders(path, negative)
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n"
        "[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'orders/*.csv'\n",
        encoding="utf-8",
    )
    return config, path


def write_orders(path: Path, negative: int) -> None:
    lines = [HEADER] + [
        f"O{i},1,C{i % 7},2026-11-20 10:{i:02d}:00,P1,1,{-3.0 if i <= negative else 3.0},EUR"
        for i in range(1, 41)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_held_ingest_is_replayed_once_the_export_is_fixed(tmp_path: Path) -> None:
    config, path = shop(tmp_path, negative=10)
    ingest = segmint("ingest", "--config", str(config))
    assert ingest.returncode == 1, ingest.stderr
    assert "shop: 40 read = 0 loaded + 0 quarantined + 0 already loaded + 40 held back" in ingest.stdout
    run_id = ingest.stdout.split("segmint replay ")[1].split("`")[0]

    nothing_fixed = segmint("replay", run_id, "--config", str(config))
    assert nothing_fixed.returncode == 1
    assert "Unit prices are not negative (10 of 40 rows, 25.0%)" in nothing_fixed.stdout
    assert f"still held: orders_2026-11-20.csv; fix the export and run `segmint replay {run_id}` again" in (
        nothing_fixed.stdout.replace("\n", " ")
    )

    write_orders(path, negative=0)
    fixed = segmint("replay", run_id, "--config", str(config))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "shop: 40 read = 40 loaded + 0 quarantined + 0 already loaded" in fixed.stdout
    assert f"every batch of run {run_id} is published" in fixed.stdout

    unknown = segmint("replay", "nope", "--config", str(config))
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr.strip() == (
        "error: There is no run 'nope' in the warehouse; copy the run id from the alert."
    )


def test_validate_prints_a_summary_and_fails_on_a_broken_warehouse(tmp_path: Path) -> None:
    config, _ = shop(tmp_path, negative=0)
    assert segmint("ingest", "--config", str(config)).returncode == 0
    clean = segmint("validate", "--config", str(config))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "│ orders      │ warehouse │" in clean.stdout and "0 critical failed" in clean.stdout
    assert "customer_features: not computed yet" in clean.stdout
    assert f"data docs: {tmp_path / 'docs' / 'index.html'}" in clean.stdout

    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("insert into order_lines values ('O999', 1, 'P1', null, null, 1, 3, 3)")
    broken = segmint("validate", "--config", str(config))
    assert broken.returncode == 1
    assert (
        "critical order_lines: Every order line belongs to a loaded order (1 of 41 rows, 2.4%)"
        in broken.stdout
    )
    assert "'order_missing': 'O999'" in broken.stdout
