"""Load one source file into the warehouse in one transaction: type, split off bad rows, merge, record."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

import duckdb

from segmint.config import SourceKind, SourceSettings
from segmint.currency import base_currency, record_base_currency
from segmint.errors import SegmintError, SourceFileError
from segmint.features import DEMOGRAPHIC_COLUMNS
from segmint.ingest.presets import CANONICAL, canonical_mapping, q
from segmint.ingest.read import (
    DEFAULT_MAX_LINE_BYTES,
    LINE,
    MALFORMED,
    NOT_UTF8,
    RAW,
    ROW,
    FileNotReadyError,
    is_utf8,
    not_utf8_hint,
    read_raw,
    sha256_of,
    snapshot,
)
from segmint.schema import EVENT_TYPES
from segmint.warehouse import storage_error, transaction

# Common spellings in shop and analytics exports (REES46 uses view/cart).
EVENT_ALIASES = {
    "view": "product_view",
    "pageview": "page_view",
    "page": "page_view",
    "cart": "add_to_cart",
    "add": "add_to_cart",
    "addtocart": "add_to_cart",
    "remove": "remove_from_cart",
    "begin_checkout": "checkout",
    "transaction": "purchase",
    "order": "purchase",
}
log = logging.getLogger(__name__)
MAPPED = "mapped_batch"
TYPED = "typed_batch"
ORDERS = "batch_orders"
Status = Literal["loaded", "skipped", "rejected", "held"]


@dataclass
class FileResult:
    """What happened to one file: rows_read = rows_loaded + rows_quarantined + rows_duplicate + rows_held."""

    source: str
    path: Path
    status: Status
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    message: str = ""
    rows_held: int = 0
    rows_updated: int = 0  # of rows_loaded: keys loaded before with other content, updated in place
    # One sentence each the owner should read: an optional column gone from the export, a file skipped
    # because it was still being written or vanished.
    warnings: list[str] = field(default_factory=list)
    # Optional canonical columns that the source's previous file had and this one lacks: rows without.
    absent_columns: dict[str, int] = field(default_factory=dict)
    # Orders loaded with some of their lines in quarantine (order_quarantined_lines), and those lines.
    orders_partial: int = 0
    lines_missing: int = 0


@dataclass(frozen=True)
class Batch:
    """A batch inside the load transaction, typed into typed_batch (every row with its reason, '' when
    good, and duplicate flags) before it is merged: what the audit step sees."""

    source: SourceSettings
    path: Path
    sha256: str
    run_id: str


class Verdict(Protocol):
    """An audit under way: wait() gives its hold reason (None to publish); record() stores its results.

    failing_rows() names the rows that fail a row-level critical check, as (reason, SQL selecting their
    __row from typed_batch): they are quarantined even when the batch stays within its tolerance.
    """

    def failing_rows(self) -> Sequence[tuple[str, str]]: ...

    def wait(self) -> str | None: ...

    def record(self, con: duckdb.DuckDBPyConnection) -> None: ...


# An audit starts checking a typed batch and returns its verdict to come (or None: publish). The batch
# is merged meanwhile in the same transaction, so the checks and the merge overlap; a verdict that
# holds the batch rolls the merge back, and the rows are kept in held_rows for `segmint replay RUN_ID`.
Audit = Callable[[duckdb.DuckDBPyConnection, Batch], Verdict | None]


class _HeldBackError(Exception):
    """Raised inside the load transaction to roll back a merge that the audit holds back (why: its text)."""


# The column that dates a row of each kind: a held batch's time range, to recognise its replacement.
TIME_COLUMN: dict[SourceKind, str] = {
    "orders": "ordered_at",
    "events": "occurred_at",
    "customers": "first_seen_at",
    "feedback": "submitted_at",
}
# The ratings each feedback scale allows.
SCALE_RANGE = {"stars": (1, 5), "nps": (0, 10)}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def family_formats(day_first: bool) -> list[str]:
    """The day-first (or month-first) date formats, with seconds, minutes or no time."""
    dates = [f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y" for sep in ("/", ".", "-")]
    return [d + t for d in dates for t in (" %H:%M:%S", " %H:%M", "")]


# Layouts a file's dates may use, as families: a file uses one of them, never a mix row by row.
# Zone-aware ISO first so that offsets are honoured (a plain timestamp cast drops them silently), with
# offsets like "-0500" (Shopify); then compact %Y%m%d (CDNOW); then day-first and month-first.
FAMILIES: dict[str, str] = {
    "iso": "coalesce(try_cast({x} as timestamptz)::timestamp, try_strptime({x}, '%Y-%m-%d %H:%M:%S %z')::timestamp)",
    "compact": "try_strptime({x}, ['%Y%m%d', '%Y%m%d%H%M%S', '%Y%m%d %H:%M:%S'])",
    "day_first": "try_strptime({x}, [" + ", ".join(f"'{f}'" for f in family_formats(True)) + "])",
    "month_first": "try_strptime({x}, [" + ", ".join(f"'{f}'" for f in family_formats(False)) + "])",
}


class _AmbiguousDatesError(Exception):
    """A file's dates fit both day-first and month-first: held until timestamp_format says which.

    `fix` is what to set, without the replay that follows a held file (doctor says it before any run).
    """

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def _timestamp(text: str, fmt: str | None) -> str:
    if fmt:
        return f"try_strptime({text}, {_lit(fmt)})::timestamp"
    return FAMILIES["iso"].format(x=text)


def decide_timestamp(con: duckdb.DuckDBPyConnection, source: SourceSettings, column: str, path: Path) -> str:
    """The SQL that parses `column` of this file: one layout for the whole file, never one per row.

    An explicit timestamp_format wins. Otherwise each layout family is tried on the file's distinct
    values and the one that parses the most is used; when day-first and month-first parse equally many
    (no day above 12), the file is held with one sentence naming timestamp_format.
    """
    if source.timestamp_format:
        return _timestamp(column, source.timestamp_format)
    values = f"(select distinct {column} as x from {MAPPED} where {column} is not null)"
    # Most files are ISO throughout (also an empty column: nothing to decide). Looking for one value
    # that is not costs a parse of each row; counting the distinct values would hash them all first.
    unparsed = con.execute(
        f"select 1 from {MAPPED} where {column} is not null and {FAMILIES['iso'].format(x=column)} is null limit 1"
    ).fetchone()
    if unparsed is None:
        return FAMILIES["iso"].format(x=column)
    counts = con.execute(
        "select " + ", ".join(f"count({sql.format(x='x')})" for sql in FAMILIES.values()) + f" from {values}"
    ).fetchone()
    parsed = dict(zip(FAMILIES, (int(c) for c in counts), strict=True)) if counts else {}
    best = max(parsed.values(), default=0)
    if (
        best > 0
        and parsed["day_first"] == parsed["month_first"] == best
        and best > max(parsed["iso"], parsed["compact"])
    ):
        example_row = con.execute(
            f"select x from {values} where {FAMILIES['day_first'].format(x='x')} is not null limit 1"
        ).fetchone()
        example = str(example_row[0]) if example_row else ""
        fits = [
            f
            for f in family_formats(True) + family_formats(False)
            if con.execute("select try_strptime(?, ?) is not null", [example, f]).fetchone() == (True,)
        ]
        day, month = (fits[0], fits[1]) if len(fits) >= 2 else ("%d/%m/%Y", "%m/%d/%Y")
        fix = (
            f"its {column} values fit both day-first and month-first dates "
            f"(such as {example!r}, no day above 12); set timestamp_format = {day!r} (day first) or "
            f"{month!r} (month first) on source '{source.name}'"
        )
        raise _AmbiguousDatesError(
            f"{path.name} held back: {fix}, then run `segmint replay` with this run's id", fix
        )
    family = next(name for name, n in parsed.items() if n == best)
    return FAMILIES[family].format(x=column)


def _number(text: str, source: SourceSettings) -> str:
    """The text of a number with the source's separators made plain ("1.234,56" -> "1234.56")."""
    sql = text
    if source.thousands_separator:
        sql = f"replace({sql}, {_lit(source.thousands_separator)}, '')"
    if source.decimal_separator != ".":
        sql = f"replace({sql}, {_lit(source.decimal_separator)}, '.')"
    return sql


# A whole number in digits, "6.0" included. DuckDB's own cast rounds "2.5" to 3 and reads "1e2" as 100 and
# "0x10" as 16: none of those is a count of items someone typed.
_WHOLE = "'[+-]?[0-9]+(\\.0*)?'"
# A number written plainly: one that is no decimal(18, 4) is too large for it.
_NUMBER = "'[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?'"
# decimal(18, 4), every amount's type, holds up to 99,999,999,999,999.9999.
_AMOUNT_LIMIT = "1e14"
TOO_LARGE = "exceeds the largest amount segmint stores"


def _integer(text: str) -> str:
    return f"case when regexp_full_match({text}, {_WHOLE}) then try_cast(regexp_replace({text}, '\\.0*$', '') as integer) end"


def _bad_integer(column: str, number: str, typed: str) -> str:
    """Why the text in `column` (`number`: with the source's separators made plain) is no integer."""
    value = f"'{column} \"' || {_shown(column)} || '\""
    return (
        f"case when {column} is not null and {typed} is null then case "
        f"when regexp_full_match({number}, {_WHOLE}) then {value} is out of range' "
        f"when try_cast({number} as double) is not null then {value} is not a whole number' "
        f"else 'unparseable {column} \"' || {_shown(column)} || '\"' end end"
    )


def _amount(number: str) -> str:
    return f"try_cast({number} as decimal(18, 4))"


def _bad_amount(column: str, number: str, typed: str) -> str:
    """Why the text in `column` is no amount: too large for decimal(18, 4), or no number at all."""
    return (
        f"case when {column} is not null and {typed} is null then case "
        f"when regexp_full_match({number}, {_NUMBER}) then '{column} \"' || {_shown(column)} || '\" {TOO_LARGE}' "
        f"else 'unparseable {column} \"' || {_shown(column)} || '\"' end end"
    )


def _boolean(text: str) -> str:
    return (
        f"case when lower({text}) in ('true', 't', 'yes', 'y', '1') then true "
        f"when lower({text}) in ('false', 'f', 'no', 'n', '0') then false end"
    )


def _shown(text: str) -> str:
    """A value as a reason quotes it: on one line (control characters as spaces), at most 100 characters."""
    return (
        f"(left(regexp_replace({text}, '[[:cntrl:]]', ' ', 'g'), 100) "
        f"|| case when length({text}) > 100 then '...' else '' end)"
    )


def _unparseable(column: str, typed: str) -> str:
    """A reason when the text in `column` is there but its typed value `typed` is not."""
    return f"case when {column} is not null and {typed} is null then 'unparseable {column} \"' || {_shown(column)} || '\"' end"


def _customer_key(column: str) -> str:
    # Spreadsheet round trips store ids as floats ("17850.0", UCI Online Retail copies): the id is the
    # integer part, so the same customer joins across files.
    return f"regexp_replace({column}, '\\.0+$', '')"


def _missing(column: str) -> str:
    return f"case when {column} is null then 'missing {column}' end"


def _future(typed: str, column: str, now: datetime) -> str:
    return f"case when {typed} > {_lit(now.isoformat(sep=' '))}::timestamp then '{column} more than a day in the future' end"


def _trimmed(value: str) -> str:
    """The text of `value` without the spaces around it, empty as null.

    trim() copies every value; most values have no space around them, and looking costs less than copying.
    """
    text = f"({value})::varchar"
    return (
        f"case when prefix({text}, ' ') or suffix({text}, ' ') then nullif(trim({text}), '') "
        f"else nullif({text}, '') end"
    )


def _build_mapped(
    con: duckdb.DuckDBPyConnection, kind: SourceKind, mapping: Mapping[str, str], columns: list[str]
) -> None:
    """Canonical text columns, trimmed, empty as null, with the row's number in the file."""
    if "__skip" in mapping:
        con.execute(f"delete from {RAW} where coalesce({mapping['__skip']}, false)")
    required, optional = CANONICAL[kind]
    selects = [
        f"{_trimmed(mapping[name]) if name in mapping else 'null::varchar'} as {name}"
        for name in (*required, *optional)
    ]
    selects.append(f"{MALFORMED if MALFORMED in columns else 'null'}::varchar as {MALFORMED}")
    # rowid follows the file's order (the raw table keeps insertion order) but starts at an offset.
    con.execute(f"set variable raw_base = (select min(rowid) - 1 from {RAW})")
    con.execute(
        f"create or replace temp view {MAPPED} as "
        f"select rowid - getvariable('raw_base') as {ROW}, {', '.join(selects)} from {RAW}"
    )


# Repeats are flagged once the batch is typed (_flag_repeats): a CTE of them beside the typed rows would
# compute every check twice, once for the repeats and once for the rows.
_REPEATED = "false as dup_in_file"
# The key of each kind's typed rows, as repeats within a file are found.
_FILE_KEY: dict[SourceKind, tuple[str, ...]] = {
    "orders": ("order_id", "line_no"),
    "events": ("event_id",),
    "customers": ("customer_id",),
    "feedback": ("feedback_id",),
}


def _flag_repeats(con: duckdb.DuckDBPyConnection, kind: SourceKind) -> None:
    """Flag the good rows of typed_batch whose key an earlier good row of the file carries (dup_in_file).

    A hash aggregate of the keys that several good rows carry is nearly empty: a third of the cost of a
    window partitioned by the key over the whole file, and no update at all when no key repeats.
    """
    key = _FILE_KEY[kind]
    keys = ", ".join(key)
    joined = " and ".join(f"t.{k} = r.{k}" for k in key)
    con.execute(
        f"""
        update {TYPED} t set dup_in_file = true
        from (
            select {keys}, min({ROW}) as first_row from {TYPED} where reason = '' group by {keys} having count(*) > 1
        ) r
        where {joined} and t.reason = '' and t.{ROW} > r.first_row
        """
    )


# A row's reasons to be quarantined, '' when good; a malformed CSV line has only that one.
_REASONS = f"coalesce('malformed line: ' || {MALFORMED}, concat_ws('; ',"


def _hash(*columns: str) -> str:
    """md5 of the values, nulls distinct from any text (concat_ws alone would skip them)."""
    return "md5(concat_ws('|', " + ", ".join(f"coalesce({c}::varchar, '\\N')" for c in columns) + "))"


# What makes an order the same order: its header fields and its lines as exported (before conversion).
# Typed values (the line number given or derived, the integer quantity), so "2.0" and "2" are the same line;
# the columns of typed_batch, where the amounts as exported are the original_ ones.
LINE_HASH = ("line_no", "product_id", "product_name", "category", "quantity", "{price}", "{revenue}")
_LINE_AMOUNTS = {"{price}": "original_unit_price", "{revenue}": "original_line_revenue"}
# The canonical column behind each hashed value that an export may leave out. A file compares only the
# columns it provides: an overlapping export without product names repeats its orders, it does not change them.
_HASHED_OPTIONAL = {
    "product_id": "product_id",
    "product_name": "product_name",
    "category": "category",
    "{revenue}": "line_revenue",
    "customer_id": "customer_id",
    "is_voided": "is_voided",
    "original_currency": "currency",
    "country": "country",
    "original_refunded_amount": "refunded_amount",
}
ORDER_HASH = (
    "customer_id",
    "ordered_at",
    "is_cancellation",
    "is_voided",
    "original_currency",
    "country",
    "original_refunded_amount",
)
_EVENT_COMPARED = ("customer_id", "session_id", "product_id", "price", "category")


def _masked(columns: Sequence[str], absent: frozenset[str]) -> list[str]:
    """The hashed values with those of absent canonical columns left out (null on both sides)."""
    return ["null" if _HASHED_OPTIONAL.get(c) in absent else c for c in columns]


def hashed_absent(kind: SourceKind, provided: Iterable[str]) -> frozenset[str]:
    """The optional columns a file lacks that a repeat or change is judged on."""
    if kind == "orders":
        judged: Iterable[str] = _HASHED_OPTIONAL.values()
    elif kind == "events":
        judged = _EVENT_COMPARED
    else:
        return frozenset()
    return frozenset(judged) - set(provided)


@dataclass(frozen=True)
class _Context:
    """What typing a batch needs beyond its source: the decided time parsing and the base currency."""

    time_sql: str
    base: str | None
    absent: frozenset[str] = frozenset()
    # Whether some row is in a currency other than the base one (else no exchange rate is looked up).
    converts: bool = True


# Decimal arithmetic on an amount too large raises: only for rows whose amounts fit (the others are bad
# rows). Products are taken in 38 digits: DuckDB multiplies two decimal(18)s in 18 digits and raises when
# the scaled product does not fit, even when the result would.
_FITTING = "case when fits then "


def _order_amounts(base: str, converts: bool) -> tuple[str, str, str, str, str]:
    """SQL of an order line's amounts: (revenue as given, the priced CTE, and unit price, line revenue and
    refund in the base currency)."""
    revenue = f"({_FITTING}coalesce(line_revenue_given, qty * price::decimal(38, 4)) end)::decimal(18, 4)"
    # The as-of join costs more than any cast: a file all in the base currency has every rate 1.
    priced = (
        f"""select t.*,
                case when {base} is null or t.currency_code is null or t.currency_code = {base} then 1.0
                    else r.rate end::decimal(18, 8) as fx
            from typed t asof left join exchange_rates r
                on r.currency = t.currency_code and t.ordered_ts >= r.day"""
        if converts
        else "select *, 1.0::decimal(18, 8) as fx from typed"
    )

    if converts:
        unit_price = f"({_FITTING}price::decimal(38, 4) * fx end)::decimal(18, 4)"
        line_revenue = f"({_FITTING}coalesce(line_revenue_given::decimal(38, 4), qty * price::decimal(38, 4)) * fx end)::decimal(18, 4)"
        refunded = f"({_FITTING}refunded_given::decimal(38, 4) * fx end)::decimal(18, 4)"
    else:
        # Every rate is 1: the converted amounts are the amounts as given (the products in 38 digits and
        # their rescaling cost more than all the casts).
        unit_price, line_revenue, refunded = f"{_FITTING}price end", revenue, f"{_FITTING}refunded_given end"
    return revenue, priced, unit_price, line_revenue, refunded


def _orders_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str], ctx: _Context) -> str:
    # Longer than most: one statement whose CTEs (typed, priced, sized, checked) read top to bottom; its
    # parts that vary by file are the variables set first.
    currency = _lit(source.currency) if source.currency else "null"
    base = _lit(ctx.base) if ctx.base else "null"
    # Windows over the whole file cost more than all the casts: only when the file lacks the column.
    line = (
        f"coalesce(line_no_given, row_number() over (partition by order_id order by {ROW}))"
        if "line_no" not in mapping
        else "line_no_given"
    )
    # Without a flag, an order whose every line is negative is a cancellation or return.
    cancellation = (
        "coalesce(is_cancellation_given, bool_and(qty < 0) over (partition by order_id))"
        if "is_cancellation" not in mapping
        else "coalesce(is_cancellation_given, false)"
    )
    line_checks = (
        f"{_missing('line_no')}, {_bad_integer('line_no', 'line_no', 'line_no_given')}"
        if "line_no" in mapping
        else "null"
    )
    # An export with product names but no product ids: the name is the product's key, so that product
    # features and recommendations see its products. The hashes take the key as stored (a file without
    # ids compares without them, as _HASHED_OPTIONAL says).
    product_key = (
        "replace (coalesce(product_id, product_name) as product_id)" if "product_id" not in mapping else ""
    )

    revenue, priced, unit_price, line_revenue, refunded = _order_amounts(base, ctx.converts)
    return f"""
        with typed as (
            select * {product_key},
                {ctx.time_sql} as ordered_ts,
                {_integer(_number("quantity", source))} as qty,
                {_amount(_number("unit_price", source))} as price,
                {_integer("line_no")} as line_no_given,
                {_amount(_number("line_revenue", source))} as line_revenue_given,
                {_amount(_number("refunded_amount", source))} as refunded_given,
                {_boolean("is_cancellation")} as is_cancellation_given,
                coalesce({_boolean("is_voided")}, false) as voided,
                {_boolean("marketing_consent")} as consent,
                upper(coalesce(currency, {currency})) as currency_code
            from {MAPPED}
        ),
        -- The rate of the order's day or the last one before it; none needed in the base currency or
        -- without a currency (such an order is in the base currency).
        priced as ({priced}),
        -- Each amount as given and converted must fit decimal(18, 4): computed in doubles, which cannot
        -- overflow, before any decimal arithmetic that would raise on it.
        sized as (
            select *,
                greatest(abs(line_total), abs(line_total * rate)) < {_AMOUNT_LIMIT} as line_fits,
                greatest(abs(price_d * rate), abs(refunded_d), abs(refunded_d * rate)) < {_AMOUNT_LIMIT}
                    as amounts_fit
            from (
                select *, coalesce(line_revenue_given::double, qty::double * price::double, 0) as line_total,
                    coalesce(price::double, 0) as price_d, coalesce(refunded_given::double, 0) as refunded_d,
                    coalesce(fx::double, 1) as rate
                from priced
            )
        ),
        checked as (
            select *,
                {_REASONS}
                    {_missing("order_id")},
                    {_missing("ordered_at")},
                    {_unparseable("ordered_at", "ordered_ts")},
                    {_future("ordered_ts", "ordered_at", now)},
                    {_missing("quantity")},
                    {_bad_integer("quantity", _number("quantity", source), "qty")},
                    case when qty = 0 then 'zero quantity' end,
                    {_missing("unit_price")},
                    {_bad_amount("unit_price", _number("unit_price", source), "price")},
                    case when price < 0 then 'negative unit_price' end,
                    {_bad_amount("line_revenue", _number("line_revenue", source), "line_revenue_given")},
                    {_bad_amount("refunded_amount", _number("refunded_amount", source), "refunded_given")},
                    case when not line_fits then 'line total {TOO_LARGE}' end,
                    case when not amounts_fit then 'unit_price or refunded_amount {TOO_LARGE} once converted to '
                        || coalesce({base}, 'the base currency') end,
                    case when fx is null and ordered_ts is not null then 'no exchange rate for ' || {_shown("currency_code")}
                        || ' on or before ' || strftime(ordered_ts, '%Y-%m-%d')
                        || '; add it to [shop] exchange_rates' end,
                    {line_checks}
                )) as reason,
                {line} as line,
                line_fits and amounts_fit as fits
            from sized
        )
        select {ROW}, order_id, line as line_no, {_customer_key("customer_id")} as customer_id,
            ordered_ts as ordered_at, qty as quantity, {unit_price} as unit_price, {line_revenue} as line_revenue,
            voided or {cancellation} as is_cancellation, voided as is_voided,
            product_id, product_name, category, coalesce({base}, currency_code) as currency, country, email,
            {refunded} as refunded_amount, consent as marketing_consent, reason,
            {_REPEATED},
            currency_code as original_currency, price as original_unit_price,
            {revenue} as original_line_revenue,
            refunded_given as original_refunded_amount, fx as exchange_rate
        from checked
    """


def _events_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str], ctx: _Context) -> str:
    aliases = " ".join(f"when {_lit(k)} then {_lit(v)}" for k, v in EVENT_ALIASES.items())
    known = ", ".join(_lit(t) for t in EVENT_TYPES)
    # Exports without an event id get one from the row's content, numbered among identical rows, so
    # reloading the same events under another file name is recognised as a repeat.
    content = "md5(concat_ws('|', occurred_at, event_type, customer_id, session_id, product_id, price))"
    event_id = (
        "event_id"
        if "event_id" in mapping
        else f"{content} || '-' || row_number() over (partition by {content} order by {ROW})"
    )
    return f"""
        with typed as (
            select * exclude (event_id, event_type),
                {event_id} as event_id,
                {ctx.time_sql} as occurred_ts,
                lower(event_type) as event_type,
                {_amount(_number("price", source))} as price_typed
            from {MAPPED}
        ),
        normalised as (
            select *,
                case when event_type in ({known}) then event_type else (case event_type {aliases} end) end
                    as event_type_normalised
            from typed
        ),
        checked as (
            select *,
                {_REASONS}
                    {_missing("event_id")},
                    {_missing("occurred_at")},
                    {_unparseable("occurred_at", "occurred_ts")},
                    {_future("occurred_ts", "occurred_at", now)},
                    {_missing("event_type")},
                    case when event_type is not null and event_type_normalised is null
                        then 'unknown event_type "' || {_shown("event_type")} || '"' end,
                    {_bad_amount("price", _number("price", source), "price_typed")},
                    case when price_typed < 0 then 'negative price' end
                )) as reason
            from normalised
        )
        select {ROW}, event_id, occurred_ts as occurred_at, customer_id, session_id,
            event_type_normalised as event_type, product_id, price_typed as price, category, reason,
            {_REPEATED},
            -- The type as delivered (lower case) where it is unknown, for the checks to show.
            case when event_type_normalised is null then event_type end as unknown_event_type
        from checked
    """


# The customer details a customers file carries besides its key and first-seen time; empty values keep
# the stored ones when a file is merged.
CUSTOMER_DETAILS = ("email", "country", "marketing_consent", *DEMOGRAPHIC_COLUMNS, "phone")
# Birth years segmint accepts: a later or earlier one is a typing error, and an age from it would mislead.
BIRTH_YEAR_MIN = 1900
# Spellings of gender exports use, spelled out so that "F" and "female" count as one group in profiles.
_GENDERS = {
    "f": "female",
    "w": "female",
    "woman": "female",
    "m": "male",
    "man": "male",
    "d": "diverse",
    "x": "diverse",
}


def _birth_year(column: str) -> str:
    """The year of a birth year ("1984") or a birth date ("1984-05-17", "17.05.1984", "05/17/1984")."""
    return (
        f"case when regexp_full_match({column}, '[0-9]{{4}}') then try_cast({column} as integer) "
        f"else try_cast(regexp_extract({column}, '(^|[^0-9])((19|20)[0-9]{{2}})($|[^0-9])', 2) as integer) end"
    )


def _customers_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str], ctx: _Context) -> str:
    genders = " ".join(f"when {_lit(k)} then {_lit(v)}" for k, v in _GENDERS.items())
    return f"""
        with typed as (
            select * exclude (gender),
                {_customer_key("customer_id")} as customer_key,
                {ctx.time_sql} as first_seen_ts,
                {_boolean("marketing_consent")} as consent,
                {_birth_year("birth_year")} as birth_year_typed,
                case lower(gender) {genders} else lower(gender) end as gender
            from {MAPPED}
        ),
        checked as (
            select {ROW}, customer_key as customer_id, email, country, first_seen_ts as first_seen_at,
                consent as marketing_consent, birth_year_typed as birth_year, age_band, gender, city, region,
                phone,
                {_REASONS}
                    {_missing("customer_id")},
                    {_unparseable("first_seen_at", "first_seen_ts")},
                    {_unparseable("marketing_consent", "consent")},
                    {_unparseable("birth_year", "birth_year_typed")},
                    case when birth_year_typed not between {BIRTH_YEAR_MIN} and {now.year}
                        then 'birth_year ' || birth_year_typed || ' is outside {BIRTH_YEAR_MIN}-{now.year}' end
                )) as reason
            from typed
        )
        select checked.*,
            {_REPEATED}
        from checked
    """


def _feedback_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str], ctx: _Context) -> str:
    scale = source.rating_scale
    low, high = SCALE_RANGE[scale]
    # Review exports (Judge.me) carry no review id: one from the row's content, numbered among identical
    # rows, so the same reviews exported again are recognised as repeats.
    content = "md5(concat_ws('|', submitted_at, rating, customer_id, email, order_id, product_id, text))"
    feedback_id = (
        "feedback_id"
        if "feedback_id" in mapping
        else f"{content} || '-' || row_number() over (partition by {content} order by {ROW})"
    )
    return f"""
        with typed as (
            select * exclude (feedback_id, customer_id, email),
                {feedback_id} as feedback_id,
                {_customer_key("customer_id")} as given_customer,
                lower(email) as email,
                {ctx.time_sql} as submitted_ts,
                {_integer(_number("rating", source))} as rating_typed
            from {MAPPED}
        ),
        -- The customer of a row without an id: the one whose e-mail address it names (the first id when
        -- several customers share the address). Rows it finds nobody for are loaded and matched again
        -- when features are built, once that customer is loaded.
        addresses as (
            select lower(trim(email)) as email, min(customer_id) as customer_id
            from customers where email is not null group by 1
        ),
        matched as (
            select t.*, coalesce(t.given_customer, a.customer_id) as customer_id
            from typed t left join addresses a on t.given_customer is null and t.email = a.email
        ),
        checked as (
            select *,
                {_REASONS}
                    {_missing("feedback_id")},
                    {_missing("submitted_at")},
                    {_unparseable("submitted_at", "submitted_ts")},
                    {_future("submitted_ts", "submitted_at", now)},
                    {_missing("rating")},
                    {_bad_integer("rating", _number("rating", source), "rating_typed")},
                    case when rating_typed not between {low} and {high} then 'rating ' || rating_typed
                        || ' is outside the {scale} scale {low}-{high} (scale = "{scale}" on source '
                        || {_lit(source.name)} || ')' end,
                    case when given_customer is null and email is null then 'missing customer_id and email' end
                )) as reason
            from matched
        )
        select {ROW}, feedback_id, submitted_ts as submitted_at, customer_id, email, rating_typed as rating,
            {_lit(scale)} as scale, order_id, product_id, text, reason,
            {_REPEATED}
        from checked
    """


_TYPED_SQL = {
    "orders": _orders_sql,
    "events": _events_sql,
    "customers": _customers_sql,
    "feedback": _feedback_sql,
}


KNOWN = "batch_known"
ROWS = "batch_rows"
KEY: dict[SourceKind, str] = {
    "orders": "order_id",
    "events": "event_id",
    "customers": "customer_id",
    "feedback": "feedback_id",
}
_FEEDBACK_COMPARED = (
    "submitted_at",
    "rating",
    "scale",
    "customer_id",
    "email",
    "order_id",
    "product_id",
    "text",
)
# Rows a batch merges: good, first of their key in the file, and new (or changed, when updated).
_MERGED = "reason = '' and not dup_in_file and (state = 'new' or (state = 'changed' and getvariable('update_changed')))"


def _absent(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The compared columns the batch's file lacks (set by _type_batch)."""
    row = con.execute("select getvariable('absent_columns')").fetchone()
    return frozenset(row[0] or ()) if row else frozenset()


def _joined_by_line(value: str, where: str = "", line: str = "line_no") -> str:
    """The order's `value`s joined with commas in line order (null without lines), as
    string_agg(value, ',' order by line) gives it: an ordered aggregate sorts each of a file's
    hundreds of thousands of orders apart, a list of (line, value) sorted afterwards is a third faster.
    The lines of an order are distinct, so sorting the pairs orders them by line alone."""
    pairs = f"list(struct_pack(n := {line}, v := {value})) {where}"
    return f"array_to_string(list_transform(list_sort({pairs}), lambda p: p.v), ',')"


def _line_hash(absent: frozenset[str] = frozenset()) -> str:
    """md5 of a typed_batch line as exported, with the columns in `absent` left out (null)."""
    return _hash(*(_LINE_AMOUNTS.get(c, c) for c in _masked(LINE_HASH, absent)))


_ONCE = "filter (where not dup_in_file)"


def _aggregate_orders(con: duckdb.DuckDBPyConnection) -> None:
    """batch_orders: one row per order id of the good lines, for the audit and the merge alike.

    The order's fields come from its lines in the file less repeated lines; the conflict columns
    (customers_differ, first and last line time, line_count) see every good line. content_hash is of
    every column; the hash without the columns the file lacks is needed for known orders only (_compare).
    """
    # The filter leaves out a file's repeated lines; most files repeat none, and each filtered aggregate
    # costs a column of its own.
    repeated = con.execute(f"select 1 from {TYPED} where dup_in_file limit 1").fetchone() is not None
    once = _ONCE if repeated else ""
    con.execute(
        f"""
        create or replace temp table {ORDERS} as
        with agg as (
            select order_id, min({ROW}) as {ROW},
                arg_min(customer_id, line_no) {once} as customer_id, arg_min(ordered_at, line_no) {once} as ordered_at,
                bool_or(is_cancellation) {once} as is_cancellation,
                -- A voided order never happened: its lines are kept as exported, its revenue is 0.
                case when bool_or(is_voided) {once} then 0 else sum(line_revenue) {once} end as revenue,
                case when bool_or(is_voided) {once} then 0 else sum(original_line_revenue) {once} end
                    as original_revenue,
                arg_min(currency, line_no) {once} as currency, arg_min(country, line_no) {once} as country,
                arg_min(original_currency, line_no) {once} as original_currency,
                arg_min(exchange_rate, line_no) {once} as exchange_rate,
                max(refunded_amount) {once} as refunded_amount,
                max(original_refunded_amount) {once} as original_refunded_amount,
                coalesce(bool_or(is_voided) {once}, false) as is_voided,
                {_joined_by_line(_line_hash(), once)} as lines_hash,
                min(coalesce(customer_id, '')) <> max(coalesce(customer_id, '')) as customers_differ,
                min(ordered_at) as first_line_at, max(ordered_at) as last_line_at, count(*) as line_count
            from {TYPED} where reason = ''
            group by order_id
        )
        select * exclude (lines_hash), {_hash(*ORDER_HASH, "lines_hash")} as content_hash from agg
        """
    )


def _stored_hash(absent: frozenset[str], keys: str) -> str:
    """The content hash of the stored versions of the orders in `keys`, as a file without `absent` has it."""
    line = _hash(
        *_masked(
            (
                "l.line_no",
                "product_id",
                "product_name",
                "category",
                "l.quantity",
                "coalesce(x.original_unit_price, l.unit_price)",
                "{revenue}",
            ),
            absent,
        )
    ).replace("{revenue}", "coalesce(x.original_line_revenue, l.line_revenue)")
    header = _hash(
        *_masked(
            (
                "customer_id",
                "o.ordered_at",
                "o.is_cancellation",
                "is_voided",
                "original_currency",
                "country",
                "original_refunded_amount",
            ),
            absent,
        ),
        "s.lines_hash",
    )
    return f"""
        select o.order_id, {header} as content_hash
        from (
            select o.order_id, o.customer_id, o.ordered_at, o.is_cancellation, coalesce(o.is_voided, false) as is_voided,
                coalesce(h.original_currency, upper(o.currency)) as original_currency, o.country,
                -- Orders loaded before 007 have no originals: they were stored in the base currency.
                case when h.order_id is null then o.refunded_amount else h.original_refunded_amount end
                    as original_refunded_amount
            from orders o left join order_originals h using (order_id)
            where o.order_id in (select order_id from {keys})
        ) o join (
            select l.order_id, {_joined_by_line(line, line="l.line_no")} as lines_hash
            from order_lines l left join order_line_originals x using (order_id, line_no)
            where l.order_id in (select order_id from {keys})
            group by l.order_id
        ) s using (order_id)
    """


def _same(kind: SourceKind, absent: frozenset[str]) -> str:
    """When a stored row s and the file's row b with the same key are the same row."""
    if kind == "events":
        return " and ".join(
            f"s.{c} is not distinct from b.{c}"
            for c in ("occurred_at", "event_type", *_EVENT_COMPARED)
            if c not in absent
        )
    if kind == "feedback":
        return " and ".join(f"s.{c} is not distinct from b.{c}" for c in _FEEDBACK_COMPARED)
    # A customers row is the same when loading it would change nothing (empty values keep the stored ones).
    return (
        " and ".join(f"coalesce(b.{c}, s.{c}) is not distinct from s.{c}" for c in CUSTOMER_DETAILS)
        + " and least(b.first_seen_at, s.first_seen_at) is not distinct from s.first_seen_at"
    )


def _compare(con: duckdb.DuckDBPyConnection, source: SourceSettings) -> None:
    """batch_known: the batch's keys already in the warehouse, 'same' or 'changed', probed by the keys.

    The warehouse is probed with this file's keys (a hash table of the file's keys, not of every key
    ever loaded: gigabytes at tens of millions of rows); orders compare one content hash per order.
    """
    kind = source.kind
    con.execute(f"set variable update_changed = {str(source.on_changed == 'update').lower()}")
    if kind == "orders":
        _compare_orders(con)
    else:
        key = KEY[kind]
        only_files = "where source_file is not null" if kind == "customers" else ""
        con.execute(
            f"""
            create or replace temp table {KNOWN} as
            select s.{key}, case when {_same(kind, _absent(con))} then 'same' else 'changed' end as state,
                s.source_file as stored_file
            from (select * from {kind} {only_files}) s
            join (select * from {TYPED} where reason = '' and not dup_in_file) b using ({key})
            """
        )
    con.execute(
        f"create or replace temp view {ROWS} as select t.*, coalesce(k.state, 'new') as state, k.stored_file "
        f"from {TYPED} t left join {KNOWN} k using ({KEY[kind]})"
    )


def _stored_order_hashes(con: duckdb.DuckDBPyConnection) -> None:
    """batch_known: the file's orders already stored, with their stored file and content hash."""
    # The stored orders probed with the file's order ids; their hashes only for the orders found (a
    # second probe, of order_originals, that a file of new orders, the usual one, does without).
    con.execute(
        f"""
        create or replace temp table {KNOWN} as
        select s.order_id, s.source_file as stored_file, null::varchar as content_hash
        from orders s where s.order_id in (select order_id from {ORDERS})
        """
    )
    if _count(con, f"select count(*) from {KNOWN}"):
        con.execute(
            f"""
            update {KNOWN} k set content_hash = h.content_hash
            from (select order_id, content_hash from order_originals
                  where order_id in (select order_id from {KNOWN})) h
            where k.order_id = h.order_id
            """
        )
    con.execute(
        f"create or replace temp table legacy_orders as select order_id from {KNOWN} where content_hash is null"
    )
    if _count(con, "select count(*) from legacy_orders"):
        con.execute(
            f"""
            insert into order_originals (
                order_id, content_hash, original_currency, original_revenue, original_refunded_amount, exchange_rate
            )
            select o.order_id, s.content_hash, upper(o.currency), o.revenue, o.refunded_amount, 1
            from orders o join ({_stored_hash(frozenset(), "legacy_orders")}) s using (order_id)
            """
        )
        con.execute(
            f"update {KNOWN} k set content_hash = h.content_hash from order_originals h "
            "where k.order_id = h.order_id and k.content_hash is null"
        )


def _compare_orders(con: duckdb.DuckDBPyConnection) -> None:
    """batch_known for orders: 'same' or 'changed' by one content hash per order."""
    _stored_order_hashes(con)
    absent = _absent(con)
    compared = "b.content_hash"
    if absent and _count(con, f"select count(*) from {KNOWN}"):
        # Recomputed from the stored rows without the columns this file lacks, and the file's
        # orders hashed without them too (only these: the other orders are new).
        con.execute(
            f"update {KNOWN} k set content_hash = s.content_hash from ({_stored_hash(absent, KNOWN)}) s "
            "where k.order_id = s.order_id"
        )
        con.execute(
            f"""
            create or replace temp table batch_compared as
            select order_id, {_hash(*(f"b.{c}" if c != "null" else c for c in _masked(ORDER_HASH, absent)), "l.lines_hash")}
                as compare_hash
            from {ORDERS} b join (
                select order_id, {_joined_by_line(_line_hash(absent), _ONCE)} as lines_hash
                from {TYPED}
                where reason = '' and order_id in (select order_id from {KNOWN})
                group by order_id
            ) l using (order_id)
            """
        )
        compared = "c.compare_hash"
    joined = "join batch_compared c using (order_id)" if compared != "b.content_hash" else ""
    con.execute(
        f"""
        create or replace temp table {KNOWN} as
        select k.order_id, case when k.content_hash = {compared} then 'same' else 'changed' end as state,
            k.stored_file
        from {KNOWN} k join {ORDERS} b using (order_id) {joined}
        """
    )


def _keys_to_update(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """The subquery of the batch's changed keys when they replace the stored rows (on_changed = "update")."""
    if _count(con, f"select count(*) from {KNOWN} where state = 'changed' and getvariable('update_changed')"):
        return f"(select {key} from {KNOWN} where state = 'changed')"
    return None


def _archive_orders(con: duckdb.DuckDBPyConnection, batch: Batch, changed: str) -> None:
    """Move the stored versions of the orders this batch replaces (and their lines) to the history tables."""
    path = str(batch.path)
    con.execute(
        f"""
        insert into orders_history by name
        select o.order_id, o.customer_id, o.ordered_at, o.is_cancellation, o.is_voided, o.revenue, o.currency,
            o.country, o.refunded_amount, o.source_file, h.content_hash, h.original_currency,
            h.original_revenue, h.exchange_rate,
            ? as replaced_by_run, ? as replaced_by_file, current_localtimestamp() as replaced_at
        from orders o left join order_originals h using (order_id) where o.order_id in {changed}
        """,
        [batch.run_id, path],
    )
    con.execute(
        f"""
        insert into order_lines_history by name
        select l.order_id, l.line_no, l.product_id, l.product_name, l.category, l.quantity, l.unit_price,
            l.line_revenue, coalesce(x.original_unit_price, l.unit_price) as original_unit_price,
            coalesce(x.original_line_revenue, l.line_revenue) as original_line_revenue,
            ? as replaced_by_run, ? as replaced_by_file, current_localtimestamp() as replaced_at
        from order_lines l left join order_line_originals x using (order_id, line_no)
        where l.order_id in {changed}
        """,
        [batch.run_id, path],
    )
    for table in ("orders", "order_lines", "order_originals", "order_line_originals"):
        con.execute(f"delete from {table} where order_id in {changed}")


def _merge_orders(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    path = str(batch.path)
    changed = _keys_to_update(con, "order_id")
    if changed:
        _archive_orders(con, batch, changed)
    # The orders the batch adds: not those loaded before, unless they replace the stored version.
    kept = (
        f"not exists (select 1 from {KNOWN} k where k.order_id = b.order_id "
        "and (k.state = 'same' or not getvariable('update_changed')))"
    )
    con.execute(
        f"""
        insert into orders by name
        select order_id, customer_id, ordered_at, is_cancellation, revenue, currency, ? as source_file, country,
            refunded_amount, is_voided
        from {ORDERS} b where {kept}
        """,
        [path],
    )
    con.execute(
        f"""
        insert into order_originals (
            order_id, content_hash, original_currency, original_revenue, original_refunded_amount, exchange_rate
        )
        select order_id, content_hash, original_currency, original_revenue, original_refunded_amount,
            exchange_rate
        from {ORDERS} b where {kept}
        """
    )
    con.execute(
        f"""
        insert into order_lines by name
        select order_id, line_no, product_id, product_name, category, quantity, unit_price, line_revenue
        from {ROWS} where {_MERGED}
        """
    )
    con.execute(
        f"""
        insert into order_line_originals (order_id, line_no, original_unit_price, original_line_revenue)
        select order_id, line_no, original_unit_price, original_line_revenue
        from {ROWS} where {_MERGED} and exchange_rate <> 1
        """
    )
    if changed:
        _keep_absent(con, batch, changed)
    _register_customers(con, "ordered_at")


# What an updated row keeps from its stored version when the new file lacks the column.
_KEPT: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "orders": ("order_id", (), ("customer_id", "country", "refunded_amount", "is_voided")),
    "order_lines": ("order_id", ("line_no",), ("product_id", "product_name", "category")),
    "events": ("event_id", (), _EVENT_COMPARED),
}


def _keep_absent(con: duckdb.DuckDBPyConnection, batch: Batch, changed: str) -> None:
    """Updated rows keep the stored values of the columns their file lacks, from the history just written."""
    absent = _absent(con)
    tables = ("orders", "order_lines") if batch.source.kind == "orders" else ("events",)
    for table in tables:
        key, more, columns = _KEPT[table]
        kept = [c for c in columns if c in absent]
        if not kept:
            continue
        joined = " and ".join(f"t.{c} = h.{c}" for c in (key, *more))
        con.execute(
            f"""
            update {table} t set {", ".join(f"{c} = h.{c}" for c in kept)}
            from {table}_history h
            where {joined} and t.{key} in {changed} and h.replaced_by_run = ? and h.replaced_by_file = ?
            """,
            [batch.run_id, str(batch.path)],
        )
    if "is_voided" in absent and batch.source.kind == "orders":
        # An order voided before stays void: worth nothing, left out like a cancellation.
        con.execute(
            f"update orders set revenue = 0, is_cancellation = true where is_voided and order_id in {changed}"
        )


def _merge_events(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    path = str(batch.path)
    changed = _keys_to_update(con, "event_id")
    if changed:
        con.execute(
            f"""
            insert into events_history by name
            select event_id, occurred_at, customer_id, session_id, event_type, product_id, price, category,
                source_file, ? as replaced_by_run, ? as replaced_by_file, current_localtimestamp() as replaced_at
            from events where event_id in {changed}
            """,
            [batch.run_id, path],
        )
        con.execute(f"delete from events where event_id in {changed}")
    con.execute(
        f"""
        insert into events by name
        select event_id, occurred_at, customer_id, session_id, event_type, product_id, price, ? as source_file,
            category
        from {ROWS} where {_MERGED}
        """,
        [path],
    )
    if changed:
        _keep_absent(con, batch, changed)
    _register_customers(con, "occurred_at")


def _register_customers(con: duckdb.DuckDBPyConnection, time_column: str) -> None:
    """Customers first met in orders or events join the customers table; first_seen_at moves earlier."""
    has_details = time_column == "ordered_at"
    details = ("email", "country", "marketing_consent")
    picks = ", ".join(
        (f"arg_min({name}, {time_column})" if has_details else "null") + f" as {name}" for name in details
    )
    con.execute(
        f"""
        create or replace temp table batch_customers as
        select customer_id, {picks}, min({time_column}) as first_seen_at
        from {ROWS}
        where {_MERGED} and customer_id is not null
        group by customer_id
        """
    )
    # Details already known win: a customers file is the better source for them. One merge probes the
    # customers table once with the batch's customers (an update and an insert would probe it twice).
    con.execute(
        """
        merge into customers c using batch_customers b on c.customer_id = b.customer_id
        -- Only rows that change: most of a file's customers are known with their details already.
        when matched and (c.first_seen_at is null or b.first_seen_at < c.first_seen_at
               or (c.email is null and b.email is not null) or (c.country is null and b.country is not null)
               or (c.marketing_consent is null and b.marketing_consent is not null)) then update set
            first_seen_at = least(coalesce(c.first_seen_at, b.first_seen_at), b.first_seen_at),
            email = coalesce(c.email, b.email), country = coalesce(c.country, b.country),
            marketing_consent = coalesce(c.marketing_consent, b.marketing_consent)
        when not matched then insert (customer_id, email, country, first_seen_at, marketing_consent, source_file)
            values (b.customer_id, b.email, b.country, b.first_seen_at, b.marketing_consent, null)
        """
    )


def _merge_customers(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    path = str(batch.path)
    details = ", ".join(CUSTOMER_DETAILS)
    con.execute(
        f"""
        insert into customers_history by name
        select customer_id, first_seen_at, {details}, source_file,
            ? as replaced_by_run, ? as replaced_by_file, current_localtimestamp() as replaced_at
        from customers
        where customer_id in (select customer_id from {KNOWN} where state = 'changed')
          and getvariable('update_changed')
        """,
        [batch.run_id, path],
    )
    good = f"(select * from {ROWS} where {_MERGED})"
    kept = ", ".join(f"{d} = coalesce(b.{d}, c.{d})" for d in CUSTOMER_DETAILS)
    con.execute(
        f"""
        update customers c set {kept},
            first_seen_at = least(b.first_seen_at, c.first_seen_at), source_file = ?
        from {good} b where c.customer_id = b.customer_id
        """,
        [path],
    )
    con.execute(
        f"""
        insert into customers by name
        select customer_id, first_seen_at, {details}, ? as source_file from {good} b
        where not exists (select 1 from customers c where c.customer_id = b.customer_id)
        """,
        [path],
    )


def _merge_feedback(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    path = str(batch.path)
    changed = _keys_to_update(con, "feedback_id")
    columns = ", ".join(("feedback_id", *_FEEDBACK_COMPARED))
    if changed:
        con.execute(
            f"""
            insert into feedback_history by name
            select {columns}, source_file, ? as replaced_by_run, ? as replaced_by_file,
                current_localtimestamp() as replaced_at
            from feedback where feedback_id in {changed}
            """,
            [batch.run_id, path],
        )
        con.execute(f"delete from feedback where feedback_id in {changed}")
    con.execute(
        f"insert into feedback by name select {columns}, ? as source_file from {ROWS} where {_MERGED}", [path]
    )


_MERGE = {
    "orders": _merge_orders,
    "events": _merge_events,
    "customers": _merge_customers,
    "feedback": _merge_feedback,
}


def _raw_record(con: duckdb.DuckDBPyConnection) -> str:
    """The row as read, as JSON: its columns, or for a malformed CSV line {"line": its text}."""
    columns = [row[0] for row in con.execute(f"describe {RAW}").fetchall()]
    if MALFORMED not in columns:
        return "to_json(r)::varchar"
    fields = ", ".join(f"{_lit(c)}: r.{q(c)}" for c in columns if c not in (LINE, MALFORMED))
    return f"(case when r.{MALFORMED} is null then to_json({{{fields}}}) else to_json({{'line': r.{LINE}}}) end)::varchar"


def _quarantine(con: duckdb.DuckDBPyConnection, batch: Batch, reason_sql: str, where: str) -> None:
    con.execute(
        f"""
        insert into quarantine (run_id, source, source_file, row_number, raw_record, reason, quarantined_at)
        select ?, ?, ?, t.{ROW}, {_raw_record(con)}, t.reason, current_localtimestamp()
        from (select {ROW}, {reason_sql} as reason from {ROWS} where {where}) t
            -- The raw rows found by their rowid: the few quarantined ones' row groups are all that is read.
            join {RAW} r on r.rowid = t.{ROW} + getvariable('raw_base')
        """,
        [batch.run_id, batch.source.name, str(batch.path)],
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _hold(
    con: duckdb.DuckDBPyConnection, batch: Batch, columns: list[str], reason: str, *, typed: bool = True
) -> int:
    """Keep a held batch: its rows as read (text) in held_rows, one held_batches row; return rows kept."""
    rows_read = _count(con, f"select count(*) from {RAW}")
    # A replay that fails again leaves the batch held under the run that first held it.
    if con.execute(
        "update held_batches set reason = ? where sha256 = ? and status = 'held' returning 1",
        [reason, batch.sha256],
    ).fetchall():
        return rows_read
    time_column = TIME_COLUMN[batch.source.kind]
    span = (
        con.execute(f"select min({time_column}), max({time_column}) from {TYPED} ").fetchone()
        if typed
        else None
    )
    con.execute(
        f"insert into held_rows (sha256, row_number, raw_record) "
        f"select ?, rowid - getvariable('raw_base'), to_json(r)::varchar from {RAW} r",
        [batch.sha256],
    )
    con.execute(
        "insert into held_batches (run_id, source, kind, path, sha256, rows_read, columns, min_at, max_at, reason, "
        "held_at, status, resolved_by, resolved_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_localtimestamp(), 'held', null, null)",
        [
            batch.run_id,
            batch.source.name,
            batch.source.kind,
            str(batch.path),
            batch.sha256,
            rows_read,
            json.dumps(columns),
            span[0] if span else None,
            span[1] if span else None,
            reason,
        ],
    )
    return rows_read


def _resolve_held(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """A published batch settles held batches: its own content (replayed) and older copies it replaces."""
    con.execute(
        "update held_batches set status = 'replayed', resolved_by = ?, resolved_at = current_localtimestamp() "
        "where sha256 = ? and status = 'held'",
        [batch.run_id, batch.sha256],
    )
    con.execute("delete from held_rows where sha256 = ?", [batch.sha256])
    # A re-exported file at the same path whose rows span the held batch's time range replaces it; a
    # later night's export written to the same file name does not (its range starts after).
    time_column = TIME_COLUMN[batch.source.kind]
    con.execute(
        f"""
        update held_batches h set status = 'superseded', resolved_by = ?, resolved_at = current_localtimestamp()
        from (select min({time_column}) as lo, max({time_column}) as hi from {TYPED}) b
        where h.status = 'held' and h.source = ? and h.path = ? and h.sha256 <> ?
          and (h.min_at is null or h.min_at >= b.lo) and (h.max_at is null or h.max_at <= b.hi)
        """,
        [batch.run_id, batch.source.name, str(batch.path), batch.sha256],
    )


@dataclass(frozen=True)
class _Typed:
    """A typed batch's columns as read and the canonical columns it has."""

    columns: list[str]
    canonical: list[str]


def _decide_base_currency(con: duckdb.DuckDBPyConnection, source: SourceSettings, path: Path) -> str | None:
    """The warehouse's base currency; the first orders file loaded decides it: its most common currency."""
    base = base_currency(con)
    if base is None and source.kind == "orders":
        fallback = _lit(source.currency) if source.currency else "null"
        row = con.execute(
            f"select upper(coalesce(currency, {fallback})) as c from {MAPPED} where c is not null "
            "group by c order by count(*) desc, c limit 1"
        ).fetchone()
        if row:
            base = str(row[0])
            record_base_currency(con, base, str(path))
    return base


def _type_batch(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    read: Callable[[], list[str]],
    path: Path,
    limit: datetime,
) -> _Typed:
    """Read the batch (raw_batch), type it (typed_batch) and compare it with the warehouse; return the
    columns as read and the canonical columns found. Raises _AmbiguousDatesError (with .columns) when its
    dates need a format."""
    columns = read()
    mapping = canonical_mapping(source, [c for c in columns if c not in (LINE, MALFORMED)], path)
    _build_mapped(con, source.kind, mapping, columns)
    column = TIME_COLUMN[source.kind]
    # Most files write ISO times: typed as ISO at once when a sample of rows is, and the layout is
    # decided (a pass over the file's times) only if some time then fails to parse.
    iso = FAMILIES["iso"].format(x=column)
    optimistic = not source.timestamp_format and _iso_sample(con, column)
    try:
        time_sql = iso if optimistic else decide_timestamp(con, source, column, path)
    except _AmbiguousDatesError as exc:
        exc.columns = columns  # type: ignore[attr-defined]
        raise
    base = _decide_base_currency(con, source, path)
    absent = hashed_absent(source.kind, mapping)
    con.execute("set variable absent_columns = ?::varchar[]", [sorted(absent)])
    ctx = _Context(time_sql, base, absent, source.kind == "orders" and _converts(con, source, base))
    con.execute(
        f"create or replace temp table {TYPED} as {_TYPED_SQL[source.kind](source, limit, mapping, ctx)}"
    )
    unparsed = f'unparseable {column} "'
    if (
        optimistic
        and con.execute(f"select 1 from {TYPED} where contains(reason, {_lit(unparsed)}) limit 1").fetchone()
    ):
        try:
            decided = decide_timestamp(con, source, column, path)
        except _AmbiguousDatesError as exc:
            exc.columns = columns  # type: ignore[attr-defined]
            raise
        if decided != iso:
            ctx = replace(ctx, time_sql=decided)
            con.execute(
                f"create or replace temp table {TYPED} as {_TYPED_SQL[source.kind](source, limit, mapping, ctx)}"
            )
    _flag_repeats(con, source.kind)
    if source.kind == "orders":
        _aggregate_orders(con)
        # Lines that fit can still add up to an order total that does not.
        too_large = (
            f"select order_id from {ORDERS} where abs(revenue) >= {_AMOUNT_LIMIT} "
            f"or abs(original_revenue) >= {_AMOUNT_LIMIT}"
        )
        _mark(con, f"order total {TOO_LARGE}", f"order_id in ({too_large})", source, compare=False)
    _compare(con, source)
    return _Typed(columns, [name for name in mapping if not name.startswith("__")])


def _iso_sample(con: duckdb.DuckDBPyConnection, column: str, rows: int = 1000) -> bool:
    """Whether the times in a thousand of the batch's rows are all ISO (a file uses one layout throughout)."""
    return (
        con.execute(
            f"select 1 from (select {column} from {MAPPED} limit {rows}) "
            f"where {column} is not null and {FAMILIES['iso'].format(x=column)} is null limit 1"
        ).fetchone()
        is None
    )


def _converts(con: duckdb.DuckDBPyConnection, source: SourceSettings, base: str | None) -> bool:
    """Whether some row of the orders batch is in a currency other than the base one."""
    if base is None:
        return False
    fallback = _lit(source.currency) if source.currency else "null"
    return (
        con.execute(
            f"select 1 from {MAPPED} where upper(coalesce(currency, {fallback})) <> {_lit(base)} limit 1"
        ).fetchone()
        is not None
    )


def _mark(
    con: duckdb.DuckDBPyConnection, reason: str, where: str, source: SourceSettings, *, compare: bool = True
) -> int:
    """Give the good typed rows matching `where` a reason (they are quarantined), then re-derive what the
    batch merges from its good rows; return how many rows turned bad."""
    marked = con.execute(
        f"update {TYPED} set reason = $reason where reason = '' and ({where}) returning 1", {"reason": reason}
    ).fetchall()
    if marked and source.kind == "orders":
        _aggregate_orders(con)
    if marked and compare:
        _compare(con, source)
    return len(marked)


def _mark_failing(
    con: duckdb.DuckDBPyConnection, source: SourceSettings, failing: Iterable[tuple[str, str]]
) -> None:
    """Quarantine the rows that fail a row-level critical check, though the batch is within tolerance."""
    for reason, rows in failing:
        _mark(con, reason, f"{ROW} in ({rows})", source)


# Nouns for the rows of a kind and for what an absent optional column leaves them without.
_ROWS = {"orders": "lines", "events": "events", "customers": "rows", "feedback": "reviews and answers"}
_WITHOUT = {
    "product_name": "names",
    "product_id": "products",
    "category": "categories",
    "customer_id": "customer ids",
    "email": "e-mail addresses",
    "country": "countries",
    "currency": "currencies",
    "session_id": "sessions",
    "price": "prices",
    "first_seen_at": "first-seen times",
    "marketing_consent": "marketing consent",
    "birth_year": "birth years",
    "age_band": "age bands",
    "gender": "genders",
    "city": "cities",
    "region": "regions",
    "phone": "phone numbers",
    "text": "texts",
    "order_id": "orders",
}


def _absent_columns(
    con: duckdb.DuckDBPyConnection, source: SourceSettings, present: Sequence[str]
) -> dict[str, int]:
    """Optional columns the source's previous file had and this one lacks, with the rows left without."""
    row = con.execute(
        "select canonical_columns from loaded_file_columns where source = ? order by loaded_at desc, rowid desc limit 1",
        [source.name],
    ).fetchone()
    if not row:
        return {}
    _, optional = CANONICAL[source.kind]
    before = set(json.loads(row[0]))
    gone = [name for name in optional if name in before and name not in present]
    if not gone:
        return {}
    rows = _count(con, f"select count(*) from {MAPPED} where {MALFORMED} is null")
    return dict.fromkeys(gone, rows)


def absent_sentence(kind: SourceKind, column: str, rows: int) -> str:
    """The warning for an optional column gone from a source's export."""
    return f"column {column} absent: {rows:,} {_ROWS[kind]} without {_WITHOUT.get(column, column)}"


def _publish(con: duckdb.DuckDBPyConnection, batch: Batch, typed: _Typed) -> FileResult:
    """Quarantine the batch's bad, repeated and (when so set) changed rows, merge the rest, write the ledger.

    rows_read = rows_loaded + rows_quarantined + rows_duplicate: a row identical to one already loaded is
    skipped and counted as a duplicate; a changed row is loaded (rows_updated) or quarantined.
    """
    rows_read = _count(con, f"select count(*) from {RAW}")
    update = batch.source.on_changed == "update"
    row = con.execute(
        f"""
        select count(*) filter (where reason <> '' or dup_in_file),
            count(*) filter (where reason = '' and not dup_in_file and state = 'same'),
            count(*) filter (where reason = '' and not dup_in_file and state = 'changed')
        from {ROWS}
        """
    ).fetchone()
    bad, dups, changed = (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
    quarantined = bad + (0 if update else changed)
    # Quarantining joins the raw rows back, a scan of the whole file: only when there is something to keep.
    if quarantined:
        _quarantine(
            con,
            batch,
            "case when reason <> '' then reason when dup_in_file then 'duplicate key within the file' "
            "else 'changed since it was loaded from ' || stored_file "
            "|| ' (on_changed = \"quarantine\" keeps the loaded version)' end",
            "reason <> '' or dup_in_file"
            + ("" if update else " or (state = 'changed' and reason = '' and not dup_in_file)"),
        )
    _MERGE[batch.source.kind](con, batch)
    partial, missing = _record_partial_orders(con, batch) if batch.source.kind == "orders" else (0, 0)
    loaded = rows_read - quarantined - dups
    updated = changed if update else 0
    absent = _absent_columns(con, batch.source, typed.canonical)
    _record_file(con, batch, typed, rows_read, loaded, quarantined, dups)
    _resolve_held(con, batch)
    warnings = _warnings(con, batch, absent, bad, partial, missing)
    if batch.source.kind == "orders" and "line_no" not in typed.canonical:
        warnings += _repeated_lines(con, batch)
    return FileResult(
        batch.source.name,
        batch.path,
        "loaded",
        rows_read,
        loaded,
        quarantined,
        dups,
        rows_updated=updated,
        warnings=warnings,
        absent_columns=absent,
        orders_partial=partial,
        lines_missing=missing,
    )


def _record_file(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    typed: _Typed,
    rows_read: int,
    loaded: int,
    quarantined: int,
    dups: int,
) -> None:
    """The ledger rows of a loaded file: its counts, and the canonical columns it had."""
    con.execute(
        "insert into loaded_files (source, path, sha256, rows_read, rows_loaded, rows_quarantined, loaded_at, "
        "run_id, rows_duplicate) values (?, ?, ?, ?, ?, ?, current_localtimestamp(), ?, ?)",
        [
            batch.source.name,
            str(batch.path),
            batch.sha256,
            rows_read,
            loaded,
            quarantined,
            batch.run_id,
            dups,
        ],
    )
    con.execute(
        "insert into loaded_file_columns (sha256, source, canonical_columns, loaded_at) "
        "values (?, ?, ?, current_localtimestamp())",
        [batch.sha256, batch.source.name, json.dumps(typed.canonical)],
    )


def _warnings(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    absent: Mapping[str, int],
    bad: int,
    partial: int,
    missing: int,
) -> list[str]:
    """What the owner should know about a loaded file: absent columns, undecoded lines, partial orders."""
    warnings = [
        f"{batch.path.name}: {absent_sentence(batch.source.kind, column, rows)}"
        for column, rows in absent.items()
    ]
    undecoded = (
        _count(con, f"select count(*) from {ROWS} where contains(reason, {_lit(NOT_UTF8)})")
        if bad and is_utf8(batch.source.encoding)
        else 0
    )
    if undecoded:
        warnings.append(
            f"{batch.path.name}: {undecoded:,} row{'s' if undecoded != 1 else ''} quarantined as malformed "
            f"lines: {not_utf8_hint(repr(batch.source.name))}"
        )
    if partial:
        warnings.append(f"{batch.path.name}: {partial_sentence(partial, missing)}")
    if batch.source.kind == "feedback":
        unmatched = _count(con, f"select count(*) from {ROWS} where {_MERGED} and customer_id is null")
        if unmatched:
            warnings.append(f"{batch.path.name}: {unmatched_sentence(unmatched)}")
    return warnings


def _repeated_lines(con: duckdb.DuckDBPyConnection, batch: Batch) -> list[str]:
    """A warning when lines merged from a file without line numbers repeat a line of their order exactly."""
    # Two identical lines may be two items scanned apart (Online Retail has thousands) or one line
    # exported twice; only a line number tells them apart, so both load and the owner is told.
    repeated = _count(
        con,
        f"""
        select coalesce(sum(n - 1), 0) from (
            select count(*) as n from {ROWS} where {_MERGED}
            group by order_id, product_id, product_name, category, quantity, unit_price, line_revenue
            having count(*) > 1
        )
        """,
    )
    if not repeated:
        return []
    lines, loaded = (
        (f"{repeated:,} lines repeat another line of their order", "were loaded as lines of their own")
        if repeated != 1
        else ("1 line repeats another line of its order", "was loaded as a line of its own")
    )
    fix = (
        "correct the file and the next run replaces those orders"
        if batch.source.on_changed == "update"
        else f'correct the file and set on_changed = "update" for source {batch.source.name!r} so that the '
        "next run replaces those orders"
    )
    return [
        f"{batch.path.name}: {lines} exactly (same product, quantity and price) and {loaded}, since the file "
        f"has no line numbers to tell a second item from a line exported twice; if they are export errors, {fix}"
    ]


def _record_partial_orders(con: duckdb.DuckDBPyConnection, batch: Batch) -> tuple[int, int]:
    """Mark the orders this batch merged without some of their lines (bad lines, quarantined); return
    (orders, lines). An order merged whole clears an earlier mark."""
    # Both scan the whole batch: only when there is an earlier mark to clear or a bad line to mark.
    if _count(con, "select count(*) from (select 1 from order_quarantined_lines limit 1)"):
        con.execute(
            f"delete from order_quarantined_lines where order_id in (select order_id from {ROWS} where {_MERGED})"
        )
    if not _count(con, f"select count(*) from (select 1 from {TYPED} where reason <> '' limit 1)"):
        return 0, 0
    row = con.execute(
        f"""
        insert into order_quarantined_lines (
            order_id, source_file, run_id, lines_loaded, lines_quarantined, recorded_at
        )
        select order_id, ?, ?, count(*) filter (where {_MERGED}), count(*) filter (where reason <> ''),
            current_localtimestamp()
        from {ROWS}
        -- The orders with a bad line (few) first: then only their rows are counted.
        where order_id in (select distinct order_id from {TYPED} where reason <> '' and order_id is not null)
            and not dup_in_file
        group by order_id
        having count(*) filter (where reason <> '') > 0 and count(*) filter (where {_MERGED}) > 0
        returning lines_quarantined
        """,
        [str(batch.path), batch.run_id],
    ).fetchall()
    return len(row), sum(int(r[0]) for r in row)


def unmatched_sentence(rows: int) -> str:
    """The warning for feedback whose e-mail address no loaded customer has (yet)."""
    return (
        f"{rows:,} reviews or answers name an e-mail address no customer has yet: they count for a customer "
        "once one with that address is loaded (list feedback sources after orders and customers)"
    )


def partial_sentence(orders: int, lines: int) -> str:
    """The warning for orders loaded while some of their lines were quarantined."""
    return (
        f"{orders:,} orders loaded without {lines:,} of their lines (they are in the quarantine table with their reasons): "
        "their revenue is short until the lines are fixed in the export and the file is loaded again"
    )


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    path: Path,
    sha: str,
    run_id: str,
    read: Callable[[], list[str]],
    now: datetime | None,
    future_tolerance: timedelta,
    audit: Audit | None,
) -> FileResult:
    """Type, audit and publish one batch in one transaction; or, if the audit holds it, keep it instead."""
    limit = (now or datetime.now(UTC).replace(tzinfo=None)) + future_tolerance
    batch = Batch(source, path, sha, run_id)
    started = time.perf_counter()
    log.info("%s: loading %s", source.name, path)
    verdict = None
    try:
        with transaction(con):
            shape = _type_batch(con, source, read, path, limit)
            verdict = audit(con, batch) if audit else None
            if verdict is not None:
                # The checks see the batch as delivered; rows failing a row-level critical check are
                # quarantined whatever the verdict, so that none reaches the warehouse tables.
                _mark_failing(con, source, verdict.failing_rows())
            result = _publish(con, batch, shape)
            if verdict is not None:
                held = verdict.wait()
                if held is not None:
                    raise _HeldBackError(_held_sentence(con, batch, held))
                # Recorded inside the load transaction: the results commit with the merge.
                verdict.record(con)
    except (_HeldBackError, _AmbiguousDatesError) as exc:
        # The merge is rolled back; type the batch again and keep it, with the results, for replay.
        with transaction(con):
            try:
                columns = _type_batch(con, source, read, path, limit).columns
                typed = True
            except _AmbiguousDatesError as ambiguous:
                columns, typed = ambiguous.columns, False  # type: ignore[attr-defined]
            if verdict is not None:
                verdict.record(con)
            kept = _hold(con, batch, columns, str(exc), typed=typed)
        log.warning("%s", exc)
        return FileResult(source.name, path, "held", kept, message=str(exc), rows_held=kept)
    log.info(
        "%s: loaded %s (%d rows read) in %.1f s",
        source.name,
        path,
        result.rows_read,
        time.perf_counter() - started,
    )
    for warning in result.warnings:
        log.warning("%s: %s", source.name, warning)
    return result


def _held_sentence(con: duckdb.DuckDBPyConnection, batch: Batch, checks: str) -> str:
    """Why a batch is held: its rows' own reasons first (what to fix), then the checks that failed."""
    # Reasons differing only in a quoted value or a day ('unparseable unit_price "2,50"') are one cause.
    found = con.execute(
        f"""
        select min(reason), count(*), sum(count(*)) over (), (select count(*) from {TYPED})
        from {TYPED} where reason <> ''
        group by regexp_replace(regexp_replace(reason, '"[^"]*"', '""', 'g'), '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}', '', 'g')
        order by 2 desc, 1 limit 3
        """
    ).fetchall()
    if not found:
        return checks
    bad, total = int(found[0][2]), int(found[0][3])
    causes = "; ".join(f"{reason} ({n:,} row{'s' if n != 1 else ''})" for reason, n, _, _ in found)
    reasons = [str(r[0]) for r in found]
    hint = _separator_hint(batch.source, reasons) + _encoding_hint(batch.source, reasons)
    return (
        f"{batch.path.name} held back: {bad:,} of {total:,} rows cannot be loaded: {causes}{hint}. "
        f"Failed checks: {checks.split(' held back: ', 1)[-1]}"
    )


def _separator_hint(source: SourceSettings, reasons: Sequence[str]) -> str:
    """A hint when amounts fail to parse because the export writes decimal commas."""
    comma = re.compile(r'unparseable \w+ "-?[0-9.\s]*[0-9],[0-9]{1,4}"')
    if source.decimal_separator == "." and any(comma.match(r) for r in reasons):
        return (
            f' (the export writes decimal commas: set decimal_separator = "," and thousands_separator = "." '
            f"on source '{source.name}')"
        )
    return ""


def _encoding_hint(source: SourceSettings, reasons: Sequence[str]) -> str:
    """A hint when lines fail because the file is not UTF-8 (an Excel export in cp1252, say)."""
    if is_utf8(source.encoding) and any(NOT_UTF8 in r for r in reasons):
        return f" ({not_utf8_hint(repr(source.name))})"
    return ""


def held_by(con: duckdb.DuckDBPyConnection, sha: str) -> str | None:
    """The run that holds this content back, if a batch with this sha256 is waiting for replay."""
    row = con.execute(
        "select run_id from held_batches where sha256 = ? and status = 'held' order by held_at limit 1", [sha]
    ).fetchone()
    return str(row[0]) if row else None


def load_file(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    path: Path,
    run_id: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = timedelta(hours=24),
    audit: Audit | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    settled: tuple[int, int] | None = None,
) -> FileResult:
    """Load one file exactly once: all of its good rows, its bad rows to quarantine, one ledger row.

    The bytes loaded are a copy taken while hashing them, so the ledger's sha256 is theirs; `settled` is
    the (size, mtime_ns) the file had when found settled, and a file that differs is skipped this run.
    """
    path = path.resolve()
    try:
        # A file loaded before is recognised without copying it.
        sha = sha256_of(path)
        _release_undecoded(con, source, sha, run_id)
        known = _known(con, source, path, sha)
    except FileNotFoundError:
        known = _not_ready(
            source, path, f"{path}: the file vanished before it was read; it is skipped this run"
        )
    if known is not None:
        return known
    with tempfile.TemporaryDirectory(prefix=".segmint-read-", dir=_scratch_folder(con)) as folder:
        try:
            copy = snapshot(path, Path(folder), settled, encoding=source.encoding)
        except FileNotReadyError as exc:
            return _not_ready(source, path, str(exc))
        known = _known(con, source, path, copy.sha256)
        if known is not None:
            return known
        return _load_batch(
            con,
            source,
            path,
            copy.sha256,
            run_id,
            lambda: read_raw(
                con,
                path,
                delimiter=source.delimiter,
                max_line_bytes=max_line_bytes,
                data=copy.copy,
                source=source.name,
            ),
            now,
            future_tolerance,
            audit,
        )


@contextmanager
def _mapped_file(
    source: SourceSettings, path: Path
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Mapping[str, str], list[str]]]:
    """`path` read as a load reads it, up to the mapped view (in a connection of its own): the encoding's
    UTF-8 copy, the delimiter and the preset's mapping (window functions included)."""
    with tempfile.TemporaryDirectory(prefix=".segmint-read-") as folder, duckdb.connect() as con:
        con.execute("set timezone = 'UTC'")  # as the warehouse's sessions: zone-aware times in UTC
        data = None
        if not is_utf8(source.encoding):
            try:
                data = snapshot(path, Path(folder), encoding=source.encoding).copy
            except FileNotReadyError as exc:
                raise SourceFileError(path, str(exc).removeprefix(f"{path}: ")) from None
        columns = read_raw(con, path, delimiter=source.delimiter, data=data, source=source.name)
        mapping = canonical_mapping(source, [c for c in columns if c not in (LINE, MALFORMED)], path)
        _build_mapped(con, source.kind, mapping, columns)
        yield con, mapping, columns


def file_period(source: SourceSettings, path: Path, until: datetime) -> tuple[date, date] | None:
    """The first and last day of `path`'s times, read as a load reads them; None when it has no times.

    One time layout for the whole file, as the load decides it. Times after `until` (now plus the future
    tolerance) are left out, as the load quarantines them. SourceFileError says why a file cannot be
    read, also when none of its times parses.
    """
    with _mapped_file(source, path) as (con, mapping, _):
        return _period(con, mapping, source, path, until)


def file_currencies(source: SourceSettings, path: Path) -> dict[str, int]:
    """Order lines per currency in an orders file, read as a load reads it (lines without one count in
    the source's `currency`, when it sets one)."""
    with _mapped_file(source, path) as (con, mapping, _):
        return _currencies(con, mapping, source)


@dataclass(frozen=True)
class FileFacts:
    """What a check before the first run needs of one source file: its first and last day, its currencies."""

    days: tuple[date, date] | None
    currencies: dict[str, int]


def file_facts(source: SourceSettings, path: Path, until: datetime) -> FileFacts:
    """`file_period` and `file_currencies` of `path` from one read of the file (a big export is read once)."""
    with _mapped_file(source, path) as (con, mapping, _):
        # The currencies first: they need no time layout, the period raises when no time parses.
        currencies = _currencies(con, mapping, source)
        return FileFacts(_period(con, mapping, source, path, until), currencies)


def _period(
    con: duckdb.DuckDBPyConnection,
    mapping: Mapping[str, str],
    source: SourceSettings,
    path: Path,
    until: datetime,
) -> tuple[date, date] | None:
    column = TIME_COLUMN[source.kind]
    if column not in mapping:
        return None
    try:
        time_sql = decide_timestamp(con, source, column, path)
    except _AmbiguousDatesError as exc:
        raise SourceFileError(path, exc.fix) from None
    # The mapping's window functions stay in the view: the times are aggregated over its rows.
    row = con.execute(
        f"select (min(t) filter (where t <= $until))::date, (max(t) filter (where t <= $until))::date, "
        f"any_value({column}) filter (where t is null) "
        f"from (select {column}, {time_sql} as t from {MAPPED} where {column} is not null)",
        {"until": until},
    ).fetchone()
    if row is None or row[0] is None:
        if row is not None and row[2] is not None:
            how = f"timestamp_format {source.timestamp_format!r}" if source.timestamp_format else "a date"
            raise SourceFileError(
                path,
                f"no {column} parses as {how} (such as {str(row[2])!r}); set timestamp_format on source "
                f"'{source.name}' to the layout of its dates or map {column} to the right column",
            )
        return None
    return row[0], row[1]


def _currencies(
    con: duckdb.DuckDBPyConnection, mapping: Mapping[str, str], source: SourceSettings
) -> dict[str, int]:
    if "currency" not in mapping and not source.currency:
        return {}
    fallback = _lit(source.currency) if source.currency else "null"
    given = "currency" if "currency" in mapping else "null"
    rows = con.execute(
        f"select upper(coalesce(nullif(trim({given}), ''), {fallback})) as c, count(*) from {MAPPED} "
        "where c is not null group by c"
    ).fetchall()
    return {str(c): int(n) for c, n in rows}


def _release_undecoded(con: duckdb.DuckDBPyConnection, source: SourceSettings, sha: str, run_id: str) -> None:
    """A file held because it was read as UTF-8 and is not is read again once its source names an encoding.

    Its kept rows hold the undecoded lines, so replaying them cannot help: the held batch is superseded
    and the file loads from its bytes like a new one (held anew if its rows still fail a check).
    """
    if is_utf8(source.encoding):
        return
    con.execute(
        "create or replace temp table undecoded_held as select sha256 from held_batches "
        "where sha256 = ? and source = ? and status = 'held' and contains(reason, ?)",
        [sha, source.name, NOT_UTF8],
    )
    if not _count(con, "select count(*) from undecoded_held"):
        return
    with transaction(con):
        con.execute(
            "update held_batches set status = 'superseded', resolved_by = ?, resolved_at = current_localtimestamp() "
            "where sha256 = ? and status = 'held'",
            [run_id, sha],
        )
        con.execute("delete from held_rows where sha256 = ?", [sha])
    log.info("%s: reading %s again with encoding %s", source.name, sha[:12], source.encoding)


def _known(con: duckdb.DuckDBPyConnection, source: SourceSettings, path: Path, sha: str) -> FileResult | None:
    """A skip when this content was loaded already or is held back; None for new content."""
    if con.execute("select 1 from loaded_files where sha256 = ?", [sha]).fetchone():
        return FileResult(source.name, path, "skipped", message="already loaded (same sha256)")
    holder = held_by(con, sha)
    if holder is not None:
        return FileResult(
            source.name,
            path,
            "skipped",
            message=f"{path}: held back by run {holder}; fix it and run `segmint replay {holder}`",
        )
    return None


def _not_ready(source: SourceSettings, path: Path, sentence: str) -> FileResult:
    log.warning("%s: %s", source.name, sentence)
    return FileResult(source.name, path, "skipped", message=sentence, warnings=[sentence])


def _database_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The warehouse file of the connection (None in memory)."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return Path(str(row[0])).resolve() if row and row[0] else None


def _scratch_folder(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Where a file's copy is kept while it loads: beside the warehouse file (None: the system's temp)."""
    database = _database_path(con)
    return database.parent if database is not None and database.parent.is_dir() else None


def load_held(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    sha: str,
    run_id: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = timedelta(hours=24),
    audit: Audit | None = None,
) -> FileResult:
    """Load a held batch again from its kept rows, audited anew: published, or still held."""
    row = con.execute(
        "select path, columns from held_batches where sha256 = ? and status = 'held' order by held_at limit 1",
        [sha],
    ).fetchone()
    if row is None:
        raise SegmintError(f"No batch with sha256 {sha} is waiting for replay; see the held_batches table.")
    path, columns = Path(row[0]), [str(c) for c in json.loads(row[1])]
    spec = json.dumps(dict.fromkeys(columns, "VARCHAR"))

    def restore() -> list[str]:
        # Rebuild raw_batch as it was read: the same text columns, rows in file order (rowid numbers them).
        con.execute(
            f"create or replace temp table {RAW} as "
            "select unnest(json_transform(raw_record, ?)) from held_rows where sha256 = ? order by row_number",
            [spec, sha],
        )
        return columns

    return _load_batch(con, source, path, sha, run_id, restore, now, future_tolerance, audit)


def settle(
    paths: Iterable[Path],
    seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> dict[Path, tuple[int, int] | str]:
    """Each file's (size, mtime_ns) once it is settled, or the sentence saying why it is skipped this run.

    A file last modified at least `seconds` ago is settled. A younger one may still be being written: the
    run waits until the youngest would be `seconds` old (at most `seconds`, once for all of them) and
    takes each whose size and mtime have not changed meanwhile; the others wait for the next run.
    """
    found: dict[Path, tuple[int, int] | str] = {}
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            found[path] = f"{path}: the file vanished before it was read; it is skipped this run"
            continue
        found[path] = (stat.st_size, stat.st_mtime_ns)
    if seconds <= 0:
        return found
    now = clock()
    young = {
        path: state
        for path, state in found.items()
        if isinstance(state, tuple) and now - state[1] / 1e9 < seconds
    }
    if not young:
        return found
    wait = min(seconds, max(seconds - (now - state[1] / 1e9) for state in young.values()))
    log.info("waiting %.0f s for %d file(s) modified in the last %g s to settle", wait, len(young), seconds)
    sleep(max(0.0, wait))
    for path, state in young.items():
        try:
            stat = path.stat()
        except FileNotFoundError:
            found[path] = f"{path}: the file vanished before it was read; it is skipped this run"
            continue
        if (stat.st_size, stat.st_mtime_ns) != state:
            found[path] = (
                f"{path}: still being written (it changed within settle_seconds = {seconds:g}); it is skipped "
                "this run and loaded by the next once it is complete"
            )
    return found


def _failure(path: Path, exc: Exception) -> str:
    """One sentence for an error no check foresaw while loading a file: the file is rejected alone."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return (
            f"{path}: DuckDB ran out of memory loading it; raise [warehouse] memory_limit or split the file"
        )
    if isinstance(exc, OSError):
        return f"{path}: it could not be read ({exc.strerror or exc}); check the file and the disk, then run again"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (
        f"{path}: it could not be loaded ({type(exc).__name__}: {text}); the other files were loaded, "
        "so check this file and run again"
    )


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    sources: list[tuple[SourceSettings, list[Path]]],
    run_id: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = timedelta(hours=24),
    audit: Audit | None = None,
    settle_seconds: float = 0.0,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FileResult]:
    """Load every settled file of every source; a file that cannot be loaded is rejected alone."""
    states = settle([p for _, paths in sources for p in paths], settle_seconds, sleep=sleep)
    results = []
    for source, paths in sources:
        for path in paths:
            state = states[path]
            if isinstance(state, str):
                results.append(_not_ready(source, path.resolve(), state))
                continue
            try:
                results.append(
                    load_file(
                        con,
                        source,
                        path,
                        run_id,
                        now=now,
                        future_tolerance=future_tolerance,
                        audit=audit,
                        max_line_bytes=max_line_bytes,
                        settled=state,
                    )
                )
            except SourceFileError as exc:
                results.append(FileResult(source.name, path.resolve(), "rejected", message=str(exc)))
            except duckdb.FatalException:
                raise  # the warehouse itself is unusable: no later file could load either
            except Exception as exc:
                # A full disk or a damaged warehouse stops every later file too: one sentence for the run.
                failure = storage_error(exc, _database_path(con))
                if failure is not None:
                    raise failure from exc
                # The file's transaction is rolled back; the night goes on with the next file.
                log.debug("loading %s failed", path, exc_info=True)
                results.append(
                    FileResult(source.name, path.resolve(), "rejected", message=_failure(path, exc))
                )
    return results
