"""What this machine (or container) offers: memory and cores, for DuckDB's defaults."""

from __future__ import annotations

import os
from pathlib import Path

#: DuckDB's share of the memory when `[warehouse] memory_limit` is not set, and its ceiling. DuckDB's own
#: default is 80 %, and it keeps what it once used as buffer cache: the first night of a 540,000-line shop
#: grew to 17.8 GB that way. The rest is left to the Polars, scikit-learn and Great Expectations frames of
#: the same process. The ceiling: at a million customers the whole nightly peaked at 4.96 GB with a quarter
#: of a 23 GB machine (5.75 GB) and at 2.7-2.9 GB with 1 GiB (bench/RESULTS.md). 1 GiB holds for every real
#: shop since the basket rules count their pairs over integer codes (over string ids, Online Retail's ran
#: out of memory at 1 GiB: not every operator spills to disk).
DUCKDB_MEMORY_SHARE = 0.25
MAX_DUCKDB_MEMORY_MIB = 1024
MIN_DUCKDB_MEMORY_MIB = 256

_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)


def memory_bytes() -> int:
    """Physical memory, or the container's memory limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))  # v1 says "unlimited" as a huge number, v2 as "max"
    return total


def cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0))


def default_memory_limit(total_bytes: int | None = None) -> str:
    """DuckDB's memory_limit when the settings give none: a quarter of the memory (of `total_bytes`, else
    this machine's), between 256 MiB and 1 GiB."""
    quarter = int((memory_bytes() if total_bytes is None else total_bytes) * DUCKDB_MEMORY_SHARE) // 2**20
    return f"{min(MAX_DUCKDB_MEMORY_MIB, max(MIN_DUCKDB_MEMORY_MIB, quarter))}MiB"
