"""Files still being written: a file loads once its size and mtime have stood still for settle_seconds;
one still growing is skipped with one line and loaded whole by the next run; nothing of it is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from segmint.config import SourceSettings
from segmint.ingest.load import ingest_files, settle
from segmint.warehouse import connect

NOW = datetime(2024, 6, 1, 12, 0, 0)
HEADER = "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,currency"


def line(order: int, n: int) -> str:
    return f"O{order},{n},C{order % 5},2024-05-01 10:00:00,P{n},1,2.50,EUR"


def source() -> SourceSettings:
    return SourceSettings(name="shop", kind="orders", path="*.csv")


def backdate(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def wh(tmp_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_warehouse) as con:
        yield con


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"settled files need no wait (asked to sleep {seconds} s)")


def test_a_file_older_than_settle_seconds_loads_without_waiting(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([HEADER, line(1, 1), line(2, 1)]) + "\n", encoding="utf-8")
    backdate(path, 120)
    results = ingest_files(wh, [(source(), [path])], "run-1", now=NOW, settle_seconds=30, sleep=no_sleep)
    assert [r.status for r in results] == ["loaded"]


def test_a_young_file_that_stands_still_loads_after_the_rest_of_the_wait(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([HEADER, line(1, 1)]) + "\n", encoding="utf-8")
    backdate(path, 20)
    waits: list[float] = []
    results = ingest_files(wh, [(source(), [path])], "run-1", now=NOW, settle_seconds=30, sleep=waits.append)
    assert [r.status for r in results] == ["loaded"]
    assert len(waits) == 1 and 9 < waits[0] <= 10.5  # the rest of 30 s, once, not 30 s


def test_a_split_order_still_being_written_is_skipped_then_loaded_whole(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    # The exporter has written the first two lines of order O2 when the night starts.
    path.write_text("\n".join([HEADER, line(1, 1), line(2, 1), line(2, 2)]) + "\n", encoding="utf-8")

    def exporter_goes_on(seconds: float) -> None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line(2, 3) + "\n")
        time.sleep(0.01)  # a new mtime even on coarse clocks

    first = ingest_files(wh, [(source(), [path])], "run-1", now=NOW, settle_seconds=2, sleep=exporter_goes_on)
    assert [r.status for r in first] == ["skipped"]
    assert first[0].warnings == [
        f"{path.resolve()}: still being written (it changed within settle_seconds = 2); it is skipped this run "
        "and loaded by the next once it is complete"
    ]
    assert wh.execute("select count(*) from order_lines").fetchone() == (0,)
    backdate(path, 60)  # the next night: the export has long been complete
    second = ingest_files(wh, [(source(), [path])], "run-2", now=NOW, settle_seconds=2, sleep=no_sleep)
    assert [(r.status, r.rows_loaded) for r in second] == [("loaded", 4)]
    assert wh.execute("select count(*) from order_lines where order_id = 'O2'").fetchone() == (3,)


def test_a_file_deleted_during_the_wait_is_skipped_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "\n" + line(1, 1) + "\n", encoding="utf-8")
    states = settle([path], 5, sleep=lambda seconds: path.unlink())
    assert states == {path: f"{path}: the file vanished before it was read; it is skipped this run"}


def test_segmint_ingest_skips_a_growing_file_and_loads_the_settled_one(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    settled, growing = folder / "a.csv", folder / "b.csv"
    settled.write_text("\n".join([HEADER, line(1, 1)]) + "\n", encoding="utf-8")
    backdate(settled, 600)
    growing.write_text("\n".join([HEADER, line(2, 1)]) + "\n", encoding="utf-8")
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'warehouse.duckdb'\n[ingest]\nsettle_seconds = 3\n"
        "[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'orders/*.csv'\n",
        encoding="utf-8",
    )
    # A writer appends to b.csv until segmint is done (however slowly segmint starts).
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, sys, time\n"
            "i = 2\n"
            "while not pathlib.Path(sys.argv[2]).exists() and i < 400:\n"
            "    time.sleep(0.3)\n"
            "    open(sys.argv[1], 'a').write(f'O2,{i},C2,2024-05-01 10:00:00,P1,1,2.50,EUR\\n')\n"
            "    i += 1\n",
            str(growing),
            str(stop),
        ]
    )
    env = {k: v for k, v in os.environ.items() if k != "SEGMINT_INGEST__SETTLE_SECONDS"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from segmint.cli import main; main()", "ingest", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        stop.touch()
        writer.wait(timeout=30)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert "still being written" in done.stdout
    with connect(tmp_path / "warehouse.duckdb") as con:
        assert con.execute("select path from loaded_files").fetchall() == [(str(settled.resolve()),)]
