"""Load one source file into the warehouse in one transaction: type, split off bad rows, merge, record."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

import duckdb

from segmint.config import SourceKind, SourceSettings
from segmint.errors import SegmintError, SourceFileError
from segmint.ingest.presets import CANONICAL, canonical_mapping, q
from segmint.ingest.read import LINE, MALFORMED, RAW, ROW, read_raw, sha256_of
from segmint.schema import EVENT_TYPES
from segmint.warehouse import transaction

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
    """What happened to one file: the accounting rows_read = rows_loaded + rows_quarantined + rows_held."""

    source: str
    path: Path
    status: Status
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    message: str = ""
    rows_held: int = 0


@dataclass(frozen=True)
class Batch:
    """A batch inside the load transaction, typed into typed_batch (every row with its reason, '' when
    good, and duplicate flags) before it is merged: what the audit step sees."""

    source: SourceSettings
    path: Path
    sha256: str
    run_id: str


class Verdict(Protocol):
    """An audit under way: wait() gives its hold reason (None to publish); record() stores its results."""

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
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _timestamp(text: str, fmt: str | None) -> str:
    if fmt:
        return f"try_strptime({text}, {_lit(fmt)})::timestamp"
    # Zone-aware first so that offsets are honoured (a plain timestamp cast drops them silently), then
    # offsets like "-0500" (Shopify) and a few common layouts.
    return (
        f"coalesce(try_cast({text} as timestamptz)::timestamp, "
        f"try_strptime({text}, '%Y-%m-%d %H:%M:%S %z')::timestamp, "
        f"try_strptime({text}, ['%Y%m%d', '%d/%m/%Y %H:%M', '%m/%d/%Y %H:%M', '%d.%m.%Y %H:%M']))"
    )


def _integer(text: str) -> str:
    # Integers written as "6.0" are fine; "6.5" is not a quantity.
    return f"coalesce(try_cast({text} as integer), try_cast(try_cast({text} as decimal(18, 4)) as integer))"


def _boolean(text: str) -> str:
    return (
        f"case when lower({text}) in ('true', 't', 'yes', 'y', '1') then true "
        f"when lower({text}) in ('false', 'f', 'no', 'n', '0') then false end"
    )


def _unparseable(column: str, typed: str) -> str:
    """A reason when the text in `column` is there but its typed value `typed` is not."""
    return f"case when {column} is not null and {typed} is null then 'unparseable {column} \"' || {column} || '\"' end"


def _customer_key(column: str) -> str:
    # Spreadsheet round trips store ids as floats ("17850.0", UCI Online Retail copies): the id is the
    # integer part, so the same customer joins across files.
    return f"regexp_replace({column}, '\\.0+$', '')"


def _missing(column: str) -> str:
    return f"case when {column} is null then 'missing {column}' end"


def _future(typed: str, column: str, now: datetime) -> str:
    return f"case when {typed} > {_lit(now.isoformat(sep=' '))}::timestamp then '{column} more than a day in the future' end"


def _build_mapped(
    con: duckdb.DuckDBPyConnection, kind: SourceKind, mapping: Mapping[str, str], columns: list[str]
) -> None:
    """Canonical text columns, trimmed, empty as null, with the row's number in the file."""
    if "__skip" in mapping:
        con.execute(f"delete from {RAW} where coalesce({mapping['__skip']}, false)")
    required, optional = CANONICAL[kind]
    selects = [
        f"nullif(trim({mapping.get(name, 'null')}::varchar), '') as {name}" for name in (*required, *optional)
    ]
    selects.append(f"{MALFORMED if MALFORMED in columns else 'null'}::varchar as {MALFORMED}")
    # rowid follows the file's order (the raw table keeps insertion order) but starts at an offset.
    con.execute(f"set variable raw_base = (select min(rowid) - 1 from {RAW})")
    con.execute(
        f"create or replace temp view {MAPPED} as "
        f"select rowid - getvariable('raw_base') as {ROW}, {', '.join(selects)} from {RAW}"
    )


def _repeats(key: str) -> str:
    """The CTE of keys that several good rows of the file carry, with the first of those rows.

    Joined back (left join repeats using (key)), it flags the later rows as repeats: a hash aggregate
    that is nearly empty costs a third of a window partitioned by the key over the whole file.
    """
    return (
        f"repeats as (select {key}, min({ROW}) as first_row from checked where reason = '' "
        f"group by {key} having count(*) > 1)"
    )


_REPEATED = f"reason = '' and {ROW} > coalesce(repeats.first_row, {ROW}) as dup_in_file"
# A row's reasons to be quarantined, '' when good; a malformed CSV line has only that one.
_REASONS = f"coalesce('malformed line: ' || {MALFORMED}, concat_ws('; ',"


def _orders_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str]) -> str:
    currency = _lit(source.currency) if source.currency else "null"
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
        f"{_missing('line_no')}, {_unparseable('line_no', 'line_no_given')}"
        if "line_no" in mapping
        else "null"
    )
    return f"""
        with typed as (
            select *,
                {_timestamp("ordered_at", source.timestamp_format)} as ordered_ts,
                {_integer("quantity")} as qty,
                try_cast(unit_price as decimal(18, 4)) as price,
                {_integer("line_no")} as line_no_given,
                try_cast(line_revenue as decimal(18, 4)) as line_revenue_given,
                {_boolean("is_cancellation")} as is_cancellation_given,
                coalesce({_boolean("is_voided")}, false) as voided,
                {_boolean("marketing_consent")} as consent
            from {MAPPED}
        ),
        checked as (
            select *,
                {_REASONS}
                    {_missing("order_id")},
                    {_missing("ordered_at")},
                    {_unparseable("ordered_at", "ordered_ts")},
                    {_future("ordered_ts", "ordered_at", now)},
                    {_missing("quantity")},
                    {_unparseable("quantity", "qty")},
                    case when qty = 0 then 'zero quantity' end,
                    {_missing("unit_price")},
                    {_unparseable("unit_price", "price")},
                    case when price < 0 then 'negative unit_price' end,
                    {line_checks}
                )) as reason,
                {line} as line
            from typed
        ),
        -- Keys already loaded, found by probing the warehouse with this file's keys: a hash table of
        -- the file's keys, not of every key ever loaded (gigabytes at tens of millions of rows).
        seen as (select order_id from orders where order_id in (select order_id from checked)),
        {_repeats("order_id, line")}
        select {ROW}, order_id, line as line_no, {_customer_key("customer_id")} as customer_id,
            ordered_ts as ordered_at, qty as quantity, price as unit_price,
            coalesce(line_revenue_given, qty * price)::decimal(18, 4) as line_revenue,
            voided or {cancellation} as is_cancellation, voided as is_voided,
            product_id, product_name, category, coalesce(currency, {currency}) as currency, country, email,
            try_cast(refunded_amount as decimal(18, 4)) as refunded_amount, consent as marketing_consent, reason,
            {_REPEATED},
            reason = '' and order_id in (select order_id from seen) as dup_loaded
        from checked left join repeats using (order_id, line)
    """


def _events_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str]) -> str:
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
                {_timestamp("occurred_at", source.timestamp_format)} as occurred_ts,
                lower(event_type) as event_type,
                try_cast(price as decimal(18, 4)) as price_typed
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
                        then 'unknown event_type "' || event_type || '"' end,
                    {_unparseable("price", "price_typed")},
                    case when price_typed < 0 then 'negative price' end
                )) as reason
            from normalised
        ),
        seen as (select event_id from events where event_id in (select event_id from checked)),
        {_repeats("event_id")}
        select {ROW}, event_id, occurred_ts as occurred_at, customer_id, session_id,
            event_type_normalised as event_type, product_id, price_typed as price, category, reason,
            {_REPEATED},
            reason = '' and event_id in (select event_id from seen) as dup_loaded
        from checked left join repeats using (event_id)
    """


def _customers_sql(source: SourceSettings, now: datetime, mapping: Mapping[str, str]) -> str:
    return f"""
        with typed as (
            select *,
                {_customer_key("customer_id")} as customer_key,
                {_timestamp("first_seen_at", source.timestamp_format)} as first_seen_ts,
                {_boolean("marketing_consent")} as consent
            from {MAPPED}
        ),
        checked as (
            select {ROW}, customer_key as customer_id, email, country, first_seen_ts as first_seen_at,
                consent as marketing_consent,
                {_REASONS}
                    {_missing("customer_id")},
                    {_unparseable("first_seen_at", "first_seen_ts")},
                    {_unparseable("marketing_consent", "consent")}
                )) as reason
            from typed
        ),
        seen as (
            select customer_id from customers
            where source_file is not null and customer_id in (select customer_id from checked)
        ),
        {_repeats("customer_id")}
        select checked.*,
            {_REPEATED},
            -- Customers first met in orders or events (no source file) get their details filled in;
            -- only a customer already loaded from a customers file is a repeat.
            reason = '' and customer_id in (select customer_id from seen) as dup_loaded
        from checked left join repeats using (customer_id)
    """


_TYPED_SQL = {"orders": _orders_sql, "events": _events_sql, "customers": _customers_sql}


def _aggregate_orders(con: duckdb.DuckDBPyConnection) -> None:
    """batch_orders: one row per order id of the good lines, for the audit and the merge alike.

    The order's fields come from its lines in the file less repeated lines; the conflict columns
    (customers_differ, first and last line time, line_count) see every good line.
    """
    once = "filter (where not dup_in_file)"
    con.execute(
        f"""
        create or replace temp table {ORDERS} as
        select order_id, min({ROW}) as {ROW},
            arg_min(customer_id, line_no) {once} as customer_id, arg_min(ordered_at, line_no) {once} as ordered_at,
            bool_or(is_cancellation) {once} as is_cancellation,
            -- A voided order never happened: its lines are kept as exported, its revenue is 0.
            case when bool_or(is_voided) {once} then 0 else sum(line_revenue) {once} end as revenue,
            arg_min(currency, line_no) {once} as currency, arg_min(country, line_no) {once} as country,
            max(refunded_amount) {once} as refunded_amount, bool_or(is_voided) {once} as is_voided,
            min(coalesce(customer_id, '')) <> max(coalesce(customer_id, '')) as customers_differ,
            min(ordered_at) as first_line_at, max(ordered_at) as last_line_at, count(*) as line_count,
            bool_or(dup_loaded) as dup_loaded
        from {TYPED} where reason = ''
        group by order_id
        """
    )


def _merge_orders(con: duckdb.DuckDBPyConnection, path: str) -> None:
    con.execute(
        f"""
        insert into orders
        select order_id, customer_id, ordered_at, is_cancellation, revenue, currency, ?, country, refunded_amount,
            is_voided
        from {ORDERS} where not dup_loaded
        """,
        [path],
    )
    con.execute(
        f"""
        insert into order_lines
        select order_id, line_no, product_id, product_name, category, quantity, unit_price, line_revenue
        from {TYPED} where reason = '' and not dup_in_file and not dup_loaded
        """
    )
    _register_customers(con, "ordered_at")


def _merge_events(con: duckdb.DuckDBPyConnection, path: str) -> None:
    con.execute(
        f"""
        insert into events
        select event_id, occurred_at, customer_id, session_id, event_type, product_id, price, ?, category
        from {TYPED} where reason = '' and not dup_in_file and not dup_loaded
        """,
        [path],
    )
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
        from {TYPED}
        where reason = '' and not dup_in_file and not dup_loaded and customer_id is not null
        group by customer_id
        """
    )
    # Details already known win: a customers file is the better source for them.
    con.execute(
        """
        update customers c set first_seen_at = least(coalesce(c.first_seen_at, b.first_seen_at), b.first_seen_at),
            email = coalesce(c.email, b.email), country = coalesce(c.country, b.country),
            marketing_consent = coalesce(c.marketing_consent, b.marketing_consent)
        from batch_customers b
        where c.customer_id = b.customer_id
          -- Only rows that change: most of a file's customers are known with their details already.
          and (c.first_seen_at is null or b.first_seen_at < c.first_seen_at
               or (c.email is null and b.email is not null) or (c.country is null and b.country is not null)
               or (c.marketing_consent is null and b.marketing_consent is not null))
        """
    )
    con.execute(
        """
        insert into customers
        select customer_id, email, country, first_seen_at, marketing_consent, null from batch_customers b
        where not exists (select 1 from customers c where c.customer_id = b.customer_id)
        """
    )


def _merge_customers(con: duckdb.DuckDBPyConnection, path: str) -> None:
    good = f"(select * from {TYPED} where reason = '' and not dup_in_file and not dup_loaded)"
    con.execute(
        f"""
        update customers c set email = coalesce(b.email, c.email), country = coalesce(b.country, c.country),
            first_seen_at = least(b.first_seen_at, c.first_seen_at),
            marketing_consent = b.marketing_consent, source_file = ?
        from {good} b where c.customer_id = b.customer_id
        """,
        [path],
    )
    con.execute(
        f"""
        insert into customers
        select customer_id, email, country, first_seen_at, marketing_consent, ? from {good} b
        where not exists (select 1 from customers c where c.customer_id = b.customer_id)
        """,
        [path],
    )


_MERGE = {"orders": _merge_orders, "events": _merge_events, "customers": _merge_customers}


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
        insert into quarantine
        select ?, ?, ?, t.{ROW}, {_raw_record(con)}, {reason_sql}, current_localtimestamp()
        from {TYPED} t join {RAW} r on t.{ROW} = r.rowid - getvariable('raw_base')
        where {where}
        """,
        [batch.run_id, batch.source.name, str(batch.path)],
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _hold(con: duckdb.DuckDBPyConnection, batch: Batch, columns: list[str], reason: str) -> int:
    """Keep a held batch: its rows as read (text) in held_rows, one held_batches row; return rows kept."""
    rows_read = _count(con, f"select count(*) from {RAW}")
    # A replay that fails again leaves the batch held under the run that first held it.
    if con.execute(
        "update held_batches set reason = ? where sha256 = ? and status = 'held' returning 1",
        [reason, batch.sha256],
    ).fetchall():
        return rows_read
    time_column = TIME_COLUMN[batch.source.kind]
    span = con.execute(f"select min({time_column}), max({time_column}) from {TYPED} ").fetchone()
    con.execute(
        f"insert into held_rows select ?, rowid - getvariable('raw_base'), to_json(r)::varchar from {RAW} r",
        [batch.sha256],
    )
    con.execute(
        "insert into held_batches values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_localtimestamp(), 'held', null, null)",
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


def _type_batch(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    read: Callable[[], list[str]],
    path: Path,
    limit: datetime,
) -> list[str]:
    """Read the batch (raw_batch) and type it (typed_batch); return the columns as read."""
    columns = read()
    mapping = canonical_mapping(source, [c for c in columns if c not in (LINE, MALFORMED)], path)
    _build_mapped(con, source.kind, mapping, columns)
    con.execute(f"create or replace temp table {TYPED} as {_TYPED_SQL[source.kind](source, limit, mapping)}")
    if source.kind == "orders":
        _aggregate_orders(con)
    return columns


def _publish(con: duckdb.DuckDBPyConnection, batch: Batch) -> FileResult:
    """Quarantine the batch's bad and repeated rows, merge the rest, write the ledger row."""
    rows_read = _count(con, f"select count(*) from {RAW}")
    row = con.execute(
        f"select count(*) filter (where reason <> ''), count(*) filter (where dup_in_file or dup_loaded) from {TYPED}"
    ).fetchone()
    bad, dups = (int(row[0]), int(row[1])) if row else (0, 0)
    # Quarantining joins the raw rows back, a scan of the whole file: only when there is something to keep.
    if bad:
        _quarantine(con, batch, "reason", "reason <> ''")
    if dups:
        _quarantine(
            con,
            batch,
            "case when dup_in_file then 'duplicate key within the file' "
            "else 'duplicate key already loaded from an earlier file' end",
            "dup_in_file or dup_loaded",
        )
    _MERGE[batch.source.kind](con, str(batch.path))
    loaded = rows_read - bad - dups
    con.execute(
        "insert into loaded_files values (?, ?, ?, ?, ?, ?, current_localtimestamp(), ?, ?)",
        [batch.source.name, str(batch.path), batch.sha256, rows_read, loaded, bad + dups, batch.run_id, dups],
    )
    _resolve_held(con, batch)
    return FileResult(batch.source.name, batch.path, "loaded", rows_read, loaded, bad + dups, dups)


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
            _type_batch(con, source, read, path, limit)
            verdict = audit(con, batch) if audit else None
            result = _publish(con, batch)
            if verdict is not None:
                held = verdict.wait()
                if held is not None:
                    raise _HeldBackError(held)
                # Recorded inside the load transaction: the results commit with the merge.
                verdict.record(con)
    except _HeldBackError as exc:
        # The merge is rolled back; type the batch again and keep it, with the results, for replay.
        assert verdict is not None
        with transaction(con):
            columns = _type_batch(con, source, read, path, limit)
            verdict.record(con)
            kept = _hold(con, batch, columns, str(exc))
        return FileResult(source.name, path, "held", kept, message=str(exc), rows_held=kept)
    log.info(
        "%s: loaded %s (%d rows read) in %.1f s",
        source.name,
        path,
        result.rows_read,
        time.perf_counter() - started,
    )
    return result


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
) -> FileResult:
    """Load one file exactly once: all of its good rows, its bad rows to quarantine, one ledger row."""
    path = path.resolve()
    sha = sha256_of(path)
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
    return _load_batch(
        con,
        source,
        path,
        sha,
        run_id,
        lambda: read_raw(con, path, delimiter=source.delimiter),
        now,
        future_tolerance,
        audit,
    )


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


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    sources: list[tuple[SourceSettings, list[Path]]],
    run_id: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = timedelta(hours=24),
    audit: Audit | None = None,
) -> list[FileResult]:
    """Load every file of every source; a file that cannot be read is rejected alone."""
    results = []
    for source, paths in sources:
        for path in paths:
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
                    )
                )
            except SourceFileError as exc:
                results.append(FileResult(source.name, path.resolve(), "rejected", message=str(exc)))
    return results
