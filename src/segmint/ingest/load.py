"""Load one source file into the warehouse in one transaction: type, split off bad rows, merge, record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from segmint.config import SourceKind, SourceSettings
from segmint.errors import SourceFileError
from segmint.ingest.presets import CANONICAL, canonical_mapping
from segmint.ingest.read import RAW, ROW, read_raw, sha256_of

EVENT_TYPES = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
)
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
MAPPED = "mapped_batch"
TYPED = "typed_batch"
Status = Literal["loaded", "skipped", "rejected", "held"]


@dataclass
class FileResult:
    """What happened to one file: the accounting rows_read = rows_loaded + rows_quarantined."""

    source: str
    path: Path
    status: Status
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    message: str = ""


@dataclass(frozen=True)
class Batch:
    """A typed, split batch inside the load transaction, before it is merged (for the audit step)."""

    source: SourceSettings
    path: Path
    sha256: str
    run_id: str
    table: str  # temp table of every row with its reason ('' when good) and duplicate flag


# An audit returns None to publish, or a one-line reason to hold the batch back.
Audit = Callable[[duckdb.DuckDBPyConnection, Batch], str | None]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text(expr: str) -> str:
    return f"nullif(trim(cast({expr} as varchar)), '')"


def _timestamp(expr: str, fmt: str | None) -> str:
    text = _text(expr)
    if fmt:
        return f"try_strptime({text}, {_lit(fmt)})::timestamp"
    # ISO with or without a zone name, then offsets like "-0500" (Shopify) and a few common layouts.
    return (
        f"coalesce(try_cast({text} as timestamptz)::timestamp, "
        f"try_strptime({text}, '%Y-%m-%d %H:%M:%S %z')::timestamp, "
        f"try_strptime({text}, ['%Y%m%d', '%d/%m/%Y %H:%M', '%m/%d/%Y %H:%M', '%d.%m.%Y %H:%M']))"
    )


def _integer(expr: str) -> str:
    number = f"try_cast({_text(expr)} as double)"
    return f"case when {number} = round({number}) and abs({number}) < 2e9 then cast({number} as integer) end"


def _decimal(expr: str) -> str:
    return f"try_cast({_text(expr)} as decimal(18, 4))"


def _boolean(expr: str) -> str:
    text = f"lower({_text(expr)})"
    return (
        f"case when {text} in ('true', 't', 'yes', 'y', '1') then true "
        f"when {text} in ('false', 'f', 'no', 'n', '0') then false end"
    )


def _unparseable(column: str, typed: str, raw: str) -> str:
    return f"case when {raw} is not null and {typed} is null then 'unparseable {column} ' || '\"' || {raw} || '\"' end"


def _build_mapped(con: duckdb.DuckDBPyConnection, kind: SourceKind, mapping: Mapping[str, str]) -> None:
    if "__skip" in mapping:
        con.execute(f"delete from {RAW} where coalesce({mapping['__skip']}, false)")
    required, optional = CANONICAL[kind]
    selects = [f"{mapping.get(name, 'null')}::varchar as {name}" for name in (*required, *optional)]
    con.execute(f"create or replace temp table {MAPPED} as select {ROW}, {', '.join(selects)} from {RAW}")


def _orders_sql(source: SourceSettings, now: datetime) -> str:
    ts = _timestamp("ordered_at", source.timestamp_format)
    qty = _integer("quantity")
    price = _decimal("unit_price")
    currency = _lit(source.currency) if source.currency else "null"
    return f"""
        with typed as (
            select {ROW},
                {_text("order_id")} as order_id,
                {_integer("line_no")} as line_no_given,
                {_text("customer_id")} as customer_id,
                {ts} as ordered_at,
                {qty} as quantity,
                {price} as unit_price,
                {_decimal("line_revenue")} as line_revenue_given,
                {_boolean("is_cancellation")} as is_cancellation_given,
                {_text("product_id")} as product_id,
                {_text("product_name")} as product_name,
                {_text("category")} as category,
                coalesce({_text("currency")}, {currency}) as currency,
                {_text("country")} as country,
                {_text("email")} as email,
                {_decimal("refunded_amount")} as refunded_amount,
                {_boolean("marketing_consent")} as marketing_consent,
                concat_ws('; ',
                    case when {_text("order_id")} is null then 'missing order_id' end,
                    case when {_text("ordered_at")} is null then 'missing ordered_at' end,
                    {_unparseable("ordered_at", ts, _text("ordered_at"))},
                    case when {ts} > {_lit(now.isoformat(sep=" "))}::timestamp
                        then 'ordered_at more than a day in the future' end,
                    case when {_text("quantity")} is null then 'missing quantity' end,
                    {_unparseable("quantity", qty, _text("quantity"))},
                    case when {qty} = 0 then 'zero quantity' end,
                    case when {_text("unit_price")} is null then 'missing unit_price' end,
                    {_unparseable("unit_price", price, _text("unit_price"))},
                    case when {price} < 0 then 'negative unit_price' end
                ) as reason
            from {MAPPED}
        ),
        lines as (
            select *,
                coalesce(line_no_given, row_number() over (partition by order_id order by {ROW})) as line_no
            from typed
        )
        select {ROW}, order_id, line_no, customer_id, ordered_at, quantity, unit_price,
            coalesce(line_revenue_given, quantity * unit_price)::decimal(18, 4) as line_revenue,
            -- Without a flag, an order whose every line is negative is a cancellation or return.
            coalesce(is_cancellation_given, bool_and(quantity < 0) over (partition by order_id)) as is_cancellation,
            product_id, product_name, category, currency, country, email, refunded_amount, marketing_consent,
            reason,
            reason = '' and row_number() over (partition by order_id, line_no order by {ROW}) > 1 as dup_in_file,
            reason = '' and order_id in (select order_id from orders) as dup_loaded
        from lines
    """


def _events_sql(source: SourceSettings, now: datetime) -> str:
    ts = _timestamp("occurred_at", source.timestamp_format)
    price = _decimal("price")
    raw_type = f"lower({_text('event_type')})"
    aliases = " ".join(f"when {_lit(k)} then {_lit(v)}" for k, v in EVENT_ALIASES.items())
    known = ", ".join(_lit(t) for t in EVENT_TYPES)
    event_type = f"case when {raw_type} in ({known}) then {raw_type} else (case {raw_type} {aliases} end) end"
    # Exports without an event id get one from the row's content, numbered among identical rows, so
    # reloading the same events under another file name is recognised as a repeat.
    content = "md5(concat_ws('|', occurred_at, event_type, customer_id, session_id, product_id, price))"
    return f"""
        with typed as (
            select {ROW},
                coalesce({_text("event_id")},
                    {content} || '-' || row_number() over (partition by {content} order by {ROW})) as event_id,
                {ts} as occurred_at,
                {_text("customer_id")} as customer_id,
                {_text("session_id")} as session_id,
                {event_type} as event_type,
                {_text("product_id")} as product_id,
                {price} as price,
                {_text("category")} as category,
                concat_ws('; ',
                    case when {_text("occurred_at")} is null then 'missing occurred_at' end,
                    {_unparseable("occurred_at", ts, _text("occurred_at"))},
                    case when {ts} > {_lit(now.isoformat(sep=" "))}::timestamp
                        then 'occurred_at more than a day in the future' end,
                    case when {raw_type} is null then 'missing event_type' end,
                    case when {raw_type} is not null and {event_type} is null
                        then 'unknown event_type ' || '\"' || {raw_type} || '\"' end,
                    {_unparseable("price", price, _text("price"))},
                    case when {price} < 0 then 'negative price' end
                ) as reason
            from {MAPPED}
        )
        select *,
            reason = '' and row_number() over (partition by event_id order by {ROW}) > 1 as dup_in_file,
            reason = '' and event_id in (select event_id from events) as dup_loaded
        from typed
    """


def _customers_sql(source: SourceSettings, now: datetime) -> str:
    ts = _timestamp("first_seen_at", source.timestamp_format)
    consent = _boolean("marketing_consent")
    return f"""
        with typed as (
            select {ROW},
                regexp_replace({_text("customer_id")}, '\\.0+$', '') as customer_id,
                {_text("email")} as email,
                {_text("country")} as country,
                {ts} as first_seen_at,
                {consent} as marketing_consent,
                concat_ws('; ',
                    case when {_text("customer_id")} is null then 'missing customer_id' end,
                    {_unparseable("first_seen_at", ts, _text("first_seen_at"))},
                    {_unparseable("marketing_consent", consent, _text("marketing_consent"))}
                ) as reason
            from {MAPPED}
        )
        select *,
            reason = '' and row_number() over (partition by customer_id order by {ROW}) > 1 as dup_in_file,
            -- Customers first met in orders or events (no source file) get their details filled in;
            -- only a customer already loaded from a customers file is a repeat.
            reason = '' and customer_id in (select customer_id from customers where source_file is not null)
                as dup_loaded
        from typed
    """


_TYPED_SQL = {"orders": _orders_sql, "events": _events_sql, "customers": _customers_sql}


def _merge_orders(con: duckdb.DuckDBPyConnection, path: str) -> None:
    con.execute(
        f"""
        insert into orders
        select order_id, arg_min(customer_id, line_no), arg_min(ordered_at, line_no), bool_or(is_cancellation),
            sum(line_revenue), arg_min(currency, line_no), ?, arg_min(country, line_no), max(refunded_amount)
        from {TYPED} where reason = '' and not dup_in_file and not dup_loaded
        group by order_id
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


def _quarantine(con: duckdb.DuckDBPyConnection, batch: Batch, reason_sql: str, where: str) -> None:
    con.execute(
        f"""
        insert into quarantine
        select ?, ?, ?, t.{ROW}, to_json(r)::varchar, {reason_sql}, current_localtimestamp()
        from {TYPED} t join {RAW} r using ({ROW})
        where {where}
        """,
        [batch.run_id, batch.source.name, str(batch.path)],
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


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
    limit = (now or datetime.now(UTC).replace(tzinfo=None)) + future_tolerance
    con.execute("begin transaction")
    try:
        mapping = canonical_mapping(source, read_raw(con, path, delimiter=source.delimiter), path)
        _build_mapped(con, source.kind, mapping)
        con.execute(f"create or replace temp table {TYPED} as {_TYPED_SQL[source.kind](source, limit)}")
        batch = Batch(source, path, sha, run_id, TYPED)
        _quarantine(con, batch, "reason", "reason <> ''")
        _quarantine(
            con,
            batch,
            "case when dup_in_file then 'duplicate key within the file' "
            "else 'duplicate key already loaded from an earlier file' end",
            "dup_in_file or dup_loaded",
        )
        held = audit(con, batch) if audit else None
        rows_read = _count(con, f"select count(*) from {RAW}")
        bad = _count(con, f"select count(*) from {TYPED} where reason <> ''")
        dups = _count(con, f"select count(*) from {TYPED} where dup_in_file or dup_loaded")
        if held is not None:
            con.execute("rollback")
            return FileResult(source.name, path, "held", rows_read, 0, bad + dups, dups, held)
        _MERGE[source.kind](con, str(path))
        loaded = rows_read - bad - dups
        con.execute(
            "insert into loaded_files values (?, ?, ?, ?, ?, ?, current_localtimestamp(), ?, ?)",
            [source.name, str(path), sha, rows_read, loaded, bad + dups, run_id, dups],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return FileResult(source.name, path, "loaded", rows_read, loaded, bad + dups, dups)


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
