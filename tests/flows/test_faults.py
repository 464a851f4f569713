"""Fault injection on the whole nightly, as real processes against a real Prefect server: a SIGKILL at each
stage (triggered by the stage's log line), a reader holding the warehouse file, a full disk, a damaged file,
a lost write-ahead log. After each, the warehouse is consistent, the killed run is marked, and the rerun
gives the same features and segments as a run that was never interrupted."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest

from segmint.warehouse import connect
from shops import ShopShape, write_shop

# Big enough to segment (segmentation.min_customers is 100), small enough for a run of seconds.
SHAPE = ShopShape(customers=200, days=180)
DAY = "2026-11-08"
# The nightly's stages in order, as it logs them ("run <id>: <stage>").
STAGES = ["ingest", "check_night", "features", "check_features", "segment", "publication_gate",
          "publish_segments", "conclude_quality", "predict", "report"]  # fmt: skip
RUN_TIMEOUT = 600


def command(config: Path, *args: str) -> list[str]:
    """The CLI as a user runs it, in a child process."""
    return [sys.executable, "-c", "from segmint.cli import main; main()", *args, "--config", str(config)]


def nightly_command(config: Path) -> list[str]:
    """`segmint run nightly` for the shop's last day."""
    return [*command(config, "run", "nightly"), "--as-of", DAY]


@pytest.fixture(scope="module")
def env(prefect_server: None) -> dict[str, str]:
    """The child's environment: the session's Prefect server (a temporary one per child is slower)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def shop(folder: Path, warehouse: str = "", top: str = "") -> Path:
    """The hand-written shop's exports and segmint.toml in `folder`; `warehouse` replaces the [warehouse]
    section's keys, `top` comes before every section."""
    folder.mkdir(parents=True, exist_ok=True)
    config = write_shop(folder, SHAPE)
    if warehouse or top:
        text = config.read_text(encoding="utf-8")
        keys = warehouse or "path = 'warehouse.duckdb'\n"
        text = top + text.replace("[warehouse]\npath = 'warehouse.duckdb'\n", f"[warehouse]\n{keys}", 1)
        config.write_text(text, encoding="utf-8")
    return config


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT)


def kill_at(config: Path, env: dict[str, str], stage: str) -> str:
    """Start the nightly and SIGKILL it as soon as it logs that `stage` starts; return what it printed."""
    child = subprocess.Popen(
        nightly_command(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if re.search(rf"run \w+: {stage}$", line.rstrip()):
            os.kill(child.pid, signal.SIGKILL)
            break
    else:
        pytest.fail(f"the nightly never reached {stage}: {''.join(seen)[-3000:]}")
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return "".join(seen)


def snapshot(warehouse: Path) -> dict[str, Any]:
    """What the night computed: every customer's features, and the published segment of each customer."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        features = con.execute(
            f"select * exclude (computed_at) from customer_features where as_of = '{DAY}' order by customer_id"
        ).fetchall()
        segments = con.execute(
            f"""
            select a.customer_id, a.segment_id, a.segment_name
            from segment_assignments a join segment_runs r using (run_id)
            where r.published and r.as_of = '{DAY}' order by a.customer_id
            """
        ).fetchall()
        published = con.execute(
            f"select count(*) from segment_runs where published and as_of = '{DAY}'"
        ).fetchone()
        orders = con.execute("select count(*) from order_lines").fetchone()
    return {"features": features, "segments": segments, "published": published, "order_lines": orders}


def assert_consistent(warehouse: Path) -> None:
    """Every ledger adds up and no key is stored twice, whatever was interrupted."""
    with connect(warehouse) as con:
        one = con.execute
        assert one("select count(*) - count(distinct order_id) from orders").fetchone() == (0,)
        assert one("select count(*) - count(distinct (order_id, line_no)) from order_lines").fetchone() == (
            0,
        )
        assert one("select count(*) from order_lines l anti join orders o using (order_id)").fetchone() == (
            0,
        )
        assert one(
            "select count(*) from loaded_files where rows_read <> rows_loaded + rows_quarantined"
        ).fetchone() == (0,), one("select * from loaded_files").fetchall()
        assert one("select count(*) - count(distinct sha256) from loaded_files").fetchone() == (0,)
        assert one(
            "select count(*) - count(distinct (as_of, customer_id)) from customer_features"
        ).fetchone() == (0,)
        assert one(
            "select count(*) from (select as_of from segment_runs where published group by 1 having count(*) > 1)"
        ).fetchone() == (0,)
        # A completed night always has its report.
        assert one(
            """
            select count(*) from runs r where flow = 'nightly' and status = 'completed'
                and not exists (select 1 from reports p where p.as_of = r.as_of)
            """
        ).fetchone() == (0,)


def runs(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select run_id, status, stage, pid, host, message from runs where flow = 'nightly' order by started_at"
        ).fetchall()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> dict[str, Any]:
    """The features and segments of a nightly run that nothing interrupted."""
    config = shop(tmp_path_factory.mktemp("reference"))
    done = run(nightly_command(config), env)
    assert done.returncode == 0, done.stderr[-3000:]
    found = snapshot(config.parent / "warehouse.duckdb")
    assert found["segments"] and found["features"] and found["published"] == (1,)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_kill_at_any_stage_is_marked_and_the_rerun_equals_an_uninterrupted_run(
    tmp_path: Path, env: dict[str, str], reference: dict[str, Any], stage: str
) -> None:
    config = shop(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    kill_at(config, env, stage)
    assert_consistent(warehouse)
    [(killed_id, status, reached, pid, host, _)] = runs(warehouse)
    assert status == "running" and pid is not None and host  # as the kill left it
    # The stage it reached: the one that triggered the kill, or a later one when that one was instant.
    assert STAGES.index(reached) >= STAGES.index(stage)

    rerun = run(nightly_command(config), env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Traceback" not in rerun.stdout + rerun.stderr
    assert f"run {killed_id} (nightly) killed during {reached}" in rerun.stderr
    assert_consistent(warehouse)
    [first, second] = runs(warehouse)
    assert first[:3] == (killed_id, "killed", reached)
    assert first[5] == f"killed during {reached}: process {pid} on {host} ended without closing the run"
    assert second[1] == "completed"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # Nothing of the killed run waits for a gate that will never come.
        assert con.execute(
            "select count(*) from segment_runs where starts_with(status_reason, 'pending')"
        ).fetchone() == (0,)
        statuses = con.execute("select status, count(*) from runs group by 1 order by 1").fetchall()
    assert statuses == [("completed", 1), ("killed", 1)]
    # The week's report counts the killed run as killed, not as running.
    assert "2 runs (1 killed, 1 completed)" in report_text(tmp_path)
    assert snapshot(warehouse) == reference


def report_text(folder: Path) -> str:
    """The plain-text part of the night's report email."""
    message = email.message_from_bytes(
        (folder / "reports" / DAY / "email.eml").read_bytes(), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


@contextmanager
def reader(warehouse: Path, *, hold_seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another program (a notebook, a BI tool) holding the warehouse file read-only for `hold_seconds`."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(warehouse)!r}, read_only=True)\n"
         "print(con.execute('select count(*) from runs').fetchone()[0], flush=True)\n"
         f"time.sleep({hold_seconds})"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    child.stdout.readline()  # the file is open
    try:
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_a_reader_mid_run_cannot_abort_the_nightly(
    tmp_path: Path, env: dict[str, str], reference: dict[str, Any]
) -> None:
    config = shop(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    child = subprocess.Popen(
        nightly_command(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    refused: list[str] = []
    opened: list[str] = []
    stop = threading.Event()

    def notebook() -> None:
        # Opens the file read-only over and over, as a BI tool's refresh would, until the run ends.
        while not stop.is_set():
            try:
                with duckdb.connect(str(warehouse), read_only=True) as con:
                    con.execute("select count(*) from runs").fetchone()
                opened.append(time.strftime("%T"))
            except duckdb.Error as exc:
                refused.append(str(exc))
            time.sleep(0.1)

    assert child.stderr is not None
    stages = []
    poller = threading.Thread(target=notebook)
    for line in child.stderr:
        if re.search(r"run \w+: ingest$", line.rstrip()) and not poller.is_alive():
            poller.start()
        if re.search(r"run \w+: \w+$", line.rstrip()):
            stages.append(line.rsplit(":", 1)[1].strip())
    out, _ = child.communicate(timeout=RUN_TIMEOUT)
    stop.set()
    poller.join()
    assert child.returncode == 0, out[-3000:]
    assert stages == STAGES
    # Every attempt during the run was refused with DuckDB's lock error; none got between two stages.
    assert refused and all("Could not set lock" in r for r in refused)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select status from runs").fetchall() == [("completed",)]
    assert snapshot(warehouse) == reference


@pytest.mark.slow
def test_a_reader_holding_the_file_at_the_start_is_waited_for(
    tmp_path: Path, env: dict[str, str], reference: dict[str, Any]
) -> None:
    config = shop(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    connect(warehouse).close()  # the file exists (an earlier night) so the notebook can open it
    with reader(warehouse, hold_seconds=8):
        done = run(nightly_command(config), env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert snapshot(warehouse) == reference


@pytest.mark.slow
def test_a_reader_holding_the_file_too_long_is_named_and_nothing_changes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = shop(tmp_path, warehouse="path = 'warehouse.duckdb'\nreader_wait_seconds = 2\n")
    warehouse = tmp_path / "warehouse.duckdb"
    connect(warehouse).close()
    before = warehouse.read_bytes()
    with reader(warehouse, hold_seconds=300) as notebook:
        done = run(nightly_command(config), env)
    assert done.returncode == 3, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: The warehouse {warehouse} is held by process {notebook.pid} (")
    assert last.endswith("this run exits without changes.")
    assert "Traceback" not in done.stdout + done.stderr
    assert warehouse.read_bytes() == before


def _can_mount() -> str | None:
    """Why a tmpfs cannot be mounted here (None when it can)."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs to fill needs root; run the suite as root to test a full disk"
    if shutil.which("mount") is None:
        return "no mount command on this machine"
    return None


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `folder` (root only), unmounted afterwards."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); a full disk is not tested")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_a_full_disk_is_one_sentence_and_the_rerun_after_freeing_space_equals_an_uninterrupted_run(
    tmp_path: Path, env: dict[str, str], reference: dict[str, Any]
) -> None:
    why = _can_mount()
    if why:
        pytest.skip(why)
    with small_disk(tmp_path / "disk", "700k") as disk:
        warehouse = disk / "warehouse.duckdb"
        # Only the warehouse is on the small disk: reports, data docs and Prefect live elsewhere.
        config = shop(
            tmp_path / "shop", warehouse=f"path = '{warehouse}'\n", top=f"data_dir = '{tmp_path}/out'\n"
        )
        full = run(nightly_command(config), env)
        assert full.returncode == 7, full.stderr[-3000:]
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: The disk holding {warehouse} is full (")
        assert last.endswith("then rerun: the step that failed saved nothing.")
        assert "Traceback" not in full.stdout + full.stderr, full.stderr[-3000:]
        subprocess.run(["mount", "-o", "remount,size=256m", str(disk)], check=True)
        assert_consistent(warehouse)
        rerun = run(nightly_command(config), env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_consistent(warehouse)
        statuses = [r[1] for r in runs(warehouse)]
        assert statuses[-1] == "completed" and set(statuses[:-1]) <= {"failed", "killed"}, runs(warehouse)
        assert snapshot(warehouse) == reference


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "overwritten", "corrupt log"])
def test_a_damaged_warehouse_is_one_sentence_and_a_backup_restores_it(
    tmp_path: Path, env: dict[str, str], damage: str
) -> None:
    config = shop(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    loaded = run(command(config, "ingest"), env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    made = run([*command(config, "backup"), "--to", str(tmp_path / "backups")], env)
    assert made.returncode == 0, made.stderr
    copy = Path(made.stdout.strip().splitlines()[-1])
    assert copy.parent == tmp_path / "backups" and copy.is_file()
    with (
        duckdb.connect(str(copy), read_only=True) as con,
        duckdb.connect(str(warehouse), read_only=True) as live,
    ):
        assert (
            con.execute("select count(*) from order_lines").fetchone()
            == live.execute("select count(*) from order_lines").fetchone()
        )
    if damage == "truncated":
        with warehouse.open("r+b") as f:
            f.truncate(warehouse.stat().st_size // 2)
        expected = f"error: The warehouse file {warehouse} is damaged (truncated or corrupt); restore"
    elif damage == "overwritten":
        with warehouse.open("r+b") as f:
            f.write(b"\0" * 4096)
        expected = f"error: The warehouse file {warehouse} is damaged (truncated or corrupt); restore"
    else:
        # A killed writer's log, damaged afterwards.
        with duckdb.connect(str(warehouse)) as con:
            con.execute("set checkpoint_threshold = '1GB'")
            con.execute("create table scratch as select range as x from range(10000)")
            shutil.copyfile(f"{warehouse}.wal", tmp_path / "log")
        shutil.copyfile(tmp_path / "log", f"{warehouse}.wal")
        with Path(f"{warehouse}.wal").open("r+b") as f:
            f.seek(16)
            f.write(b"\xff" * 64)
        expected = f"error: The write-ahead log {warehouse}.wal of the warehouse {warehouse} is damaged;"
    for cmd in (command(config, "ingest"), nightly_command(config)):
        failed = run(cmd, env)
        assert failed.returncode == 6, failed.stderr[-3000:]
        # Prefect's event worker may add a line of its own after segmint's sentence on a busy machine.
        errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and errors[0].startswith(expected), failed.stderr[-3000:]
        assert "Traceback" not in failed.stdout + failed.stderr, failed.stderr[-3000:]
    # Restore the backup as the sentence says; the night then runs.
    Path(f"{warehouse}.wal").unlink(missing_ok=True)
    shutil.copyfile(copy, warehouse)
    done = run(nightly_command(config), env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_consistent(warehouse)


@pytest.mark.slow
def test_a_lost_write_ahead_log_after_a_kill_is_said_and_the_rerun_redoes_the_night(
    tmp_path: Path, env: dict[str, str], reference: dict[str, Any]
) -> None:
    config = shop(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    kill_at(config, env, "segment")
    [(killed_id, *_)] = runs(warehouse)
    Path(f"{warehouse}.wal").unlink()  # e.g. a copy of the .duckdb file alone, taken mid-run
    rerun = run(nightly_command(config), env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (
        f"The write-ahead log {warehouse}.wal of the warehouse {warehouse} went missing after run {killed_id} "
        "was killed" in " ".join(rerun.stdout.split())
    )
    assert_consistent(warehouse)
    assert snapshot(warehouse) == reference
