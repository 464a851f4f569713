"""The DuckDB warehouse: open (creating and migrating it), lock against two writers, run SQL files."""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from segmint.errors import WarehouseBusyError
from segmint.machine import cores, default_memory_limit
from segmint.resources import resource_dir

_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


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
                "insert into schema_migrations values (?, ?, current_localtimestamp())",
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
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (":memory:" for tests), creating and migrating it unless read-only.

    Without a `memory_limit` or `threads`, both follow the machine (segmint.machine).
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit or default_memory_limit(),
        "threads": threads or cores(),
    }
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusyError(
                f"The warehouse {path} is open in another segmint process; wait for it to finish and retry."
            ) from None
        raise
    # Timestamps are naive UTC throughout; pin the session so now() agrees on every machine.
    con.execute("set timezone = 'UTC'")
    if not read_only:
        migrate(con)
    return con


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
