"""Check outcomes, as stored in validation_results: one row per check per batch per run."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from segmint.quality.suites import Severity


@dataclass
class CheckResult:
    """The outcome of one expectation or night check on one batch."""

    suite: str
    batch: str
    key: str
    title: str
    severity: Severity
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """A failed critical check: the batch is held, tonight's segments are not published."""
        return self.severity == "critical" and not self.success

    def describe(self) -> str:
        """One line: what failed and how much of the batch."""
        text = f"{self.suite}: {self.title}"
        if self.unexpected_count is not None and self.element_count:
            share = self.unexpected_count / self.element_count
            text += f" ({self.unexpected_count:,} of {self.element_count:,} rows, {share:.1%})"
        elif "summary" in self.observed:
            text += f" ({self.observed['summary']})"
        elif "error" in self.observed:
            text += f" (could not be checked: {self.observed['error']})"
        elif "observed_value" in self.observed and not isinstance(self.observed["observed_value"], list):
            text += f" (observed {self.observed['observed_value']})"
        return text


def plain(value: Any) -> Any:
    """A JSON-friendly copy of a value from pandas, numpy or DuckDB (NaN becomes null)."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        if value != value:  # NaT, a timestamp column's gap
            return None
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return plain(item())
    try:
        if value != value:  # NaT compares unequal to itself
            return None
    except TypeError:  # pandas NA (a nullable column's gap) refuses to be a truth value
        return None
    return str(value)


def record(con: duckdb.DuckDBPyConnection, run_id: str, results: list[CheckResult]) -> None:
    """Store results under a run id."""
    if not results:
        return
    con.executemany(
        "insert into validation_results (run_id, suite, batch, expectation, title, severity, success, "
        "unexpected_count, element_count, observed, sample, validated_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_localtimestamp())",
        [
            [
                run_id,
                r.suite,
                r.batch,
                r.key,
                r.title,
                r.severity,
                r.success,
                r.unexpected_count,
                r.element_count,
                json.dumps(plain(r.observed)),
                json.dumps(plain(r.sample)),
            ]
            for r in results
        ],
    )


def stored(con: duckdb.DuckDBPyConnection, run_id: str) -> list[CheckResult]:
    """The results a run recorded, in the order they were checked."""
    rows = con.execute(
        """
        select suite, batch, expectation, title, severity, success, unexpected_count, element_count,
            observed, sample
        from validation_results where run_id = ? order by validated_at, rowid
        """,
        [run_id],
    ).fetchall()
    return [
        CheckResult(
            suite=row[0],
            batch=row[1],
            key=row[2],
            title=row[3] or row[2],
            severity="critical" if row[4] == "critical" else "warning",
            success=bool(row[5]),
            unexpected_count=row[6],
            element_count=row[7],
            observed=json.loads(row[8]) if row[8] else {},
            sample=json.loads(row[9]) if row[9] else [],
        )
        for row in rows
    ]
