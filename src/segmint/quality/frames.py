"""The frames Great Expectations validates, taken from DuckDB, and the parameters of their suites.

A batch frame comes from the typed batch inside the load transaction (bad rows included, with the
reason they would be quarantined), so GX sees the file as delivered. A table frame comes from the
warehouse, for `segmint validate` and for tonight's customer_features.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from segmint.config import QualitySettings, SourceKind
from segmint.ingest.load import KNOWN, ORDERS, TYPED

if TYPE_CHECKING:
    import pandas as pd

# Columns that name a failing row in samples: its row number in the file and its key.
INDEX_COLUMNS: dict[str, list[str]] = {
    "orders": ["__row", "order_id"],
    "order_lines": ["__row", "order_id", "line_no"],
    "customers": ["__row", "customer_id"],
    "events": ["__row", "event_id"],
    "feedback": ["__row", "feedback_id"],
    "customer_features": ["customer_id"],
}
BATCH_TABLES: dict[SourceKind, tuple[str, ...]] = {
    "orders": ("orders", "order_lines"),
    "events": ("events",),
    "customers": ("customers",),
    "feedback": ("feedback",),
}
# Where each table keeps the time that dates a row, for the window and price-scale parameters.
_TIME = {
    "orders": ("orders", "ordered_at"),
    "order_lines": ("orders", "ordered_at"),
    "events": ("events", "occurred_at"),
    "feedback": ("feedback", "submitted_at"),
}


def _ts(column: str) -> str:
    # pandas holds nanoseconds: a typed value past 2262 (quarantined anyway) would not fit.
    return f"case when {column} between timestamp '1678-01-01' and timestamp '2261-12-31' then {column} end"


def to_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pa.Table:
    """Run a query and return its rows as Arrow: compact, and sliced into pandas chunks for GX (engine.py)."""
    # execute() rather than sql(): DuckDB 2 refuses a relation while an earlier result is unfetched.
    # Through Arrow rather than .df(): DuckDB's own pandas conversion builds every string in Python
    # (about 2 s for a million events); Arrow hands pandas its buffers.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DuckDB notes the copy Arrow makes of an execute() result
        return con.execute(sql, params or []).to_arrow_table()


def arrow_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table (or a slice of one) as a pandas frame GX validates quickly (timestamps in nanoseconds)."""
    import pandas as pd

    return pd.DataFrame({name: _series(table[name]) for name in table.column_names})


def to_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run a query and return a pandas frame GX can validate quickly (timestamps in nanoseconds)."""
    return arrow_frame(to_arrow(con, sql, params))


def _series(column: pa.ChunkedArray) -> pd.Series[Any]:
    """One column as DuckDB's .df() would give it, with the dtypes GX compares vectorised."""
    import pandas as pd

    kind = column.type
    if pa.types.is_decimal(kind):
        # Money as doubles, as .df() gives it: GX would compare Decimal objects row by row.
        return pd.Series(column.cast(pa.float64()).to_pandas())
    if pa.types.is_date(kind) or (pa.types.is_timestamp(kind) and kind.tz is None):
        # GX compares datetime64[ns] columns vectorised; other units go row by row in Python.
        return pd.Series(column.to_pandas(date_as_object=False)).astype("datetime64[ns]")
    if pa.types.is_integer(kind) and column.null_count == 0 and kind != pa.uint64():
        # GX's vectorised between covers int64 only: narrower integers go row by row in Python.
        return pd.Series(column.to_pandas()).astype("int64")
    if (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and column.null_count:
        # Nullable like .df(): Arrow alone would turn the ints into floats and the flags into objects.
        return pd.Series(column.to_pandas(types_mapper=_nullable))
    return pd.Series(column.to_pandas())


def _nullable(kind: pa.DataType) -> Any:
    """pandas' nullable dtype for an Arrow integer or boolean type (Int32 for int32, UInt8 for uint8)."""
    import pandas as pd

    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    return pd.api.types.pandas_dtype(str(kind).capitalize().replace("Uint", "UInt"))


_BATCH_SQL = {
    "orders": f"""
        -- loaded_before names the file of an earlier, different version (a conflict); an identical repeat
        -- is skipped and is no conflict. new_ordered_at dates only orders never loaded: a known order is
        -- a correction or a repeat, not a late arrival.
        with prior as (
            select order_id, any_value(regexp_extract(stored_file, '[^/]+$')) as loaded_before from {KNOWN}
            where state = 'changed' group by order_id
        )
        select b.__row, b.order_id, b.customer_id, {_ts("b.first_line_at")} as ordered_at, b.is_cancellation,
            case when b.order_id not in (select order_id from {KNOWN}) then {_ts("b.first_line_at")} end
                as new_ordered_at,
            b.revenue::double as revenue, b.currency, b.country,
            -- Two orders under one id show as two customers, or lines hours apart (seconds apart is one order).
            1 + b.customers_differ::int + (b.last_line_at - b.first_line_at > interval 1 hour)::int
                as header_variants,
            p.loaded_before, b.line_count
        from {ORDERS} b left join prior p using (order_id)
        order by 1
    """,
    "order_lines": f"""
        select __row, order_id, line_no, product_id, quantity, unit_price::double as unit_price,
            line_revenue::double as line_revenue, nullif(reason, '') as quarantine_reason
        from {TYPED} order by __row
    """,
    "events": f"""
        with prior as (
            select event_id, any_value(regexp_extract(stored_file, '[^/]+$')) as loaded_before from {KNOWN}
            where state = 'changed' group by event_id
        ),
        -- The batch's customers already loaded, the customers table probed with the batch's few ids (a
        -- hash table of every customer ever loaded would cost more than the probe).
        known_customers as (
            select distinct customer_id from customers
            where customer_id in (select distinct customer_id from {TYPED} where customer_id is not null)
        )
        select t.__row, t.event_id, {_ts("t.occurred_at")} as occurred_at, t.customer_id, t.session_id,
            case when t.event_id not in (select event_id from {KNOWN}) then {_ts("t.occurred_at")} end
                as new_occurred_at,
            -- an unknown type is null after typing: show the type as delivered
            coalesce(t.event_type, t.unknown_event_type) as event_type, t.product_id,
            t.price::double as price, nullif(t.reason, '') as quarantine_reason, p.loaded_before,
            case when t.customer_id is not null and k.customer_id is null then t.customer_id end
                as unknown_customer
        from {TYPED} t left join prior p on p.event_id = t.event_id
            left join known_customers k on k.customer_id = t.customer_id
        order by t.__row
    """,
    "customers": f"""
        select __row, customer_id, email, country, {_ts("first_seen_at")} as first_seen_at,
            marketing_consent, nullif(reason, '') as quarantine_reason
        from {TYPED} order by __row
    """,
    # A rating off its scale is typed as given, so the check sees it (its row is quarantined too).
    "feedback": f"""
        select __row, feedback_id, {_ts("submitted_at")} as submitted_at, rating, scale, customer_id, email,
            case when (scale = 'stars' and rating not between 1 and 5) or (scale = 'nps' and rating not between 0 and 10)
                then rating end as rating_off_scale,
            nullif(reason, '') as quarantine_reason
        from {TYPED} order by __row
    """,
}

_TABLE_SQL = {
    "orders": f"""
        with lines as (select order_id, count(*) as line_count from order_lines group by order_id)
        select o.order_id, o.customer_id, {_ts("o.ordered_at")} as ordered_at, {_ts("o.ordered_at")} as new_ordered_at,
            o.is_cancellation,
            o.revenue::double as revenue, o.currency, o.country, coalesce(l.line_count, 0) as line_count
        from orders o left join lines l using (order_id)
    """,
    "order_lines": """
        with known as (select distinct order_id from orders)
        select l.order_id, l.line_no, l.product_id, l.quantity, l.unit_price::double as unit_price,
            l.line_revenue::double as line_revenue, case when k.order_id is null then l.order_id end as order_missing
        from order_lines l left join known k using (order_id)
    """,
    "events": f"""
        with known as (select distinct customer_id from customers)
        select e.event_id, {_ts("e.occurred_at")} as occurred_at, {_ts("e.occurred_at")} as new_occurred_at,
            e.customer_id, e.session_id, e.event_type,
            e.product_id, e.price::double as price,
            case when e.customer_id is not null and k.customer_id is null then e.customer_id end as unknown_customer
        from events e left join known k using (customer_id)
    """,
    "customers": f"""
        select customer_id, email, country, {_ts("first_seen_at")} as first_seen_at, marketing_consent
        from customers
    """,
    "feedback": f"""
        select feedback_id, {_ts("submitted_at")} as submitted_at, rating, scale, customer_id, email,
            case when (scale = 'stars' and rating not between 1 and 5) or (scale = 'nps' and rating not between 0 and 10)
                then rating end as rating_off_scale
        from feedback
    """,
}


def batch_sql(table: str) -> str:
    """The query of a batch frame: the typed batch as the rows `table` would receive."""
    return _BATCH_SQL[table]


def batch_frame(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """The typed batch as the rows `table` would receive (orders: one row per order id)."""
    return arrow_frame(batch_table(con, table))


def batch_table(con: duckdb.DuckDBPyConnection, table: str) -> pa.Table:
    """batch_frame's rows as Arrow, for validation in chunks."""
    return to_arrow(con, _BATCH_SQL[table])


def table_frame(con: duckdb.DuckDBPyConnection, table: str, as_of: date | None = None) -> pd.DataFrame:
    """A warehouse table as a frame; customer_features for one as-of date."""
    return arrow_frame(warehouse_table(con, table, as_of))


def warehouse_table(con: duckdb.DuckDBPyConnection, table: str, as_of: date | None = None) -> pa.Table:
    """table_frame's rows as Arrow, for validation in chunks."""
    if table == "customer_features":
        # Money columns are decimals in the warehouse: GX compares floats.
        columns = [
            f"{name}::double as {name}" if kind.startswith("DECIMAL") else name
            for name, kind, *_ in con.execute("describe customer_features").fetchall()
        ]
        return to_arrow(con, f"select {', '.join(columns)} from customer_features where as_of = ?", [as_of])
    return to_arrow(con, _TABLE_SQL[table])


def _newest(con: duckdb.DuckDBPyConnection, table: str) -> datetime | None:
    if table not in _TIME:
        return None
    source, column = _TIME[table]
    row = con.execute(f"select max({column}) from {source}").fetchone()
    return row[0] if row and row[0] is not None else None


def _price_scale(
    con: duckdb.DuckDBPyConnection, table: str, newest: datetime | None, settings: QualitySettings
) -> tuple[float, float | None]:
    """Bounds for the batch's median price: recent nights' median times/divided by the factor."""
    if newest is None or table not in ("order_lines", "events"):
        return float("-inf"), None
    since = newest - timedelta(days=settings.price_history_days)
    if table == "order_lines":
        batch_sql = f"select count(unit_price) from {TYPED} where reason = ''"
        history_sql = (
            "select count(l.unit_price), median(l.unit_price)::double from order_lines l "
            "join orders o using (order_id) where o.ordered_at >= ? and l.unit_price > 0"
        )
    else:
        batch_sql = f"select count(price) from {TYPED} where reason = ''"
        history_sql = (
            "select count(price), median(price)::double from events where occurred_at >= ? and price > 0"
        )
    batch_row = con.execute(batch_sql).fetchone()
    history = con.execute(history_sql, [since]).fetchone()
    enough = settings.price_scale_min_rows
    if not batch_row or batch_row[0] < enough or not history or history[0] < enough or not history[1]:
        return float("-inf"), None  # too few prices to judge a scale: no bound
    median = float(history[1])
    return median / settings.price_scale_factor, median * settings.price_scale_factor


def tolerance(share: float, rows: int, settings: QualitySettings) -> float:
    """GX's `mostly` for a batch of `rows`: fail above `share`, and never on fewer than min_failing_rows."""
    if rows <= 0:
        return 1.0
    return max(0.0, 1 - max(share, (settings.min_failing_rows - 1) / rows))


def batch_parameters(
    con: duckdb.DuckDBPyConnection, table: str, settings: QualitySettings, now: datetime, rows: int
) -> dict[str, Any]:
    """Suite parameters for a batch of `rows`: tolerances, the time window, the price scale."""
    newest = _newest(con, table)
    low, high = _price_scale(con, table, newest, settings)
    return {
        "mostly": tolerance(settings.max_bad_row_share, rows, settings),
        "quarantine_mostly": tolerance(settings.max_quarantine_share, rows, settings),
        "duplicate_mostly": tolerance(settings.max_duplicate_share, rows, settings),
        "guest_mostly": tolerance(settings.max_guest_share, rows, settings),
        # The first batch of a table may reach back any distance (history being loaded).
        "window_start": newest - timedelta(days=settings.late_arrival_days) if newest else None,
        "window_end": now + timedelta(hours=settings.future_tolerance_hours),
        "price_median_min": low,
        "price_median_max": high,
    }


def table_parameters(settings: QualitySettings, now: datetime, as_of: date | None) -> dict[str, Any]:
    """Suite parameters for a warehouse table: no tolerance, nothing dated after the run (or as-of)."""
    end = now
    if as_of is not None:
        end = max(end, datetime.combine(as_of + timedelta(days=1), datetime.min.time()))
    return {
        "mostly": 1.0,
        "guest_mostly": 1 - settings.max_guest_share,
        "window_start": None,
        "window_end": end + timedelta(hours=settings.future_tolerance_hours),
    }
