"""The warehouse file: created and migrated on open, an older file brought up to date, crash-safe loads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from segmint.errors import SegmintError, WarehouseBusyError, WarehouseDamagedError
from segmint.runs import enter_stage, process_gone, start_run
from segmint.warehouse import backup, connect, migrations, transaction, writer_lock


def test_new_file_gets_every_migration(tmp_warehouse: Path) -> None:
    with connect(tmp_warehouse) as con:
        versions = [v for (v,) in con.execute("select version from schema_migrations order by 1").fetchall()]
    assert versions == [v for v, _, _ in migrations()]
    assert versions[0] == 1


def test_an_older_file_is_migrated_on_open(tmp_warehouse: Path) -> None:
    # Build a file as the first release left it: only migration 001 applied.
    first = migrations()[0]
    with duckdb.connect(str(tmp_warehouse)) as old:
        old.execute(
            "create table schema_migrations (version integer not null, name varchar not null, applied_at timestamp not null)"
        )
        old.execute(first[2].read_text(encoding="utf-8"))
        old.execute("insert into schema_migrations values (1, ?, now())", [first[1]])
        old.execute(
            "insert into runs values ('old', 'nightly', null, now(), now(), 'completed', '0.0.1', null)"
        )
    with connect(tmp_warehouse) as con:
        versions = [v for (v,) in con.execute("select version from schema_migrations order by 1").fetchall()]
        assert versions == [v for v, _, _ in migrations()]
        assert con.execute("select run_id from runs").fetchall() == [("old",)]


def test_writer_lock_refuses_a_second_writer(tmp_warehouse: Path) -> None:
    with writer_lock(tmp_warehouse):
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from segmint.warehouse import writer_lock\n"
                "from segmint.errors import WarehouseBusyError\n"
                f"try:\n  with writer_lock(Path({str(tmp_warehouse)!r})): print('got it')\n"
                "except WarehouseBusyError as e: print(e)",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Another segmint run is writing" in child.stdout
    with writer_lock(tmp_warehouse):  # released: can be taken again
        pass
    with pytest.raises(WarehouseBusyError), writer_lock(tmp_warehouse), writer_lock(tmp_warehouse):
        pass


def test_a_load_killed_mid_file_leaves_the_warehouse_consistent(tmp_path: Path) -> None:
    big = tmp_path / "incoming" / "orders.csv"
    big.parent.mkdir()
    rows = 3_000_000
    duckdb.sql(
        f"""
        copy (select 'O' || i as order_id, 1 as line_no, 'C' || (i % 50000) as customer_id,
                     timestamp '2024-01-01' + to_seconds(i) as ordered_at, 'P' || (i % 300) as product_id,
                     (i % 3) + 1 as quantity, 2.5 as unit_price
              from range({rows}) t(i)) to '{big}' (header)
        """
    )
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'incoming/*.csv'\n",
        encoding="utf-8",
    )
    command = [
        sys.executable,
        "-c",
        "from segmint.cli import main; main()",
        "ingest",
        "--config",
        str(config),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Kill shortly after the file's transaction opens (its "loading" line); the load takes seconds.
    assert child.stderr is not None
    for line in child.stderr:
        if "loading" in line:
            break
    else:
        pytest.fail(f"the load never started: {child.communicate()}")
    time.sleep(0.5)
    assert child.poll() is None, "the load finished before it could be killed; make the file bigger"
    os.kill(child.pid, signal.SIGKILL)
    _, rest = child.communicate()
    assert "loaded" not in rest, "the file was committed before the kill; make the file bigger"
    with connect(tmp_path / "wh.duckdb") as con:
        assert con.execute("select count(*) from order_lines").fetchone() == (0,)
        assert con.execute("select count(*) from loaded_files").fetchone() == (0,)
        assert con.execute("select count(*) from quarantine").fetchone() == (0,)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    with connect(tmp_path / "wh.duckdb") as con:
        assert con.execute("select count(*), count(distinct order_id) from order_lines").fetchone() == (
            rows,
            rows,
        )
        assert con.execute("select rows_read, rows_loaded from loaded_files").fetchall() == [(rows, rows)]


def test_a_transaction_commits_its_block_or_rolls_it_back(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute("create table t (x integer)")
    with transaction(duck):
        duck.execute("insert into t values (1)")
    with pytest.raises(ZeroDivisionError), transaction(duck):
        duck.execute("insert into t values (2)")
        _ = 1 / 0
    with pytest.raises(duckdb.ConstraintException), transaction(duck):
        duck.execute("insert into t values (3)")
        duck.execute("insert into schema_migrations values (null, null, null)")
    assert duck.execute("select x from t").fetchall() == [(1,)]


def test_duckdb_limits_follow_the_machine_unless_set(tmp_path: Path) -> None:
    from segmint.machine import cores, default_memory_limit, memory_bytes

    with connect(tmp_path / "w.duckdb") as con:
        limit, threads = con.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()
    # DuckDB reports the limit in GiB or MiB with one decimal: a quarter of the memory up to 1 GiB, not
    # its own 80 %.
    expected = min(memory_bytes() / 4, 2**30)
    value, unit = limit.split()
    assert float(value) * (2**30 if unit == "GiB" else 2**20) == pytest.approx(expected, rel=0.01)
    assert threads == cores()
    gib = 2**30
    assert [default_memory_limit(int(n * gib)) for n in (0.5, 2, 4, 23, 256)] == [
        "256MiB",
        "512MiB",
        "1024MiB",
        "1024MiB",
        "1024MiB",
    ]
    with connect(tmp_path / "x.duckdb", memory_limit="1GB", threads=1) as con:
        assert con.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchone() == (
            "953.6 MiB",
            1,
        )


def test_a_run_left_running_by_a_dead_process_is_marked_killed_with_its_stage(tmp_warehouse: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = int(dead.stdout)
    with connect(tmp_warehouse) as con:
        old = start_run(con, "nightly", None)
        enter_stage(con, old, "segment")
        con.execute("update runs set pid = ? where run_id = ?", [gone, old])
        con.execute(
            "insert into segment_runs (run_id, as_of, created_at, algorithm, mode, k, n_customers, features, "
            "settings, published, status_reason) values (?, date '2026-11-08', now(), 'kmeans', 'recluster', 3, "
            "10, '[]', '{}', false, 'pending: awaiting the publication gate')",
            [old],
        )
        mine = start_run(con, "nightly", None)  # this process is alive: its run stays running
        again = start_run(con, "ingest", None)
        rows = dict(
            (r[0], r[1:]) for r in con.execute("select run_id, status, stage, message from runs").fetchall()
        )
        reason = con.execute("select status_reason from segment_runs").fetchone()
    host = socket.gethostname()
    assert rows[old] == (
        "killed",
        "segment",
        f"killed during segment: process {gone} on {host} ended without closing the run",
    )
    assert rows[mine][0] == rows[again][0] == "running"
    assert reason == (f"not published: run {old} was killed before the publication gate",)


def test_a_reused_pid_does_not_keep_a_dead_run_alive() -> None:
    # The test's own process is alive: it is the process of a run started now, not of one started a day
    # before it existed (that pid was reused, so that run's process is gone).
    me = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        assert not process_gone(me.pid, now + timedelta(seconds=1))
        assert process_gone(me.pid, now - timedelta(days=1))
    finally:
        me.kill()
        me.wait()
    assert process_gone(me.pid, now)  # ended


def test_the_busy_message_names_the_program_holding_the_file(tmp_warehouse: Path) -> None:
    connect(tmp_warehouse).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, time\n"
         f"c = duckdb.connect({str(tmp_warehouse)!r}, read_only=True); print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    holder.stdout.readline()
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError) as busy:
            connect(tmp_warehouse, wait_seconds=1.5)
        assert time.monotonic() - started >= 1.5  # it waited before giving up
    finally:
        holder.kill()
        holder.wait()
    assert str(busy.value).startswith(f"The warehouse {tmp_warehouse} is held by process {holder.pid} (")
    assert "import duckdb, time" in str(busy.value)  # the holder's command line, when it can be seen


def test_a_backup_is_a_consistent_copy_that_opens(tmp_warehouse: Path, tmp_path: Path) -> None:
    with connect(tmp_warehouse) as con:
        start_run(con, "nightly", None)
    copy = backup(tmp_warehouse, tmp_path / "backups")
    assert copy.parent == tmp_path / "backups" and copy.suffix == ".duckdb"
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("select count(*) from runs").fetchone() == (1,)
    with pytest.raises(SegmintError, match="nothing to back up"):
        backup(tmp_path / "absent.duckdb")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (b"", "is damaged (truncated or corrupt)"),
        (b"not a database" * 100, "is damaged (truncated or corrupt)"),
    ],
)
def test_a_damaged_file_is_one_sentence(tmp_warehouse: Path, damage: bytes, expected: str) -> None:
    tmp_warehouse.write_bytes(damage)
    with pytest.raises(WarehouseDamagedError) as damaged:
        connect(tmp_warehouse)
    assert str(damaged.value).startswith(f"The warehouse file {tmp_warehouse} {expected}; restore the latest")


def test_the_run_summary_totals_net_revenue_in_the_base_currency(tmp_path: Path) -> None:
    from segmint.config import Settings
    from segmint.currency import record_base_currency
    from segmint.pipeline import warehouse_totals

    settings = Settings(data_dir=tmp_path / "data", warehouse={"path": tmp_path / "warehouse.duckdb"})
    with connect(settings.warehouse.path) as con:
        record_base_currency(con, "EUR", "orders.csv")
        con.execute(
            "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, currency, "
            "source_file, refunded_amount, is_voided) values "
            # 40 kept; 12.50 refunded with 4.90 of shipping (counts 12.50); 30 refunded by 10; a void
            "('a', 'c1', '2026-01-01', false, 40, 'EUR', 'f', null, false), "
            "('b', 'c1', '2026-01-02', false, 12.5, 'EUR', 'f', 17.4, false), "
            "('c', 'c2', '2026-01-03', false, 30, 'EUR', 'f', 10, false), "
            "('d', 'c2', '2026-01-04', true, 0, 'EUR', 'f', 0, true)"
        )
    totals = warehouse_totals(settings)
    assert (totals.orders, totals.revenue, totals.currency) == (4, 60.0, "EUR")
