"""CLI conventions: usage errors in one line with exit 2, --version, -q / -v, lines not cut at 80 columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.conftest import REAL, Cli
from segmint import __version__


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ingest", "--bogus"], "error: No such option: --bogus (see `segmint ingest --help`)"),
        (["replay"], "error: Missing argument 'run_id'."),
        (["generate", "--customers", "many"], "error: Invalid value for '--customers'"),
        (["status", "--last", "0"], "error: Invalid value for '--last'"),
        (["nosuch"], "error: No such command 'nosuch'."),
        (
            ["-q", "-v", "status"],
            "error: Invalid value for -q / -v: use either --quiet or --verbose, not both",
        ),
    ],
    ids=["unknown option", "missing argument", "bad value", "out of range", "unknown command", "-q and -v"],
)
def test_usage_errors_are_one_line_on_stderr_with_exit_2(cli: Cli, args: list[str], expected: str) -> None:
    done = cli(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(expected), lines[0]


def test_version(cli: Cli) -> None:
    done = cli("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"segmint {__version__}\n", "")


def test_no_command_prints_the_help(cli: Cli) -> None:
    done = cli()
    assert done.returncode == 2
    assert "Usage: segmint" in done.stdout + done.stderr and "doctor" in done.stdout + done.stderr


def test_quiet_drops_tables_and_progress_and_verbose_keeps_them(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price\n"
        "O1,1,C1,2024-05-01 10:00:00,P1,2,3.00\n",
        encoding="utf-8",
    )
    (tmp_path / "segmint.toml").write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'orders.csv'\n",
        encoding="utf-8",
    )
    normal = cli("ingest")
    assert normal.returncode == 0, normal.stderr
    assert "Ingest" in normal.stdout and "shop: loading" in normal.stderr
    (tmp_path / "orders.csv").write_text(
        "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price\n"
        "O2,1,C1,2024-05-02 10:00:00,P1,2,3.00\n",
        encoding="utf-8",
    )
    quiet = cli("-q", "ingest")
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")
    verbose = cli("--verbose", "ingest")
    assert verbose.returncode == 0 and "Ingest" in verbose.stdout


def test_lines_are_not_cut_at_80_columns_when_stdout_is_not_a_terminal(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / ("a-shop-folder-with-a-name-long-enough-to-pass-eighty-columns-" + "x" * 40)
    export = folder / "exports" / "CDNOW_sample.txt"
    export.parent.mkdir(parents=True)
    export.write_bytes((REAL / "cdnow" / "CDNOW_sample.txt").read_bytes())
    done = cli("init", str(folder), "--orders", str(export), "--no-input")
    assert done.returncode == 0, done.stderr
    expected = "orders: exports/CDNOW_sample.txt (preset cdnow)"
    assert expected in done.stdout.splitlines()
    assert f"wrote {folder / 'segmint.toml'}" in done.stdout.splitlines()
    assert len(max(done.stdout.splitlines(), key=len)) > 80
