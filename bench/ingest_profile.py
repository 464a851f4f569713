"""Where one file's ingest time goes, statement by statement (DuckDB) and in the audit (Python).

    .venv/bin/python bench/ingest_profile.py --kind orders --ids uuid --rows 3000000

Writes the files of bench/ingest.py (the same rows), loads the first night's files into a new warehouse
in this process and profiles the last of them and the overlapping second night's first file: each
statement run on the connection is timed around `execute`, summed by its opening words, and the audit's
frames and its wait for Great Expectations (on the worker thread) are timed too.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from segmint.config import load_settings
from segmint.ingest import ingest
from segmint.quality.audit import _WORKER, BatchAudit
from segmint.warehouse import connect

# The files of bench/ingest.py, the same rows.
_spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
assert _spec is not None and _spec.loader is not None
bench_ingest = importlib.util.module_from_spec(_spec)
sys.modules["bench_ingest"] = bench_ingest  # its dataclasses look their module up
_spec.loader.exec_module(bench_ingest)
ROWS_PER_FILE, write_files = bench_ingest.ROWS_PER_FILE, bench_ingest.write_files


class Timed:
    """A connection that times each statement it runs, by the statement's opening words."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.times: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        label = re.sub(r"\s+", " ", sql.strip())[:110]
        started, cpu = time.perf_counter(), time.process_time()
        result = self._con.execute(sql, *args, **kwargs)
        self.times[label] += time.perf_counter() - started
        # CPU seconds of the process (DuckDB's threads and the GX worker): steadier on a busy machine.
        self.cpu[label] += time.process_time() - cpu
        self.counts[label] += 1
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class TimedAudit:
    """BatchAudit, with the time it takes to hand the frames over and the time spent waiting for GX."""

    def __init__(self, audit: BatchAudit, times: dict[str, float]) -> None:
        self.audit, self.times = audit, times

    def __call__(self, con: Any, batch: Any) -> Any:
        started = time.perf_counter()
        verdict = self.audit(con, batch)
        self.times["[audit: frames taken, checks submitted]"] += time.perf_counter() - started
        wait = verdict.wait

        def timed_wait() -> Any:
            started = time.perf_counter()
            held = wait()
            self.times["[audit: waiting for Great Expectations]"] += time.perf_counter() - started
            return held

        verdict.wait = timed_wait
        return verdict


def _config(out: Path, kind: str, folder: str) -> Path:
    config = out / "profile.toml"
    config.write_text(
        f"[warehouse]\npath = 'profile.duckdb'\n[ingest]\nsettle_seconds = 0\n"
        f"[[sources]]\nname = '{kind}'\nkind = '{kind}'\npath = '{folder}/*.csv'\npreset = 'canonical'\n",
        encoding="utf-8",
    )
    return config


def _report(title: str, timed: Timed, seconds: float, cpu: float, top: int) -> None:
    print(
        f"\n{title}: {seconds:.2f} s ({cpu:.2f} CPU s), of which statements {sum(timed.times.values()):.2f} s "
        f"({sum(timed.cpu.values()):.2f} CPU s)"
    )
    print("   wall s    CPU s  runs statement")
    for label, spent in sorted(timed.times.items(), key=lambda kv: -max(kv[1], timed.cpu.get(kv[0], 0)))[
        :top
    ]:
        print(f"  {spent:6.3f}  {timed.cpu.get(label, 0):6.3f}  x{timed.counts.get(label, 1):<3} {label}")


def _load(out: Path, kind: str, paths: Sequence[Path], top: int) -> None:
    """Load `paths` one at a time, as the glob would take them, and report the last one's statements."""
    settings = load_settings(_config(out, kind, paths[0].parent.name))
    con = connect(settings.warehouse.path, memory_limit=settings.warehouse.memory_limit or "2GB")
    audit = BatchAudit(settings)
    for path in paths:
        settings.sources[0].path = str(path.relative_to(out))
        timed = Timed(con)
        # The worker thread's own CPU time: what Great Expectations spends on this file.
        gx = _WORKER.submit(time.thread_time).result()
        started, cpu = time.perf_counter(), time.process_time()
        results = ingest(timed, settings, "profile", audit=TimedAudit(audit, timed.times))  # type: ignore[arg-type]
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        timed.cpu["[Great Expectations on the worker thread, CPU]"] = (
            _WORKER.submit(time.thread_time).result() - gx
        )
        timed.times.setdefault("[Great Expectations on the worker thread, CPU]", 0.0)
    con.close()
    r = results[0]
    _report(
        f"{paths[-1].name} ({r.status} {r.message[:200]} {r.rows_read:,} read, {r.rows_loaded:,} loaded, {r.rows_duplicate:,} duplicate, "
        f"{r.rows_quarantined:,} quarantined)",
        timed,
        seconds,
        cpu,
        top,
    )


def main() -> None:
    """Profile one new file and one overlapping file of `--kind`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=("orders", "events"), default="orders")
    parser.add_argument("--ids", choices=("seq", "uuid"), default="seq")
    parser.add_argument("--rows", type=int, default=3 * ROWS_PER_FILE, help="rows of the first night")
    parser.add_argument("--overlap", type=int, default=ROWS_PER_FILE // 2)
    parser.add_argument("--top", type=int, default=25, help="statements shown per file")
    parser.add_argument("--out", type=Path, default=Path("bench/out/ingest"))
    args = parser.parse_args()
    out: Path = args.out.resolve() / args.ids
    for leftover in out.glob("profile.duckdb*"):
        leftover.unlink()
    overlap = args.overlap - (args.overlap % 5 if args.kind == "orders" else 0)
    night1 = write_files(out / args.kind, args.kind, 0, args.rows, args.rows, args.ids)
    start = args.rows - overlap
    night2 = write_files(
        out / f"{args.kind}_night2", args.kind, start, start + ROWS_PER_FILE, args.rows, args.ids
    )
    _load(out, args.kind, night1, args.top)
    _load(out, args.kind, night2[:1], args.top)


if __name__ == "__main__":
    main()
