"""Customer features: run the sql/ models in order for one as-of date and store customer_features."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import duckdb
import polars as pl

from segmint import contract
from segmint.config import FeatureSettings
from segmint.errors import SegmintError
from segmint.resources import sql_file
from segmint.warehouse import query_frame, query_one, transaction

Materialization = Literal["view", "table", "replace", "append"]

#: The numeric columns of the customer_features contract that describe behaviour (no keys, dates,
#: RFM scores or extras): what segment profiles average and what models may learn from.
BEHAVIOUR_FEATURES: tuple[str, ...] = contract.names("orders", "clickstream")


#: Features computed from reviews and survey answers (kind = "feedback" sources): null for everyone in a
#: shop without feedback. Profiles and campaign rules carry them; churn and segmentation by default do
#: not, so that shops without feedback are segmented and scored as before.
FEEDBACK_FEATURES: tuple[str, ...] = contract.names("feedback")

#: Demographic attributes a customers export may carry (customers table columns), and the features made
#: of them (customer_features: the age on the as-of day instead of the birth year). Profiles show their
#: mix per segment; campaign rules may use them only with [campaigns] use_demographics = true, and
#: segmentation and churn never do by default: targeting by age or gender is profiling on personal
#: attributes (GDPR art. 22), and a shop should choose it, not inherit it.
DEMOGRAPHIC_COLUMNS: tuple[str, ...] = ("birth_year", "age_band", "gender", "city", "region")
DEMOGRAPHIC_FEATURES: tuple[str, ...] = ("age", "age_band", "gender", "city", "region")


def has_feedback(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """Whether any feedback submitted up to the end of `as_of` is in the warehouse."""
    row = query_one(
        con,
        "select exists (select 1 from feedback where submitted_at < cast(? as date) + interval 1 day)",
        [as_of],
    )
    return bool(row and row[0])


#: Features computed from web events: null or zero for everyone in a shop without clickstream.
WEB_FEATURES: frozenset[str] = frozenset(contract.names("clickstream"))


def has_clickstream(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """Whether any web event up to the end of `as_of` is in the warehouse."""
    row = query_one(
        con,
        "select exists (select 1 from events where occurred_at < cast(? as date) + interval 1 day)",
        [as_of],
    )
    return bool(row and row[0])


def web_gap(con: duckdb.DuckDBPyConnection, as_of: date, window_days: int = 90) -> str:
    """Why the web features are empty on night `as_of`, in plain words ("" when the window has events).

    "no clickstream" only when the shop has no events at all: an events export for another period
    than the orders (or one that stopped) needs a different fix than adding an events source.
    """
    row = query_one(con, "select min(occurred_at)::date, max(occurred_at)::date from events")
    first, last = (row[0], row[1]) if row else (None, None)
    if first is None or last is None:
        return "no clickstream"
    if first > as_of:
        return f"the web events start on {first}, after this night: export events for the orders' period"
    age = (as_of - last).days
    if age > window_days:
        return f"the newest web event is from {last}, {age:,} days before this night"
    return ""


@dataclass(frozen=True)
class Model:
    """One SQL model: its file below sql/ and how its result is kept."""

    path: str
    # view: a temp view (staging, cheap to inline); table: a temp table (read more than once);
    # replace: the warehouse table is emptied and refilled (the rule table);
    # append: rows for this as_of are deleted and inserted (customer_features).
    materialization: Materialization

    @property
    def name(self) -> str:
        """The model's name: its file name without .sql, which is also the table it makes."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".sql")

    def sql(self) -> str:
        """The model's SQL text."""
        return sql_file(self.path)


# In dependency order: each model reads only warehouse tables and models above it (a test checks).
FEATURE_MODELS: tuple[Model, ...] = (
    Model("staging/stg_warehouse__orders.sql", "view"),
    # a table: two models read it, and its point-in-time semi-join should run once
    Model("staging/stg_warehouse__order_lines.sql", "table"),
    Model("staging/stg_warehouse__events.sql", "view"),
    Model("staging/stg_warehouse__customers.sql", "view"),
    Model("staging/stg_warehouse__feedback.sql", "view"),
    Model("intermediate/int_orders_valued.sql", "table"),
    Model("intermediate/int_customer_orders_aggregated.sql", "table"),
    Model("intermediate/int_sessions_summarised.sql", "table"),
    Model("intermediate/int_customer_activity_windowed.sql", "table"),
    Model("intermediate/int_customers_unioned.sql", "table"),
    Model("intermediate/int_customer_rfm_scored.sql", "table"),
    Model("intermediate/int_customer_feedback_aggregated.sql", "table"),
    Model("marts/rfm_segments.sql", "replace"),
    Model("marts/customer_features.sql", "append"),
)


@dataclass(frozen=True)
class FeatureBuild:
    """What one feature build produced."""

    as_of: date
    customers: int
    buyers: int
    prospects: int
    seconds: float


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = query_one(con, sql, params)
    return int(row[0]) if row and row[0] is not None else 0


def run_model(con: duckdb.DuckDBPyConnection, model: Model, as_of: date) -> None:
    """Materialize one model for `as_of` (the session variable the SQL reads)."""
    con.execute("set variable as_of = ?", [as_of])
    body = model.sql()
    if model.materialization == "view":
        con.execute(f"create or replace temp view {model.name} as {body}")
    elif model.materialization == "table":
        con.execute(f"create or replace temp table {model.name} as {body}")
    elif model.materialization == "replace":
        con.execute(f"delete from {model.name}")
        con.execute(f"insert into {model.name} by name {body}")
    else:
        con.execute(f"delete from {model.name} where as_of = ?", [as_of])
        con.execute(f"insert into {model.name} by name {body}")


def _drop_temporaries(con: duckdb.DuckDBPyConnection) -> None:
    # Temp tables hold a night's intermediate rows (hundreds of MB at a million customers).
    for model in reversed(FEATURE_MODELS):
        if model.materialization == "view":
            con.execute(f"drop view if exists temp.{model.name}")
        elif model.materialization == "table":
            con.execute(f"drop table if exists temp.{model.name}")


def build_features(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: FeatureSettings | None = None
) -> FeatureBuild:
    """Compute customer_features for `as_of` from data up to the end of that day (replacing that day's rows)."""
    settings = settings or FeatureSettings()
    started = time.perf_counter()
    try:
        with transaction(con):
            for model in FEATURE_MODELS:
                run_model(con, model, as_of)
            if settings.keep_days is not None:
                # Older nights can be rebuilt at any time (point in time), so pruning loses nothing.
                con.execute(
                    "delete from customer_features where as_of < cast(? as date) - cast(? as integer)",
                    [as_of, settings.keep_days],
                )
    except duckdb.Error as exc:
        raise SegmintError(f"Building customer features for {as_of} failed: {exc}") from exc
    finally:
        _drop_temporaries(con)
    row = query_one(
        con,
        "select count(*), count(*) filter (where not is_prospect) from customer_features where as_of = ?",
        [as_of],
    )
    customers, buyers = (int(row[0]), int(row[1])) if row else (0, 0)
    return FeatureBuild(as_of, customers, buyers, customers - buyers, time.perf_counter() - started)


def features_at(
    con: duckdb.DuckDBPyConnection,
    day: date,
    columns: Sequence[str] | None = None,
    customers: pl.Series | None = None,
) -> pl.DataFrame:
    """customer_features of `day` (all columns, or those of `columns` it has; of `customers` only, when
    given): the stored night when there is one, else computed point in time."""
    if query_one(con, "select 1 from customer_features where as_of = ? limit 1", [day]):
        select, params = _select(columns)
        stored = query_frame(
            con,
            f"select {select} from customer_features where as_of = ? order by customer_id",
            [*params, day],
        )
        return (
            stored if customers is None else stored.filter(pl.col("customer_id").is_in(customers.implode()))
        )
    return compute_features(con, day, columns, customers)


def _select(columns: Sequence[str] | None) -> tuple[str, list[object]]:
    """The select list for `columns` (all when None) and its parameter."""
    # Selected in SQL, so that a night's other columns never reach Python at all.
    return ("*", []) if columns is None else ("columns(lambda c: list_contains(?, c))", [list(columns)])


# The warehouse tables the feature models read, each cut to the customers of `feature_scope` (a temp
# table). Every order and clickstream feature reads only its customer's own rows, so it is the same as
# when computed for everyone. A review matched by an email address shared with a customer outside the
# scope may go to another customer of it: the feedback features are not exact in a scope.
_SCOPED_TABLES = {
    "orders": "select * from {db}.orders where customer_id in (select customer_id from feature_scope)",
    "order_lines": "select * from {db}.order_lines where order_id in (select order_id from temp.orders)",
    "events": "select * from {db}.events where customer_id in (select customer_id from feature_scope)",
    "customers": "select * from {db}.customers where customer_id in (select customer_id from feature_scope)",
    "feedback": "select * from {db}.feedback where customer_id in (select customer_id from feature_scope)"
    " or customer_id is null",
}


def compute_features(
    con: duckdb.DuckDBPyConnection,
    day: date,
    columns: Sequence[str] | None = None,
    customers: pl.Series | None = None,
) -> pl.DataFrame:
    """The feature models run for `day` without keeping anything: churn's earlier nights are not stored.

    With `customers`, only theirs: churn learns from a sample of a night's buyers, and computing the
    features of that sample alone takes a fraction of the whole night's time.
    """
    *upstream, final = FEATURE_MODELS
    con.execute("begin transaction")
    try:
        if customers is not None:
            _scope(con, customers)
        for model in upstream:
            run_model(con, model, day)
        con.execute("set variable as_of = ?", [day])
        select, params = _select(columns)
        features = query_frame(con, f"select {select} from ({final.sql()}) order by customer_id", params)
    finally:
        # Rolling back drops the temporary model tables too; the warehouse is left exactly as it was.
        con.execute("rollback")
    return features


def _scope(con: duckdb.DuckDBPyConnection, customers: pl.Series) -> None:
    """Temp tables named like the warehouse's, holding the rows of `customers` only: the models' unqualified
    names resolve to them first, until the transaction that made them is rolled back."""
    scope = pl.DataFrame({"customer_id": customers.cast(pl.String)})
    con.register("feature_scope_frame", scope)
    try:
        con.execute("create temp table feature_scope as select distinct customer_id from feature_scope_frame")
    finally:
        con.unregister("feature_scope_frame")
    row = query_one(con, "select current_database()")
    db = '"' + str(row[0] if row else "").replace('"', '""') + '".main'
    for table, sql in _SCOPED_TABLES.items():
        con.execute(f"create temp view {table} as {sql.format(db=db)}")


def feature_dates(con: duckdb.DuckDBPyConnection) -> list[date]:
    """The as-of dates that have customer features, oldest first."""
    return [
        row[0] for row in con.execute("select distinct as_of from customer_features order by 1").fetchall()
    ]


def require_features(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """The number of customers with features for `as_of`; one sentence if there are none."""
    n = _count(con, "select count(*) from customer_features where as_of = ?", [as_of])
    if n == 0:
        raise SegmintError(
            f"No customer features for {as_of}; run `segmint run nightly --as-of {as_of}` first "
            "(or check that data up to that day has been loaded)."
        )
    return n


_REFERENCE = re.compile(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)


def model_references(model: Model) -> set[str]:
    """The tables and models a model's SQL reads (names after from/join, its own CTEs excluded)."""
    body = re.sub(r"--[^\n]*", "", model.sql())
    ctes = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s+(?:\([^)]*\)\s+)?as\s*\(", body, re.IGNORECASE))
    return {name for name in _REFERENCE.findall(body) if name not in ctes} - {model.name}
