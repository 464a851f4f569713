"""Net purchases for lifetime value: refunds, cancellations and voided orders reduce the purchase they belong to."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import numpy.typing as npt
import polars as pl

from segmint.warehouse import query_frame

FloatArray = npt.NDArray[np.float64]

_SCHEMA = pl.Schema(
    {
        "order_id": pl.String(),
        "customer_id": pl.String(),
        "ordered_at": pl.Datetime("us"),
        "revenue": pl.Float64(),
    }
)


def net_purchases(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Purchases of known customers up to the end of `as_of`, net of what was taken back.

    A voided order is gone; a refund reduces its own order; a cancellation record (a negative order
    with no link to the original, like Online Retail's C invoices) reduces the same customer's most
    recent purchases at or before it, those sharing a product first. A purchase netted to zero or
    below is removed; one worth nothing to begin with stays a purchase of value 0 (CDNOW counts them).
    Columns: order_id, customer_id, ordered_at, revenue (the net value).
    """
    purchases = query_frame(
        con,
        """
        select order_id, customer_id, ordered_at, cast(revenue as double) as gross,
            greatest(cast(revenue as double) - coalesce(cast(refunded_amount as double), 0), 0) as revenue
        from orders
        where customer_id is not null and not is_cancellation and not coalesce(is_voided, false)
            and ordered_at < cast(? as date) + interval 1 day
        order by customer_id, ordered_at, order_id
        """,
        [as_of],
    )
    cancellations = query_frame(
        con,
        """
        select order_id, customer_id, ordered_at, abs(cast(revenue as double)) as amount
        from orders
        where customer_id is not null and is_cancellation and not coalesce(is_voided, false)
            and revenue <> 0 and ordered_at < cast(? as date) + interval 1 day
        order by ordered_at, order_id
        """,
        [as_of],
    )
    if purchases.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    values = purchases["revenue"].to_numpy().copy()
    if cancellations.height:
        _allocate(con, purchases, cancellations, values)
    net = purchases.with_columns(revenue=pl.Series(values, dtype=pl.Float64))
    # Removed: a purchase that had value and has none left once what was taken back is subtracted.
    # (1e-6: a cancellation equal to the purchase leaves float dust, not a purchase.)
    return net.filter((pl.col("revenue") > 1e-6) | (pl.col("gross") <= 0)).select(
        "order_id", "customer_id", pl.col("ordered_at").cast(pl.Datetime("us")), "revenue"
    )


def _allocate(
    con: duckdb.DuckDBPyConnection, purchases: pl.DataFrame, cancellations: pl.DataFrame, values: FloatArray
) -> None:
    """Subtract each cancellation from `values` (the purchases' net values, changed in place)."""
    customers = cancellations["customer_id"].unique()
    con.register("net_purchase_customers", customers.to_frame())
    try:
        lines = query_frame(
            con,
            """
            select l.order_id, l.product_id
            from order_lines l join orders o on o.order_id = l.order_id
            where o.customer_id in (select customer_id from net_purchase_customers) and l.product_id is not null
            """,
        )
    finally:
        con.unregister("net_purchase_customers")
    products: dict[str, set[str]] = {}
    for order_id, product_id in lines.iter_rows():
        products.setdefault(str(order_id), set()).add(str(product_id))

    # Only the purchases of customers who cancelled something become Python objects: at a million
    # customers, lists of every purchase's id and time were the predict stage's largest allocation.
    affected = (
        purchases.with_row_index("row")
        .filter(pl.col("customer_id").is_in(customers.implode()))
        .select("row", "order_id", "customer_id", "ordered_at")
    )
    by_customer: dict[str, list[tuple[int, str, datetime]]] = {}
    for i, purchase_id, customer, at in affected.iter_rows():
        by_customer.setdefault(customer, []).append((i, str(purchase_id), at))
    for order_id, customer, at, amount in cancellations.iter_rows():
        earlier = [p for p in by_customer.get(customer, []) if p[2] <= at]
        cancelled = products.get(str(order_id), set())
        # Same products first, then any; most recent first within each.
        earlier.sort(key=lambda p: (not (cancelled & products.get(p[1], set())), -p[2].timestamp()))
        remaining = float(amount)
        for i, _, _ in earlier:
            if remaining <= 0:
                break
            taken = min(remaining, float(values[i]))
            values[i] -= taken
            remaining -= taken
        # What is left over belonged to a purchase before the data began: it reduces nothing here.
