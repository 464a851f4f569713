"""Shop shapes for end-to-end tests: small, realistic canonical exports written by hand (no generator).

One call writes one shop's export files and its segmint.toml into a folder:

    shop = ShopShape(customers=60, days=120, end=date(2026, 11, 8), events=False)
    config = write_shop(tmp_path, shop)                       # orders/orders.csv (+ events, customers)
    config = write_shop(tmp_path, shop, daily_exports=True)   # orders/orders_<day>.csv, each day
                                                              # repeating the previous two days
    write_unloadable(tmp_path)                                # orders/broken.csv without ordered_at

Shapes (each a ShopShape field): `customers`, `days` of history ending `end - stale_days`,
`events` (a clickstream source beside the orders), `products` (1 = a single-product shop),
`one_order_each` (everyone bought exactly once), `cancelled_only` (customers who cancelled their only order),
`id_prefix` (before every customer id, to tell several shops apart). The data are deterministic (numpy Generator seeded
with `seed`) and realistic: several products and prices, repeat buyers with gaps between orders,
guest checkouts, a few cancellations, consent and e-mail in the customers file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

ORDER_COLUMNS = ["order_id", "ordered_at", "customer_id", "line_no", "product_id", "product_name",
                 "category", "quantity", "unit_price", "currency", "is_cancellation", "country"]  # fmt: skip
EVENT_COLUMNS = ["event_id", "occurred_at", "customer_id", "session_id", "event_type", "product_id", "price"]
CUSTOMER_COLUMNS = ["customer_id", "email", "country", "first_seen_at", "marketing_consent"]
CATALOGUE = [("P01", "Espresso beans 1kg", "coffee", 18.5), ("P02", "Filter papers", "accessories", 3.2),
             ("P03", "Hand grinder", "equipment", 64.0), ("P04", "Green tea 250g", "tea", 9.9),
             ("P05", "Ceramic mug", "accessories", 12.0), ("P06", "Moka pot", "equipment", 39.0),
             ("P07", "Decaf beans 500g", "coffee", 11.4), ("P08", "Milk frother", "equipment", 24.9)]  # fmt: skip


@dataclass(frozen=True)
class ShopShape:
    """A shop's shape: who buys what over which days (the last data day is `end - stale_days`)."""

    customers: int = 60
    days: int = 120
    end: date = date(2026, 11, 8)
    events: bool = True
    products: int = 8
    one_order_each: bool = False
    stale_days: int = 0
    guest_share: float = 0.1
    cancellation_share: float = 0.03
    # customers who placed one order and cancelled all of it (a "C" order taking every line off)
    cancelled_only: int = 0
    seed: int = 7
    # put before every customer id, so that several shops' customers can be told apart
    id_prefix: str = ""

    @property
    def last_day(self) -> date:
        """The newest day that has data."""
        return self.end - timedelta(days=self.stale_days)

    @property
    def first_day(self) -> date:
        """The oldest day that has data."""
        return self.last_day - timedelta(days=self.days - 1)


def order_rows(shape: ShopShape) -> list[dict[str, object]]:
    """Order lines of the shop, oldest first (canonical columns)."""
    rng = np.random.default_rng(shape.seed)
    catalogue = CATALOGUE[: max(shape.products, 1)]
    rows: list[dict[str, object]] = []
    number = 0
    for c in range(shape.customers):
        customer = f"{shape.id_prefix}C{c:04d}"
        # Repeat buyers: a Poisson count of orders with gaps; one-order shops stop at one.
        n_orders = 1 if shape.one_order_each else 1 + int(rng.poisson(1.5))
        first = int(rng.integers(0, shape.days))
        days = sorted({first, *(first + int(g) for g in np.cumsum(rng.exponential(25, n_orders - 1)))})
        for offset in (d for d in days if d < shape.days):
            number += 1
            at = datetime.combine(shape.first_day + timedelta(days=offset), datetime.min.time())
            at += timedelta(minutes=int(rng.integers(8 * 60, 22 * 60)))
            guest = rng.random() < shape.guest_share
            picks = rng.choice(
                len(catalogue), size=min(len(catalogue), 1 + int(rng.poisson(0.8))), replace=False
            )
            for line, p in enumerate(picks, start=1):
                product = catalogue[int(p)]
                rows.append({"order_id": f"O{number:05d}", "ordered_at": at.isoformat(sep=" "),
                             "customer_id": "" if guest else customer, "line_no": line,
                             "product_id": product[0], "product_name": product[1], "category": product[2],
                             "quantity": 1 + int(rng.poisson(0.4)), "unit_price": product[3],
                             "currency": "EUR", "is_cancellation": "false", "country": "DE"})  # fmt: skip
            if not guest and rng.random() < shape.cancellation_share and offset + 2 < shape.days:
                # A cancellation two days later takes the first line off the customer's order.
                first_line = dict(rows[-len(picks)])
                first_line |= {"order_id": f"C{number:05d}", "ordered_at": (at + timedelta(days=2)).isoformat(sep=" "),
                               "quantity": -int(str(first_line["quantity"])), "is_cancellation": "true"}  # fmt: skip
                rows.append(first_line)
    for c in range(shape.cancelled_only):
        number += 1
        at = datetime.combine(shape.first_day + timedelta(days=int(rng.integers(0, max(shape.days - 3, 1)))),
                              datetime.min.time()) + timedelta(hours=int(rng.integers(8, 22)))  # fmt: skip
        product = catalogue[int(rng.integers(0, len(catalogue)))]
        line = {"order_id": f"O{number:05d}", "ordered_at": at.isoformat(sep=" "), "customer_id": f"{shape.id_prefix}X{c:04d}",
                "line_no": 1, "product_id": product[0], "product_name": product[1], "category": product[2],
                "quantity": 1, "unit_price": product[3], "currency": "EUR", "is_cancellation": "false",
                "country": "DE"}  # fmt: skip
        cancel = line | {"order_id": f"C{number:05d}", "ordered_at": (at + timedelta(days=1)).isoformat(sep=" "),
                         "quantity": -1, "is_cancellation": "true"}  # fmt: skip
        rows += [line, cancel]
    return sorted(rows, key=lambda r: (str(r["ordered_at"]), str(r["order_id"]), int(str(r["line_no"]))))


def event_rows(shape: ShopShape, orders: list[dict[str, object]]) -> list[dict[str, object]]:
    """Browsing of the shop: a few sessions per buyer before their orders, plus anonymous visits."""
    rng = np.random.default_rng(shape.seed + 1)
    rows: list[dict[str, object]] = []
    for i, order in enumerate(o for o in orders if o["line_no"] == 1 and o["is_cancellation"] == "false"):
        at = datetime.fromisoformat(str(order["ordered_at"])) - timedelta(minutes=int(rng.integers(5, 90)))
        session = f"S{i:05d}"
        for j, kind in enumerate(("page_view", "product_view", "add_to_cart", "checkout", "purchase")):
            rows.append({"event_id": f"E{i:05d}-{j}", "occurred_at": (at + timedelta(minutes=j)).isoformat(sep=" "),
                         "customer_id": order["customer_id"], "session_id": session, "event_type": kind,
                         "product_id": order["product_id"], "price": order["unit_price"]})  # fmt: skip
    return sorted(rows, key=lambda r: (str(r["occurred_at"]), str(r["event_id"])))


def customer_rows(shape: ShopShape, orders: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per registered customer who ordered: e-mail, country, first order, consent."""
    rng = np.random.default_rng(shape.seed + 2)
    first: dict[str, str] = {}
    for o in orders:
        if o["customer_id"]:
            first.setdefault(str(o["customer_id"]), str(o["ordered_at"]))
    return [{"customer_id": c, "email": f"{c.lower()}@example.com", "country": "DE", "first_seen_at": at,
             "marketing_consent": "true" if rng.random() < 0.7 else "false"}
            for c, at in sorted(first.items())]  # fmt: skip


def _write(path: Path, columns: list[str], rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_config(folder: Path, events: bool, extra: str = "", customers: bool = True) -> Path:
    """segmint.toml for the shop in `folder`: orders, customers (and events) sources, canonical preset."""
    sources = [("shop", "orders", "orders/*.csv")]
    if customers:
        sources.append(("crm", "customers", "customers/*.csv"))
    if events:
        sources.append(("web", "events", "events/*.csv"))
    # No alert recipients: tests that need mail add an [alerts] section through `extra`.
    text = "[warehouse]\npath = 'warehouse.duckdb'\n[schedule]\ntimezone = 'UTC'\n" + extra
    for name, kind, glob in sources:
        text += f"\n[[sources]]\nname = '{name}'\nkind = '{kind}'\npath = '{glob}'\npreset = 'canonical'\n"
    config = folder / "segmint.toml"
    config.write_text(text, encoding="utf-8")
    return config


def write_shop(
    folder: Path, shape: ShopShape, daily_exports: bool = False, through: date | None = None, extra: str = ""
) -> Path:
    """Write the shop's exports (one file per kind, or one per day repeating the two days before) and config.

    With `daily_exports`, `orders/orders_<day>.csv` (and events) hold the rows of that day and the two days
    before, for each day from the first data day up to `through` (default the last data day): rerun with a
    later `through` to deliver the next nights' exports. Returns the path of segmint.toml.
    """
    orders = order_rows(shape)
    events = event_rows(shape, orders) if shape.events else []
    _write(folder / "customers" / "customers.csv", CUSTOMER_COLUMNS, customer_rows(shape, orders))
    if not daily_exports:
        _write(folder / "orders" / "orders.csv", ORDER_COLUMNS, orders)
        if shape.events:
            _write(folder / "events" / "events.csv", EVENT_COLUMNS, events)
        return write_config(folder, shape.events, extra)
    last = through or shape.last_day
    day = shape.first_day
    while day <= last:
        window = {(day - timedelta(days=k)).isoformat() for k in range(3)}
        rows = [r for r in orders if str(r["ordered_at"])[:10] in window]
        if rows:  # three days without an order: no export that day (a header-only file is rejected)
            _write(folder / "orders" / f"orders_{day:%Y%m%d}.csv", ORDER_COLUMNS, rows)
        if shape.events and any(str(r["occurred_at"])[:10] in window for r in events):
            _write(folder / "events" / f"events_{day:%Y%m%d}.csv", EVENT_COLUMNS,
                   [r for r in events if str(r["occurred_at"])[:10] in window])  # fmt: skip
        day += timedelta(days=1)
    return write_config(folder, shape.events, extra)


def write_unloadable(folder: Path, name: str = "broken.csv") -> Path:
    """An orders file that cannot load at all: the required column ordered_at is missing."""
    rows = [{"order_id": "X1", "customer_id": "C9", "quantity": 1, "unit_price": 5.0}]
    return _write(folder / "orders" / name, ["order_id", "customer_id", "quantity", "unit_price"], rows)


def thin_day(folder: Path, day: date, keep_every: int) -> Path:
    """Keep one order in `keep_every` of `day` in that day's daily orders export (a quiet or cut-off day)."""
    path = folder / "orders" / f"orders_{day:%Y%m%d}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows: list[dict[str, object]] = list(csv.DictReader(f))
    kept = [
        r
        for r in rows
        if str(r["ordered_at"])[:10] != day.isoformat() or int(str(r["order_id"])[1:]) % keep_every == 0
    ]
    return _write(path, ORDER_COLUMNS, kept)
