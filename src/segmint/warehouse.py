"""The DuckDB warehouse: open (creating and migrating it), lock against two writers, run SQL files,
say in one sentence what is wrong when the file is held, damaged or its disk is full, and back it up."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from segmint.errors import DiskFullError, SegmintError, WarehouseBusyError, WarehouseDamagedError
from segmint.machine import cores, default_memory_limit
from segmint.resources import resource_dir

if TYPE_CHECKING:
    import polars as pl

    from segmint.config import Settings

_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# DuckDB's lock error names the holder: 'Conflicting lock is held in /usr/bin/python3.11 (PID 5994)'.
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_FILE = re.compile(r'file "([^"]+)"')
# What DuckDB says when the main file is not a whole, valid database.
_DAMAGED = ("not a valid DuckDB database file", "Could not read enough bytes", "Corrupt database file",
            "does not match stored checksum", "database file is corrupt")  # fmt: skip


def migrations() -> list[tuple[int, str, Path]]:
    """The numbered schema files in sql/schema/, in order."""
    found = []
    for path in sorted(resource_dir("sql").joinpath("schema").iterdir()):
        match = _MIGRATION.match(path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path))
    return found


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: committed at its end, rolled back if anything in it fails."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        # A commit that failed (a full disk) has ended the transaction already: keep its error.
        with suppress(duckdb.Error):
            con.execute("rollback")
        raise


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the schema files that have not run yet, each in its own transaction; return their numbers."""
    con.execute(
        "create table if not exists schema_migrations "
        "(version integer not null, name varchar not null, applied_at timestamp not null)"
    )
    done = {row[0] for row in con.execute("select version from schema_migrations").fetchall()}
    applied = []
    for version, name, path in migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(path.read_text(encoding="utf-8"))
            con.execute(
                "insert into schema_migrations (version, name, applied_at) "
                "values (?, ?, current_localtimestamp())",
                [version, name],
            )
        applied.append(version)
    return applied


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    wait_seconds: float = 0.0,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (":memory:" for tests), creating and migrating it unless read-only;
    a file held by another process is retried for up to `wait_seconds`, then refused in one sentence.

    Without a `memory_limit` or `threads`, both follow the machine (segmint.machine).
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit or default_memory_limit(),
        "threads": threads or cores(),
    }
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            break
        except duckdb.Error as exc:
            if "Could not set lock" not in str(exc):
                _raise_storage_error(exc, path)
                raise
            if time.monotonic() >= deadline:
                # Another process (a notebook, a BI tool, another segmint) has the file open.
                holder = lock_holder(str(exc))
                by = f" by {holder}" if holder else " by another process"
                raise WarehouseBusyError(
                    f"The warehouse {path} is held{by}; close it there (to read while segmint writes, see "
                    "README, 'Reading the warehouse') and retry: this run exits without changes."
                ) from None
            time.sleep(0.5)
    try:
        # Timestamps are naive UTC throughout; pin the session so now() agrees on every machine.
        con.execute("set timezone = 'UTC'")
        # Progress bars are for an interactive shell: in a nightly's redirected output they are noise.
        con.execute("set enable_progress_bar = false")
        if not read_only:
            migrate(con)
    except duckdb.Error as exc:
        con.close()
        _raise_storage_error(exc, path)
        raise
    return con


def open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Connect to the configured warehouse (created and migrated on first use)."""
    return connect(
        settings.warehouse.path,
        memory_limit=settings.warehouse.memory_limit,
        threads=settings.warehouse.threads,
    )


def query_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | Mapping[str, object] | None = None
) -> tuple[Any, ...] | None:
    """The first row of a query, or None; the result is read to its end (params positional or named)."""
    # DuckDB 2.0: fetchone() leaves the result open and the next .sql() on the connection fails.
    rows = con.execute(sql, params or []).fetchall()
    return tuple(rows[0]) if rows else None


def query_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | Mapping[str, object] | None = None
) -> pl.DataFrame:
    """A query's result as a Polars frame (zero-copy from DuckDB); params are positional `?` or named `$name`."""
    # DuckDB 2.0 refuses .sql() while an earlier execute() result is unread (e.g. after fetchone()).
    con.complete()
    frame: pl.DataFrame = con.sql(sql, params=params).pl()
    return frame


def insert_row(con: duckdb.DuckDBPyConnection, table: str, values: Mapping[str, object]) -> None:
    """Insert one row, naming its columns (the others take their defaults)."""
    columns = ", ".join(f'"{c}"' for c in values)
    con.execute(
        f"insert into {table} ({columns}) values ({', '.join('?' for _ in values)})", list(values.values())
    )


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a Polars frame to a warehouse table by column name."""
    con.register("_segmint_frame", frame)
    try:
        con.execute(f"insert into {table} by name select * from _segmint_frame")
    finally:
        con.unregister("_segmint_frame")


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The column names of `table` (empty when it does not exist), e.g. to read a column an older
    warehouse opened read-only, before its migration, does not have yet."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ?", [table]
    ).fetchall()
    return {str(r[0]) for r in rows}


def _raise_storage_error(exc: BaseException, path: Path | str) -> None:
    failure = storage_error(exc, path)
    if failure is not None:
        raise failure from None


def lock_holder(message: str) -> str | None:
    """Who holds the warehouse file, from DuckDB's lock error: 'process 5994 (python3 notebook.py)'."""
    match = _HOLDER.search(message)
    if match is None:
        return None
    pid = int(match["pid"])
    command = Path(match["program"]).name
    try:
        # The command line says more than the program (which notebook, which tool), when we can see it.
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        line = " ".join(" ".join(w.decode(errors="replace") for w in words if w).split())
        if line and Path(words[0].decode(errors="replace")).name.startswith(command[:6]):
            command = line if len(line) <= 100 else line[:97] + "..."
    except OSError:
        pass
    return f"process {pid} ({command})"


def _free_space(path: Path) -> str:
    try:
        free = shutil.disk_usage(path if path.is_dir() else path.parent).free
    except OSError:
        return "no space"
    return f"{free / 1e6:,.1f} MB free"


def storage_error(exc: BaseException, path: Path | str | None = None) -> SegmintError | None:
    """One sentence for a full disk or a damaged warehouse file or log, or None for any other error;
    without `path`, the file the error names."""
    text = str(exc)
    named = _FILE.search(text)
    if path is None:
        found = getattr(exc, "filename", None) or (named.group(1) if named else None)
        if found is None:
            return None
        path = Path(str(found).removesuffix(".wal"))
    path = Path(path)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in text:
        return DiskFullError(
            f"The disk holding {path} is full ({_free_space(path)}); free space there or move "
            "[warehouse] path to a bigger disk, then rerun: the step that failed saved nothing."
        )
    if not isinstance(exc, duckdb.Error):
        return None
    if "replaying WAL" in text:
        return WarehouseDamagedError(
            f"The write-ahead log {path}.wal of the warehouse {path} is damaged; move it aside to open the "
            "warehouse as of its last checkpoint and rerun the night (its unsaved changes are redone), or "
            "restore a backup made by `segmint backup`."
        )
    if any(marker in text for marker in _DAMAGED):
        return WarehouseDamagedError(
            f"The warehouse file {path} is damaged (truncated or corrupt); restore the latest backup "
            f"made by `segmint backup` over it (or move it aside to start afresh and reload every file), "
            "then rerun."
        )
    return None


@dataclass
class Writer:
    """The one writer connection of a run, and what it found when it opened the file."""

    con: duckdb.DuckDBPyConnection
    path: Path
    lost_log: str | None = None  # the sentence when the last killed run's write-ahead log has vanished

    def note(self, run_id: str, stage: str) -> None:
        """Remember the run's stage beside the file (after it is committed), to tell a lost log later."""
        _note(self.path, {"pid": os.getpid(), "run_id": run_id, "stage": stage})


def _marker(path: Path) -> Path:
    # Present while a writer has the warehouse open: left behind only when that writer was killed.
    return Path(f"{path}.open")


def _note(path: Path, fields: dict[str, object]) -> None:
    # Replaced whole, never rewritten in place: a kill while noting leaves the previous note.
    partial = Path(f"{path}.open.partial")
    partial.write_text(json.dumps(fields), encoding="utf-8")
    partial.replace(_marker(path))


def _killed_writer(path: Path) -> dict[str, str] | None:
    """What a killed writer noted beside the file when its write-ahead log is gone (read before opening:
    opening the file starts a new log)."""
    marker = _marker(path)
    if not marker.exists() or Path(f"{path}.wal").exists():
        return None
    try:
        last = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return last if isinstance(last, dict) and "run_id" in last else None


def _lost_log(con: duckdb.DuckDBPyConnection, path: Path, last: dict[str, str] | None) -> str | None:
    if last is None:
        return None
    try:
        row = con.execute("select stage from runs where run_id = ?", [last["run_id"]]).fetchone()
    except (OSError, ValueError, KeyError, TypeError, duckdb.Error):
        return None
    # The killed run committed its stage before noting it here: a file without it lost its log.
    if row is not None and row[0] == last.get("stage"):
        return None
    return (
        f"The write-ahead log {path}.wal of the warehouse {path} went missing after run {last['run_id']} "
        "was killed: the changes it made after its last checkpoint are lost and this run redoes them from "
        "the source files (restore a backup made by `segmint backup` if those files are gone)."
    )


@contextmanager
def writer(
    path: Path,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    wait_seconds: float = 0.0,
) -> Iterator[Writer]:
    """Open the run's one writer connection; at the end checkpoint it (the file alone then holds every
    commit) and close it. A full disk or damaged file ends in one sentence (DiskFullError, WarehouseDamagedError)."""
    killed = _killed_writer(path)
    con = connect(path, memory_limit=memory_limit, threads=threads, wait_seconds=wait_seconds)
    try:
        opened = Writer(con, path, _lost_log(con, path, killed))
        if killed is None:  # a killed run's note stays until this run notes its own first stage
            _note(path, {"pid": os.getpid()})
        try:
            yield opened
        finally:
            con.close()  # closing checkpoints: the file alone then holds every commit
        _marker(path).unlink(missing_ok=True)
    except BaseException as exc:
        failure = storage_error(exc, path)
        if failure is not None:
            raise failure from None
        raise


def backup(path: Path, destination: Path | None = None, *, wait_seconds: float = 0.0) -> Path:
    """Copy the warehouse consistently: under the writer lock, checkpoint and copy the file, then check
    that the copy opens; returns the copy's path (default <warehouse dir>/backups/<name>-<UTC time>.duckdb)."""
    if not path.exists():
        raise SegmintError(f"No warehouse at {path}; there is nothing to back up (check [warehouse] path).")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = destination or path.parent / "backups" / f"{path.stem}-{stamp}{path.suffix}"
    if target.is_dir() or not target.suffix:  # a folder: the copy gets a dated name in it
        target = target / f"{path.stem}-{stamp}{path.suffix}"
    if target.resolve() == path.resolve():
        raise SegmintError(f"The backup {target} would overwrite the warehouse; choose another --to path.")
    partial = target.with_name(f".{target.name}.partial")
    with writer_lock(path, wait_seconds=wait_seconds):
        con = connect(path, wait_seconds=wait_seconds)
        try:
            # After a checkpoint the file holds every commit; holding the connection keeps others out.
            con.execute("checkpoint")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, partial)
                partial.replace(target)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise storage_error(exc, target) or SegmintError(
                    f"Could not write the backup {target} ({exc.strerror}); choose another --to path."
                ) from None
        finally:
            con.close()
    with duckdb.connect(str(target), read_only=True) as copy:
        copy.execute("select count(*) from schema_migrations").fetchone()
    return target


@contextmanager
def writer_lock(warehouse_path: Path, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the warehouse's writer lock; wait up to `wait_seconds`, then fail with one sentence."""
    lock_path = Path(f"{warehouse_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"Another segmint run is writing {warehouse_path}; "
                        "this run exits without changes, try again when it has finished."
                    ) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def locked(settings: Settings, *, wait_seconds: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened (and migrated) under its writer lock: how a command that writes gets it."""
    with writer_lock(settings.warehouse.path, wait_seconds=wait_seconds), open_warehouse(settings) as con:
        yield con
