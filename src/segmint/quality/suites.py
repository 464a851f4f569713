"""The suites in expectations/: one Great Expectations suite per table, each expectation with a severity.

Severity is Great Expectations' own `severity` field of each expectation (critical blocks, warning is
reported); segmint's additions (key, title, scope) live in its `meta`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from segmint.errors import ConfigError
from segmint.resources import resource_dir

Severity = Literal["critical", "warning"]
Scope = Literal["batch", "table"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")
SCOPES: tuple[Scope, ...] = ("batch", "table")
# One suite per table; orders files feed both orders and order_lines.
TABLES = ("orders", "order_lines", "customers", "events", "feedback", "customer_features")
# Night checks are SQL over the warehouse (volume, rejected files, batches waiting for replay) or judge
# tonight's files (optional columns gone from an export, orders loaded without some of their lines).
NIGHT_CHECKS = (
    "volume_low",
    "volume_high",
    "freshness",
    "rejected_files",
    "held_batches",
    "absent_columns",
    "partial_orders",
)


@dataclass(frozen=True)
class Expect:
    """One expectation of a suite: GX type and kwargs, plus segmint's key, title, severity and scope."""

    key: str
    title: str
    severity: Severity
    scopes: tuple[Scope, ...]
    type: str
    kwargs: dict[str, Any]
    config: dict[str, Any]  # the entry for Great Expectations, severity in its own field


@dataclass(frozen=True)
class NightCheck:
    """A check run in SQL once per night for the table's sources."""

    key: str
    check: str
    title: str
    severity: Severity


@dataclass(frozen=True)
class Suite:
    """A table's suite as read from expectations/<table>.json."""

    name: str
    path: Path
    expectations: tuple[Expect, ...]
    night_checks: tuple[NightCheck, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def for_scope(self, scope: Scope) -> tuple[Expect, ...]:
        """The expectations that apply to a batch, or to the table in the warehouse."""
        return tuple(e for e in self.expectations if scope in e.scopes)

    def gx_name(self, scope: Scope) -> str:
        """The suite's name inside Great Expectations (one per scope, so data docs show both)."""
        return f"{self.name}.{scope}"

    def gx_json(self, scope: Scope) -> dict[str, Any]:
        """The suite for one scope in Great Expectations' JSON form."""
        return {
            "name": self.gx_name(scope),
            "expectations": [dict(e.config) for e in self.for_scope(scope)],
            "meta": {"segmint_table": self.name, "segmint_scope": scope, **self.meta},
        }

    def expectation(self, key: str) -> Expect:
        """The expectation with this key."""
        for e in self.expectations:
            if e.key == key:
                return e
        raise KeyError(f"{self.name} has no expectation {key!r}")


def _problem(path: Path, where: str, what: str) -> ConfigError:
    return ConfigError(
        f"{path}: {where}: {what}; fix the suite file (see the README's data-quality section)."
    )


def _severity(path: Path, where: str, value: object) -> Severity:
    for s in SEVERITIES:
        if value == s:
            return s
    raise _problem(path, where, f"severity must be 'critical' or 'warning', not {value!r}")


def _expect(path: Path, index: int, entry: object) -> Expect:
    where = f"expectation {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise _problem(path, where, "each expectation needs a 'type' and 'kwargs'")
    meta = dict(entry.get("meta") or {})
    key, title = meta.get("key"), meta.get("title")
    if not isinstance(key, str) or not key or not isinstance(title, str) or not title:
        raise _problem(path, where, "meta needs a 'key' and a 'title'")
    scope = meta.get("scope")
    if scope is None:
        scopes: tuple[Scope, ...] = SCOPES
    elif scope in SCOPES:
        scopes = (scope,)
    else:
        raise _problem(path, f"{where} ({key})", f"scope must be 'batch' or 'table', not {scope!r}")
    # Suites written before severity moved into GX's own field keep it in meta: still read, once.
    legacy = meta.pop("severity", None)
    if "severity" in entry and legacy is not None and legacy != entry["severity"]:
        raise _problem(
            path,
            f"{where} ({key})",
            f"severity {entry['severity']!r} and meta.severity {legacy!r} disagree; keep only 'severity'",
        )
    severity = _severity(path, f"{where} ({key})", entry.get("severity", legacy))
    return Expect(
        key=key,
        title=title,
        severity=severity,
        scopes=scopes,
        type=entry["type"],
        kwargs=dict(entry.get("kwargs") or {}),
        config={**entry, "severity": severity, "meta": meta},
    )


def _night_check(path: Path, index: int, entry: object) -> NightCheck:
    where = f"night check {index + 1}"
    if not isinstance(entry, dict):
        raise _problem(path, where, "each night check is an object with key, check, severity and title")
    if entry.get("check") not in NIGHT_CHECKS:
        raise _problem(path, where, f"check must be one of {', '.join(NIGHT_CHECKS)}")
    return NightCheck(
        key=str(entry.get("key") or entry["check"]),
        check=str(entry["check"]),
        title=str(entry.get("title") or entry["check"]),
        severity=_severity(path, where, entry.get("severity")),
    )


def read_suite(path: Path) -> Suite:
    """Parse and check one suite file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); fix the suite file.") from None
    name = data.get("name")
    if name != path.stem:
        raise _problem(path, "name", f"the suite's name must be the file's name {path.stem!r}, not {name!r}")
    expectations = tuple(_expect(path, i, e) for i, e in enumerate(data.get("expectations") or []))
    keys = [e.key for e in expectations]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _problem(path, "meta.key", f"keys must be unique in a suite; repeated: {', '.join(repeated)}")
    meta = dict(data.get("meta") or {})
    checks = tuple(_night_check(path, i, c) for i, c in enumerate(meta.pop("night_checks", None) or []))
    return Suite(name=name, path=path, expectations=expectations, night_checks=checks, meta=meta)


def suite_files() -> list[Path]:
    """Every suite file in expectations/."""
    return sorted(resource_dir("expectations").glob("*.json"))


@cache
def load_suite(table: str) -> Suite:
    """The suite for a table, read once per process."""
    path = resource_dir("expectations") / f"{table}.json"
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing; restore the suite for table {table!r} from the segmint source."
        )
    return read_suite(path)


def load_suites() -> dict[str, Suite]:
    """Every table's suite."""
    return {table: load_suite(table) for table in TABLES}
