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
