"""A second persona generator, written independently of segmint.synth.generate: other personas, other
distributions, plain numpy and Polars. It writes canonical exports (orders, events, customers), a
segmint.toml and truth/personas.csv, so a segmentation can be scored against planted personas that our
own generator did not shape.

    truth = write_persona_shop(tmp_path, customers=2000, end=date(2026, 6, 30), seed=11)

Personas (share): what sets them apart is as much *when* they act as how much.
- steady_weekly (20 %): all year, an order every ~10 days of 20-40, visits about twice a week.
- holiday_burst (15 %): 3-6 orders of 60-120 within three weeks, 10-16 weeks before the end; silent otherwise.
- newcomer (15 %): first seen in the last 6 weeks, 1-2 small orders, visits about four times a week.
- rare_big (15 %): 2-4 orders a year of 200-500 (log-normal), visits only on order days.
- faded (20 %): an order every ~14 days until 30-40 weeks before the end, nothing since.
- browser (15 %): visits about three times a week all year, one small order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from tests.shops import write_config

DAYS = 365
PRODUCTS = [(f"Q{i:02d}", f"Item {i}", ("home", "garden", "kitchen", "books")[i % 4]) for i in range(24)]


@dataclass(frozen=True)
class Persona:
    """How one persona orders and visits, in days relative to the first day of history (0..DAYS-1)."""

    name: str
    share: float


PERSONAS = (
    Persona("steady_weekly", 0.20),
    Persona("holiday_burst", 0.15),
    Persona("newcomer", 0.15),
    Persona("rare_big", 0.15),
    Persona("faded", 0.20),
    Persona("browser", 0.15),
)


def _poisson_days(rng: np.random.Generator, start: int, stop: int, gap: float) -> list[int]:
    # Days of a Poisson process with mean gap `gap` between start and stop (at least one day).
    days, t = [], start + rng.exponential(gap) * rng.random()
    while t < stop:
        days.append(int(t))
        t += rng.exponential(gap)
    return days or [int(rng.integers(start, max(stop, start + 1)))]


def _plan(rng: np.random.Generator, persona: str) -> tuple[list[int], list[int], tuple[float, float]]:
    """Order days, visit days (besides order days) and the (low, high) value of an order."""
    end = DAYS
    if persona == "steady_weekly":
        return _poisson_days(rng, 0, end, 10), _poisson_days(rng, 0, end, 3.5), (20, 40)
    if persona == "holiday_burst":
        start = end - int(rng.integers(77, 112))
        orders = sorted(int(d) for d in rng.integers(start, start + 21, size=int(rng.integers(3, 7))))
        return orders, [d for d in orders for _ in range(2)], (60, 120)
    if persona == "newcomer":
        joined = end - int(rng.integers(1, 42))
        orders = sorted(int(d) for d in rng.integers(joined, end, size=int(rng.integers(1, 3))))
        return orders, _poisson_days(rng, joined, end, 1.75), (10, 30)
    if persona == "rare_big":
        orders = sorted(int(d) for d in rng.integers(0, end, size=int(rng.integers(2, 5))))
        return orders, [], (0, 0)  # log-normal values, see _value
    if persona == "faded":
        stop = end - int(rng.integers(210, 280))
        return _poisson_days(rng, 0, stop, 14), _poisson_days(rng, 0, stop, 7), (25, 60)
    return [int(rng.integers(0, end))], _poisson_days(rng, 0, end, 2.3), (5, 15)


def _value(rng: np.random.Generator, persona: str, low: float, high: float) -> float:
    if persona == "rare_big":
        return float(np.clip(rng.lognormal(np.log(300), 0.25), 200, 500))
    return float(rng.uniform(low, high))


def write_persona_shop(folder: Path, customers: int, end: date, seed: int = 11, events: bool = True) -> Path:
    """Write the shop's exports, segmint.toml and truth/personas.csv into `folder`; return the truth file."""
    rng = np.random.default_rng(seed)
    first_day = datetime.combine(end - timedelta(days=DAYS - 1), datetime.min.time())
    shares = np.array([p.share for p in PERSONAS])
    labels = rng.choice(len(PERSONAS), size=customers, p=shares / shares.sum())
    orders: dict[str, list[object]] = {k: [] for k in ("order_id", "ordered_at", "customer_id", "line_no",
                                                       "product_id", "product_name", "category", "quantity",
                                                       "unit_price")}  # fmt: skip
    visits: dict[str, list[object]] = {k: [] for k in ("event_id", "occurred_at", "customer_id", "session_id",
                                                       "event_type", "product_id", "price")}  # fmt: skip
    first_seen: list[datetime] = []
    n_order = n_session = 0
    for c, label in enumerate(labels):
        persona = PERSONAS[int(label)].name
        customer = f"K{c:06d}"
        order_days, visit_days, (low, high) = _plan(rng, persona)
        first_seen.append(first_day + timedelta(days=min(order_days + visit_days)))
        for day in order_days:
            at = first_day + timedelta(days=day, minutes=int(rng.integers(7 * 60, 23 * 60)))
            total = _value(rng, persona, low, high)
            lines = int(rng.integers(1, 4))
            for line in range(lines):
                product = PRODUCTS[int(rng.integers(0, len(PRODUCTS)))]
                for key, value in zip(orders, (f"A{n_order:07d}", at, customer, line + 1, *product, 1,
                                               round(total / lines, 2)), strict=True):  # fmt: skip
                    orders[key].append(value)
            n_order += 1
        for day, kind in [(d, "visit") for d in visit_days] + [(d, "order") for d in order_days]:
            at = first_day + timedelta(days=day, minutes=int(rng.integers(6 * 60, 22 * 60)))
            steps = ["page_view", *["product_view"] * int(rng.integers(1, 5))]
            steps += ["add_to_cart", "checkout", "purchase"] if kind == "order" else []
            for j, step in enumerate(steps):
                product = PRODUCTS[int(rng.integers(0, len(PRODUCTS)))]
                for key, value in zip(visits, (f"V{n_session:07d}-{j}", at + timedelta(minutes=j), customer,
                                               f"W{n_session:07d}", step, product[0], 9.99), strict=True):  # fmt: skip
                    visits[key].append(value)
            n_session += 1
    frame = pl.DataFrame(orders).with_columns(
        currency=pl.lit("EUR"), is_cancellation=pl.lit("false"), country=pl.lit("DE")
    )
    (folder / "orders").mkdir(parents=True, exist_ok=True)
    frame.sort("ordered_at", "order_id", "line_no").write_csv(folder / "orders" / "orders.csv")
    if events:
        (folder / "events").mkdir(parents=True, exist_ok=True)
        pl.DataFrame(visits).sort("occurred_at", "event_id").write_csv(folder / "events" / "events.csv")
    ids = [f"K{c:06d}" for c in range(customers)]
    (folder / "customers").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "customer_id": ids,
            "email": [f"{i.lower()}@example.org" for i in ids],
            "country": "DE",
            "first_seen_at": first_seen,
            "marketing_consent": "true",
        }
    ).write_csv(folder / "customers" / "customers.csv")
    write_config(folder, events)
    truth = folder / "truth" / "personas.csv"
    truth.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"customer_id": ids, "persona": [PERSONAS[int(i)].name for i in labels]}).write_csv(truth)
    return truth
