"""The command line as a user runs it: a real subprocess, exit codes and one-sentence errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from segmint.cli import app

REAL = Path(__file__).resolve().parent / "data" / "real"


def segmint(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_every_command_has_help_text() -> None:
    import typer.main

    group = typer.main.get_command(app)
    seen = []

    def walk(command: object, path: str) -> None:
        sub = getattr(command, "commands", None)
        for name, child in (sub or {}).items():
            walk(child, f"{path} {name}")
        if not sub:
            seen.append(path)
            assert (getattr(command, "help", None) or "").strip(), f"{path} has no help text"

    walk(group, "segmint")
    assert {"segmint ingest", "segmint generate", "segmint run nightly"} <= set(seen)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[warehouse]\npath = 'w.duckdb'\ncolour = 'red'\n", "unknown key 'warehouse.colour'"),
        (
            "[[sources]]\nname = 'a'\nkind = 'orders'\npath = 'nothing/*.csv'\npreset = 'canonical'\n",
            "Source 'a': no file matches 'nothing/*.csv'",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'orders'\npath = 'x.csv'\npreset = 'woo'\n",
            "unknown preset 'woo'",
        ),
    ],
)
def test_config_errors_exit_2_with_one_sentence(tmp_path: Path, config: str, expected: str) -> None:
    (tmp_path / "segmint.toml").write_text(config, encoding="utf-8")
    result = segmint("ingest", "--config", str(tmp_path / "segmint.toml"))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # one sentence, maybe wrapped once


def test_ingest_says_how_many_loaded_rows_replaced_a_version_loaded_before(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    header = "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
    (incoming / "a.csv").write_text(header + "O1,C1,2024-01-01 10:00:00,P1,1,2.00\n", encoding="utf-8")
    (tmp_path / "segmint.toml").write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\n"
        "path = 'incoming/*.csv'\non_changed = 'update'\n",
        encoding="utf-8",
    )
    assert segmint("ingest", "--config", str(tmp_path / "segmint.toml")).returncode == 0
    # The next export repeats O1 with a corrected quantity, and brings O2.
    (incoming / "b.csv").write_text(
        header + "O1,C1,2024-01-01 10:00:00,P1,3,2.00\nO2,C2,2024-01-02 10:00:00,P1,1,2.00\n",
        encoding="utf-8",
    )
    result = segmint("ingest", "--config", str(tmp_path / "segmint.toml"))
    assert result.returncode == 0, result.stdout + result.stderr
    line = " ".join(result.stdout.split())
    assert (
        "shop: 2 read = 2 loaded (1 of them replacing a version loaded before) + 0 quarantined + 0 already loaded"
        in line
    ), result.stdout


def test_ingest_prints_row_accounting_and_rejects_bad_files(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.csv").write_text(
        "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
        "O1,C1,2024-01-01 10:00:00,P1,1,2.00\nO2,C2,2024-01-02 10:00:00,P1,0,2.00\n",
        encoding="utf-8",
    )
    (incoming / "b.csv").write_text("", encoding="utf-8")
    (tmp_path / "segmint.toml").write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'incoming/*.csv'\n",
        encoding="utf-8",
    )
    result = segmint("ingest", "--config", str(tmp_path / "segmint.toml"))
    assert result.returncode == 1, result.stderr
    assert "shop: 2 read = 1 loaded + 1 quarantined + 0 already loaded" in result.stdout
    assert "b.csv: the file is empty" in result.stdout.replace("\n", " ")
    again = segmint("ingest", "--config", str(tmp_path / "segmint.toml"))
    assert "shop: 0 read = 0 loaded + 0 quarantined + 0 already loaded" in again.stdout
