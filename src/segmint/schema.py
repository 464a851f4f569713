"""Values of the warehouse contract that code in several places needs (the tables are in sql/schema/)."""

from __future__ import annotations

from typing import Final

# events.event_type: the values the warehouse accepts. The order is part of the contract:
# `segmint generate` stores event types as indexes into this tuple.
EVENT_TYPES: Final[tuple[str, ...]] = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
)


def counted_refund(orders: str = "") -> str:
    """SQL of what an order's refund takes off its revenue: at most the revenue (a Shopify refund includes
    shipping and taxes its lines never held), nothing for a voided order. `orders` prefixes the columns."""
    p = f"{orders}." if orders else ""
    return (
        f"case when coalesce({p}is_voided, false) then 0 "
        f"else least(coalesce({p}refunded_amount, 0), greatest({p}revenue, 0)) end"
    )
