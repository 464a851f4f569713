"""Great Expectations on a large table, chunk by chunk: one result per expectation as if GX saw it whole.

GX validates pandas frames, and a frame of ten million rows peaked at 6.8 GB (bench/RESULTS.md). The rows
stay in Arrow (compact) and GX validates `[quality] chunk_rows` of them at a time; the results combine:

* row-by-row expectations (not null, between, in set, regex, column pairs...) judge each row alone: their
  element, missing and unexpected counts add up, success is GX's own `mostly` rule on the sums, samples
  are the first failing rows in table order;
* expectations across rows are computed on the whole table in SQL (DuckDB reads the Arrow table in
  place): uniqueness (a duplicate may sit in another chunk), medians and the row count;
* the column set is the same in every chunk;
* anything else cannot be combined and fails with a message rather than pass unseen.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from segmint.quality.suites import Expect

UNIQUE = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})
MEDIAN = "expect_column_median_to_be_between"
ROW_COUNT = "expect_table_row_count_to_be_between"
SAME_EVERY_CHUNK = frozenset(
    {"expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"}
)
WHOLE_TABLE = UNIQUE | {MEDIAN, ROW_COUNT}


def resolved(kwargs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """An expectation's kwargs with its suite parameters ({"$PARAMETER": name}) filled in."""
    return {
        k: parameters.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v
        for k, v in kwargs.items()
    }


def mostly_success(considered: int, unexpected: int, mostly: float | None) -> bool:
    """GX's rule for map expectations: vacuously true on no rows, else the passing share reaches `mostly`."""
    if considered <= 0:
        return True
    return (considered - unexpected) / considered >= (1.0 if mostly is None else mostly)


def between(value: Any, low: Any, high: Any) -> bool:
    """GX's rule for a metric between bounds (inclusive); no value fails."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _considered(columns: list[str], ignore_row_if: str) -> str:
    """SQL for the rows GX's uniqueness looks at: it skips a row whose key is missing (as it is configured)."""
    if ignore_row_if == "never":
        return "true"
    joiner = " or " if ignore_row_if == "any_value_is_missing" else " and "
    missing = joiner.join(f"{_q(c)} is null" for c in columns)
    return f"not ({missing})"


@dataclass
class WholeFacts:
    """What SQL found on the whole table for one expectation across rows."""

    observed_value: Any = None
    element_count: int | None = None
    missing_count: int | None = None
    unexpected_count: int | None = None
    # Keys of some duplicated rows: the chunks pick the first rows with these keys as the sample.
    duplicate_keys: list[tuple[Any, ...]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def whole_table_facts(
    rows: pa.Table | pd.DataFrame, expects: tuple[Expect, ...], parameters: dict[str, Any], sample_rows: int
) -> dict[str, WholeFacts]:
    """Uniqueness, medians and the row count of the whole table, per expectation key, in DuckDB."""
    import duckdb

    from segmint.machine import default_memory_limit

    wanted = [e for e in expects if e.type in WHOLE_TABLE]
    facts: dict[str, WholeFacts] = {}
    if not wanted:
        return facts
    total = len(rows)
    # A connection of its own: the caller's may be merging the batch on another thread.
    con = duckdb.connect(config={"memory_limit": default_memory_limit()})
    try:
        con.register("checked", rows)
        for expect in wanted:
            try:
                facts[expect.key] = _facts(
                    con, expect, resolved(expect.kwargs, parameters), total, sample_rows
                )
            except duckdb.Error:
                continue  # a column missing from the rows: GX's own result on the first chunk says so
    finally:
        con.close()
    return facts


def _facts(
    con: duckdb.DuckDBPyConnection, expect: Expect, kwargs: dict[str, Any], total: int, sample_rows: int
) -> WholeFacts:
    """One whole-table expectation's facts (see whole_table_facts)."""
    if expect.type == ROW_COUNT:
        return WholeFacts(observed_value=total)
    if expect.type == MEDIAN:
        row = con.execute(f"select median({_q(str(kwargs['column']))}) from checked").fetchone()
        value = row[0] if row else None
        return WholeFacts(observed_value=None if value is None else float(value))
    columns = [str(kwargs["column"])] if "column" in kwargs else list(kwargs["column_list"])
    # GX's column map skips nulls; its compound check skips rows as ignore_row_if says.
    where = _considered(columns, str(kwargs.get("ignore_row_if") or "all_values_are_missing"))
    keys = ", ".join(_q(c) for c in columns)
    # Materialised once: the counts and the sample of duplicated keys both read it.
    con.execute(
        f"create or replace temp table counted as select {keys}, count(*) as n from checked where {where} group by all"
    )
    considered, unexpected = con.execute(
        "select coalesce(sum(n), 0), coalesce(sum(n) filter (where n > 1), 0) from counted"
    ).fetchone() or (0, 0)
    duplicates = con.execute(f"select {keys} from counted where n > 1 limit {int(sample_rows)}").fetchall()
    return WholeFacts(
        element_count=total,
        missing_count=total - int(considered),
        unexpected_count=int(unexpected),
        duplicate_keys=[tuple(d) for d in duplicates],
        columns=columns,
    )


@dataclass
class Tally:
    """One expectation's results over the chunks so far."""

    element_count: int = 0
    missing_count: int | None = None
    unexpected_count: int = 0
    partial_list: list[Any] = field(default_factory=list)
    partial_index: list[int] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)
    first: dict[str, Any] | None = None
    first_success: bool = True
    exception: dict[str, Any] | None = None
    map_like: bool = False

    def add(
        self, result: dict[str, Any], success: bool, exception: dict[str, Any], offset: int, sample_rows: int
    ) -> None:
        """Fold in one chunk's GX result (its row positions start at `offset` in the table)."""
        if self.first is None:
            self.first, self.first_success = result, success
        if exception.get("raised_exception") and self.exception is None:
            self.exception = exception
        if "unexpected_count" not in result:
            return
        self.map_like = True
        self.element_count += int(result.get("element_count") or 0)
        if result.get("missing_count") is not None:
            self.missing_count = (self.missing_count or 0) + int(result["missing_count"])
        self.unexpected_count += int(result.get("unexpected_count") or 0)
        room = sample_rows - len(self.partial_list)
        if room > 0:
            self.partial_list += list(result.get("partial_unexpected_list") or [])[:room]
        room = sample_rows - len(self.partial_index)
        if room > 0:
            self.partial_index += [
                offset + int(p) for p in (result.get("partial_unexpected_index_list") or [])
            ][:room]

    def combined(self, mostly: float | None) -> tuple[bool, dict[str, Any]]:
        """GX's success and result dict for the whole table, from the sums."""
        considered = self.element_count - (self.missing_count or 0)
        success = mostly_success(considered, self.unexpected_count, mostly)
        return success, map_result(
            self.element_count,
            self.missing_count,
            self.unexpected_count,
            self.partial_list,
            self.partial_index,
        )


def map_result(
    element_count: int,
    missing_count: int | None,
    unexpected_count: int,
    partial_list: list[Any],
    partial_index: list[int],
) -> dict[str, Any]:
    """A map expectation's SUMMARY result as GX words it, from whole-table counts."""
    considered = element_count - (missing_count or 0)
    result: dict[str, Any] = {
        "element_count": element_count,
        "unexpected_count": unexpected_count,
        "unexpected_percent": unexpected_count / considered * 100 if considered else None,
        "partial_unexpected_list": partial_list,
        "partial_unexpected_index_list": partial_index,
        "partial_unexpected_counts": [
            {"value": v, "count": n} for v, n in Counter(_hashable(v) for v in partial_list).most_common()
        ],
    }
    if missing_count is not None:
        result["missing_count"] = missing_count
        result["missing_percent"] = missing_count / element_count * 100 if element_count else None
        result["unexpected_percent_total"] = unexpected_count / element_count * 100 if element_count else None
        result["unexpected_percent_nonmissing"] = result["unexpected_percent"]
    return result


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value


def duplicate_rows(chunk: pd.DataFrame, facts: WholeFacts) -> list[int]:
    """Positions (in the chunk) of rows whose key SQL found duplicated."""
    import pandas as pd

    if not facts.duplicate_keys or not all(c in chunk.columns for c in facts.columns):
        return []
    if len(facts.columns) == 1:
        mask = chunk[facts.columns[0]].isin([k[0] for k in facts.duplicate_keys])
    else:
        mask = pd.MultiIndex.from_frame(chunk[facts.columns]).isin(facts.duplicate_keys)
    return [int(p) for p in chunk.index[mask]]
