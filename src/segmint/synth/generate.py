"""Synthetic shop data for ``segmint generate``.

The generator simulates a small online shop: a product catalogue, customers drawn from latent
personas, their browsing sessions (click-stream events), orders (one row per order line),
guest checkouts, anonymous sessions and returns. Output is segmint's *canonical* layout::

    out_dir/
      segmint.toml                      sources pointing at the files below
      customers/customers.csv           customer_id, email, country, first_seen_at, marketing_consent
      orders/orders_<YYYY-MM>.csv       one row per order line (orders.csv / orders_<YYYY-MM-DD>.csv)
      events/events_<YYYY-MM>.csv       click-stream events
      truth/personas.csv                customer_id, persona (ground truth, not a source)
      truth/product_pairs.csv           planted co-purchase pairs (ground truth, not a source)

(``.parquet`` instead of ``.csv`` for ``fmt="parquet"``; the truth files are always CSV.)

The simulated period is the ``days`` calendar days ending with ``end`` (inclusive): every
timestamp lies in ``[end - days + 1 00:00:00, end + 1 00:00:00)``, naive UTC, whole seconds.

Everything is vectorised with numpy (no Python loop per customer, order or event). Customers
are simulated in fixed-size chunks, each with its own random stream derived from ``seed``; the
chunks are spilled to a temporary directory partitioned by month and then merged month by month
into the output files, sorted by time, so ids are chronological and memory stays bounded by one
chunk plus one month of output. Same arguments give byte-identical files.

The building blocks (:func:`build_world`, :data:`PERSONAS`) are reusable, e.g. for simulating
campaign responses from the same latent personas later.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import IO, Any, Final, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from segmint.schema import EVENT_TYPES

__all__ = [
    "PERSONAS",
    "PERSONA_NAMES",
    "GenerateSummary",
    "PersonaSpec",
    "World",
    "build_world",
    "generate",
    "segmint_toml",
]

Fmt = Literal["csv", "parquet"]
Split = Literal["none", "month", "day"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

SECONDS_PER_DAY: Final = 86_400
CHUNK_CUSTOMERS: Final = 50_000  # part of the output's definition: changing it changes the data
N_PRODUCTS: Final = 600
N_PLANTED_PAIRS: Final = 24
GUEST_ORDER_SHARE: Final = 0.08  # of all (non-return) orders
ANONYMOUS_SESSION_SHARE: Final = 0.30  # of all sessions
GUEST_SESSION_P: Final = 0.6  # guest orders that come with an (anonymous) purchase session
CURRENCY: Final = "EUR"
DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

# Events are built with these indexes into EVENT_TYPES and named at the end.
_PAGE, _VIEW, _CART, _REMOVE, _CHECKOUT, _PURCHASE = range(len(EVENT_TYPES))

ORDER_COLUMNS: Final = (
    "order_id",
    "line_no",
    "customer_id",
    "ordered_at",
    "product_id",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "currency",
    "is_cancellation",
)
EVENT_COLUMNS: Final = (
    "event_id",
    "occurred_at",
    "customer_id",
    "session_id",
    "event_type",
    "product_id",
    "price",
)
CUSTOMER_COLUMNS: Final = ("customer_id", "email", "country", "first_seen_at", "marketing_consent")


# --------------------------------------------------------------------------------------------
# personas


@dataclass(frozen=True)
class PersonaSpec:
    """Behaviour of one latent persona. Rates are per year of active time (seasonally
    weighted); ``join``/``lapse`` are fractions of the simulated period."""

    name: str
    share: float
    join: tuple[float, float]  # first_seen_at in this part of the period ...
    join_power: float  # ... as lo + (hi - lo) * U**join_power (> 1: skewed towards the start)
    lapse: tuple[float, float]  # stops buying (and nearly stops browsing) here; (1, 1) = never
    order_mode: Literal["rate", "one", "maybe_one"]
    orders_per_year: float  # order_mode "rate": Poisson (at least one order)
    p_order: float  # order_mode "maybe_one": probability of the single order
    browse_per_year: float  # browsing-only sessions while active
    browse_per_year_after: float  # after the lapse (lapsing) / after the only order (one-time)
    extra_lines: float  # Poisson mean of order lines beyond the first
    p_qty1: float  # P(quantity == 1); quantities are geometric
    price_pref: float  # exponent on relative price in product choice (<0: cheap)
    discount_pref: float  # extra weight of discounted products
    p_fav: float  # probability a product comes from one of the favourite categories
    n_fav_p: tuple[float, float, float]  # P(1, 2, 3 favourite categories)
    p_return: float  # probability an order is (partly) returned later
    page_views: float  # extra page views per session (Poisson mean)
    product_views: float  # product views per browsing session (Poisson mean)
    p_cart: float  # add_to_cart per product view (browsing sessions)
    p_remove: float  # remove_from_cart per add_to_cart (browsing sessions)
    p_checkout: float  # abandoned checkout in a browsing session with a non-empty cart
    p_consent: float  # marketing consent


def _persona(table: dict[str, Any]) -> PersonaSpec:
    """One persona from a table of personas.toml; numbers become floats and arrays tuples."""

    def value(v: Any) -> Any:
        if isinstance(v, list):
            return tuple(float(x) for x in v)
        return v if isinstance(v, str) else float(v)

    return PersonaSpec(**{key: value(v) for key, v in table.items()})


def _data_text(name: str) -> str:
    """A data file of this package (read through importlib.resources, so it works from a wheel too)."""
    return files("segmint.synth").joinpath(name).read_text(encoding="utf-8")


def _load_categories() -> tuple[tuple[str, float, tuple[str, ...]], ...]:
    """The categories of catalogue.csv in file order: name, median price in euros, product nouns."""
    nouns: dict[str, list[str]] = {}
    medians: dict[str, float] = {}
    for row in csv.DictReader(io.StringIO(_data_text("catalogue.csv"), newline="")):
        medians.setdefault(row["category"], float(row["median_price"]))
        nouns.setdefault(row["category"], []).append(row["product"])
    return tuple((c, medians[c], tuple(n)) for c, n in nouns.items())


def _load_adjectives() -> tuple[str, ...]:
    """The words product names start with, from adjectives.csv."""
    return tuple(
        row["adjective"] for row in csv.DictReader(io.StringIO(_data_text("adjectives.csv"), newline=""))
    )


# The personas and the demo catalogue are data files beside this module (personas.toml, catalogue.csv,
# adjectives.csv), so the demo shop is edited without touching code.
_PERSONAS_TOML: Final = tomllib.loads(_data_text("personas.toml"))
PERSONAS: Final[tuple[PersonaSpec, ...]] = tuple(_persona(t) for t in _PERSONAS_TOML["persona"])
PERSONA_NAMES: Final = tuple(p.name for p in PERSONAS)
# Guest checkouts and anonymous browsing sessions behave like this pseudo-persona.
_ANON: Final = _persona(_PERSONAS_TOML["anonymous"])
_GROUPS: Final = (*PERSONAS, _ANON)  # product-choice groups: persona index, then anonymous
_ANON_GROUP: Final = len(PERSONAS)


def _param(name: str) -> F64:
    return np.array([float(getattr(p, name)) for p in _GROUPS], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# static reference data

_CATEGORIES: Final[tuple[tuple[str, float, tuple[str, ...]], ...]] = _load_categories()
_ADJECTIVES: Final = _load_adjectives()
_COUNTRIES: Final = (
    ("DE", 0.31),
    ("FR", 0.12),
    ("NL", 0.10),
    ("AT", 0.08),
    ("IT", 0.07),
    ("BE", 0.06),
    ("ES", 0.06),
    ("CH", 0.05),
    ("PL", 0.04),
    ("SE", 0.03),
    ("DK", 0.02),
    ("IE", 0.02),
    ("LU", 0.01),
    ("PT", 0.01),
    ("CZ", 0.01),
    ("FI", 0.01),
)
_WEEKDAY_FACTOR: Final = (0.97, 0.94, 0.95, 0.98, 1.02, 1.09, 1.18)  # Monday .. Sunday
_MONTH_FACTOR: Final = (0.86, 0.84, 0.93, 0.95, 0.95, 0.9, 0.86, 0.86, 0.95, 1.0, 1.22, 1.42)
_HOUR_WEIGHTS: Final = (
    0.35, 0.2, 0.12, 0.08, 0.07, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.05,
    1.15, 1.1, 1.0, 1.0, 1.05, 1.15, 1.35, 1.6, 1.75, 1.6, 1.15, 0.7,
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# calendar: seasonality and time sampling


def _black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    first_thursday = nov1 + timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def _day_factor(d: date) -> float:
    f = _WEEKDAY_FACTOR[d.weekday()] * _MONTH_FACTOR[d.month - 1]
    bf = _black_friday(d.year)
    if bf <= d <= bf + timedelta(days=3):  # Black Friday .. Cyber Monday
        f *= 2.2
    elif d.month == 12 and 24 <= d.day <= 26:
        f *= 0.45
    elif d.month == 12 and d.day >= 27:
        f *= 0.8
    return f


@dataclass(frozen=True)
class _Calendar:
    start: date
    days: int
    start_epoch: int
    end_epoch: int  # exclusive: midnight after the last day
    order_w: F64
    order_cum: F64
    session_w: F64
    session_cum: F64
    hour_cum: F64
    hour_w: F64

    @classmethod
    def build(cls, end: date, days: int) -> _Calendar:
        start = end - timedelta(days=days - 1)
        factors = np.array([_day_factor(start + timedelta(days=i)) for i in range(days)])
        order_w = factors / factors.mean()
        session_w = factors**0.6
        session_w /= session_w.mean()
        hour_w = np.array(_HOUR_WEIGHTS, dtype=np.float64)
        hour_w /= hour_w.sum()
        start_epoch = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
        return cls(
            start=start,
            days=days,
            start_epoch=start_epoch,
            end_epoch=start_epoch + days * SECONDS_PER_DAY,
            order_w=order_w,
            order_cum=np.concatenate([[0.0], np.cumsum(order_w)]),
            session_w=session_w,
            session_cum=np.concatenate([[0.0], np.cumsum(session_w)]),
            hour_cum=np.concatenate([[0.0], np.cumsum(hour_w)]),
            hour_w=hour_w,
        )

    def _weights(self, kind: Literal["order", "session"]) -> tuple[F64, F64]:
        if kind == "order":
            return self.order_w, self.order_cum
        return self.session_w, self.session_cum

    def mass(self, a: F64, b: F64, kind: Literal["order", "session"]) -> F64:
        """Seasonally weighted number of days in [a, b) (days since start; mean weight 1)."""
        w, cum = self._weights(kind)
        return np.maximum(self._cdf(b, w, cum) - self._cdf(a, w, cum), 0.0)

    def _cdf(self, x: F64, w: F64, cum: F64) -> F64:
        x = np.clip(x, 0.0, float(self.days))
        d = np.minimum(np.floor(x).astype(np.int64), self.days - 1)
        return cum[d] + (x - d) * w[d]

    def sample(self, rng: np.random.Generator, a: F64, b: F64, kind: Literal["order", "session"]) -> F64:
        """Times (fractional days since start) in [a, b), seasonal and diurnal."""
        w, cum = self._weights(kind)
        lo = self._cdf(a, w, cum)
        hi = self._cdf(b, w, cum)
        y = lo + rng.random(len(a)) * (hi - lo)
        d = np.clip(np.searchsorted(cum, y, side="right") - 1, 0, self.days - 1)
        frac = np.clip((y - cum[d]) / w[d], 0.0, 1.0 - 1e-12)
        # time of day from the hourly profile (inverse CDF within the day)
        h = np.clip(np.searchsorted(self.hour_cum, frac, side="right") - 1, 0, 23)
        tod = (h + (frac - self.hour_cum[h]) / self.hour_w[h]) / 24.0
        x = d + np.clip(tod, 0.0, 1.0 - 1e-9)
        return np.clip(x, a, np.maximum(a, b - 1e-6))

    def to_epoch(self, x: F64) -> I64:
        t = self.start_epoch + np.floor(x * SECONDS_PER_DAY).astype(np.int64)
        return np.clip(t, self.start_epoch, self.end_epoch - 1)

    def month_bounds(self) -> list[tuple[str, int, int]]:
        """(label 'YYYY-MM', first epoch second, end epoch second) per month of the period."""
        out: list[tuple[str, int, int]] = []
        y, m = self.start.year, self.start.month
        while True:
            lo = int(datetime(y, m, 1, tzinfo=UTC).timestamp())
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            hi = int(datetime(ny, nm, 1, tzinfo=UTC).timestamp())
            if lo >= self.end_epoch:
                return out
            out.append((f"{y:04d}-{m:02d}", max(lo, self.start_epoch), min(hi, self.end_epoch)))
            y, m = ny, nm

    def day_label(self, day_index: int) -> str:
        return (self.start + timedelta(days=day_index)).isoformat()


# --------------------------------------------------------------------------------------------
# world: catalogue + customers


@dataclass(frozen=True)
class _Catalogue:
    product_id: tuple[str, ...]  # by internal index; internal order = sorted by category
    name: tuple[str, ...]
    category: I64
    price_cents: I64
    is_discount: Bool
    popularity: F64
    cat_names: tuple[str, ...]
    cat_start: I64
    cat_end: I64
    cat_cdf: F64  # global category choice
    partner: I64  # planted pair partner or -1
    p_partner: F64  # probability to add the partner to a basket containing the product
    sampler_cdf: F64  # stacked per (group, category) product-choice CDFs

    @property
    def n(self) -> int:
        return len(self.product_id)

    @property
    def n_categories(self) -> int:
        return len(self.cat_names)

    def sample_products(self, rng: np.random.Generator, group: I64, category: I64) -> I64:
        block = group * self.n_categories + category
        pos = np.searchsorted(self.sampler_cdf, block + rng.random(len(block)), side="right")
        base = group * self.n
        pos = np.clip(pos, base + self.cat_start[category], base + self.cat_end[category] - 1)
        return (pos - base).astype(np.int64)


def _build_catalogue(rng: np.random.Generator) -> _Catalogue:
    n_cat = len(_CATEGORIES)
    sizes = 20 + rng.multinomial(N_PRODUCTS - 20 * n_cat, rng.dirichlet(np.full(n_cat, 4.0)))
    category = np.repeat(np.arange(n_cat, dtype=np.int64), sizes)
    cat_end = np.cumsum(sizes).astype(np.int64)
    cat_start = cat_end - sizes
    names: list[str] = []
    medians = np.empty(N_PRODUCTS)
    for c, (_cat, median, nouns) in enumerate(_CATEGORIES):
        combos = rng.choice(len(_ADJECTIVES) * len(nouns), size=int(sizes[c]), replace=False)
        names.extend(f"{_ADJECTIVES[k // len(nouns)]} {nouns[k % len(nouns)]}" for k in combos)
        medians[cat_start[c] : cat_end[c]] = median
    raw = medians * np.exp(rng.normal(0.0, 0.6, N_PRODUCTS))
    euros = np.clip(np.round(raw), 2, 900).astype(np.int64)
    ending = rng.choice(np.array([1, 5, 51]), size=N_PRODUCTS, p=[0.7, 0.2, 0.1])
    price = euros * 100 - ending
    is_discount = rng.random(N_PRODUCTS) < 0.2
    discount = rng.choice(np.array([0.15, 0.2, 0.25, 0.3, 0.4, 0.5]), size=N_PRODUCTS)
    sale = (np.floor(price * (1 - discount) / 10) * 10 + 9).astype(np.int64)
    price = np.where(is_discount, np.maximum(sale, 99), price).astype(np.int64)
    # Zipf-like popularity within each category
    popularity = np.empty(N_PRODUCTS)
    for c in range(n_cat):
        n_c = int(sizes[c])
        popularity[cat_start[c] : cat_end[c]] = 1.0 / (rng.permutation(n_c) + 1.0) ** 0.85
    cat_w = 1.0 / (rng.permutation(n_cat) + 1.0) ** 0.6
    cat_w /= cat_w.sum()

    # planted co-purchase pairs: a popular anchor and a partner (mostly same category)
    partner = np.full(N_PRODUCTS, -1, dtype=np.int64)
    p_partner = np.zeros(N_PRODUCTS)
    for _ in range(N_PLANTED_PAIRS):
        c = int(rng.choice(n_cat, p=cat_w))
        idx = np.arange(cat_start[c], cat_end[c])
        free = idx[partner[idx] < 0]
        top = free[np.argsort(-popularity[free], kind="stable")][:12]
        a = int(rng.choice(top))
        c2 = c if rng.random() < 0.75 else int(rng.choice(n_cat, p=cat_w))
        idx2 = np.arange(cat_start[c2], cat_end[c2])
        cand = idx2[(partner[idx2] < 0) & (idx2 != a)]
        b = int(rng.choice(cand))
        partner[a], partner[b] = b, a
        p_partner[a], p_partner[b] = rng.uniform(0.35, 0.55), rng.uniform(0.1, 0.25)

    # product-choice CDFs per (group, category)
    rel_price = price / np.array([np.median(price[cat_start[c] : cat_end[c]]) for c in category])
    blocks: list[F64] = []
    for g, spec in enumerate(_GROUPS):
        w = popularity * rel_price**spec.price_pref * (1.0 + spec.discount_pref * is_discount)
        for c in range(n_cat):
            cw = np.cumsum(w[cat_start[c] : cat_end[c]])
            blocks.append(g * n_cat + c + cw / cw[-1])
    # public ids don't reveal the category: number the products in a shuffled order
    id_of = rng.permutation(N_PRODUCTS)
    return _Catalogue(
        product_id=tuple(f"P{k + 1:04d}" for k in id_of),
        name=tuple(names),
        category=category,
        price_cents=price,
        is_discount=is_discount,
        popularity=popularity,
        cat_names=tuple(c[0] for c in _CATEGORIES),
        cat_start=cat_start,
        cat_end=cat_end,
        cat_cdf=np.cumsum(cat_w),
        partner=partner,
        p_partner=p_partner,
        sampler_cdf=np.concatenate(blocks),
    )


@dataclass(frozen=True)
class _Population:
    persona: I64
    join_d: F64  # days since period start
    lapse_d: F64  # buying stops (days since start); = days for non-lapsing personas
    order_mult: F64
    browse_mult: F64
    lines_mult: F64
    fav: I64  # (n, 3) favourite categories
    n_fav: I64
    country: I64
    consent: Bool
    id_width: int

    @property
    def n(self) -> int:
        return len(self.persona)


def _build_population(rng: np.random.Generator, n: int, cal: _Calendar, cat: _Catalogue) -> _Population:
    shares = np.array([p.share for p in PERSONAS])
    persona = rng.choice(len(PERSONAS), size=n, p=shares / shares.sum()).astype(np.int64)
    jlo = np.array([p.join[0] for p in PERSONAS])[persona]
    jhi = np.array([p.join[1] for p in PERSONAS])[persona]
    llo = np.array([p.lapse[0] for p in PERSONAS])[persona]
    lhi = np.array([p.lapse[1] for p in PERSONAS])[persona]
    days = float(cal.days)
    jpow = np.array([p.join_power for p in PERSONAS])[persona]
    join_d = (jlo + rng.random(n) ** jpow * (jhi - jlo)) * days
    lapse_d = np.maximum((llo + rng.random(n) * (lhi - llo)) * days, join_d)
    # Shape 10 keeps personas recognisable (shape 3 blurred them into each other: ARI 0.38).
    gamma = rng.gamma(10.0, 1.0 / 10.0, size=(3, n))
    # favourite categories: weighted sampling without replacement (Gumbel top-k)
    cat_w = np.diff(np.concatenate([[0.0], cat.cat_cdf]))
    keys = np.log(cat_w)[None, :] + rng.gumbel(size=(n, cat.n_categories))
    fav = np.argsort(-keys, axis=1, kind="stable")[:, :3].astype(np.int64)
    fav_p = np.array([p.n_fav_p for p in PERSONAS])[persona]
    n_fav = 1 + (rng.random(n)[:, None] > np.cumsum(fav_p, axis=1)[:, :2]).sum(axis=1)
    cw = np.array([w for _c, w in _COUNTRIES])
    country = rng.choice(len(_COUNTRIES), size=n, p=cw / cw.sum()).astype(np.int64)
    consent = rng.random(n) < np.array([p.p_consent for p in PERSONAS])[persona]
    # customer numbers follow sign-up order
    order = np.argsort(join_d, kind="stable")
    return _Population(
        persona=persona[order],
        join_d=join_d[order],
        lapse_d=lapse_d[order],
        order_mult=gamma[0][order],
        browse_mult=gamma[1][order],
        lines_mult=gamma[2][order],
        fav=fav[order],
        n_fav=n_fav[order].astype(np.int64),
        country=country[order],
        consent=consent[order],
        id_width=max(6, len(str(n))),
    )


@dataclass(frozen=True)
class World:
    """The static part of a synthetic shop: calendar, catalogue and customers (with personas).

    ``customers`` has one row per customer: customer (0-based index), customer_id, persona,
    email, country, joined_at (sign-up time before activity adjustments), marketing_consent,
    lapse_at (when a lapsing customer stops; the period end otherwise).
    ``products`` has product (index), product_id, product_name, category, price, is_discount.
    """

    seed: int
    calendar: _Calendar
    catalogue: _Catalogue
    population: _Population

    @property
    def start(self) -> date:
        return self.calendar.start

    @property
    def customers(self) -> pl.DataFrame:
        pop, cal = self.population, self.calendar
        return pl.DataFrame(
            {
                "customer": np.arange(pop.n, dtype=np.int64),
                "persona": pl.Series(PERSONA_NAMES).gather(pop.persona),
                "country": pl.Series([c for c, _w in _COUNTRIES]).gather(pop.country),
                "joined_at": cal.to_epoch(pop.join_d),
                "marketing_consent": pop.consent,
                "lapse_at": cal.to_epoch(pop.lapse_d),
            }
        ).select(
            "customer",
            _customer_id_expr("customer", pop.id_width),
            "persona",
            _email_expr("customer", pop.id_width),
            "country",
            pl.from_epoch("joined_at", time_unit="s").alias("joined_at"),
            "marketing_consent",
            pl.from_epoch("lapse_at", time_unit="s").alias("lapse_at"),
        )

    @property
    def products(self) -> pl.DataFrame:
        cat = self.catalogue
        return pl.DataFrame(
            {
                "product": np.arange(cat.n, dtype=np.int64),
                "product_id": cat.product_id,
                "product_name": cat.name,
                "category": pl.Series(cat.cat_names).gather(cat.category),
                "price": _cents_to_decimal(pl.Series(cat.price_cents)),
                "is_discount": cat.is_discount,
            }
        )

    @property
    def product_pairs(self) -> pl.DataFrame:
        cat = self.catalogue
        a = np.flatnonzero((cat.partner >= 0) & (cat.p_partner >= cat.p_partner[cat.partner]))
        b = cat.partner[a]
        ids = pl.Series(cat.product_id)
        names = pl.Series(cat.name)
        return pl.DataFrame(
            {
                "product_id_a": ids.gather(a),
                "product_name_a": names.gather(a),
                "product_id_b": ids.gather(b),
                "product_name_b": names.gather(b),
                "p_a_adds_b": np.round(cat.p_partner[a], 3),
                "p_b_adds_a": np.round(cat.p_partner[b], 3),
            }
        ).sort("product_id_a")


def build_world(*, customers: int, days: int, end: date, seed: int) -> World:
    """Calendar, catalogue and customer population for these arguments (no simulation yet)."""
    if customers < 0:
        raise ValueError("customers must be >= 0")
    if days < 1:
        raise ValueError("days must be >= 1")
    cal = _Calendar.build(end, days)
    cat = _build_catalogue(np.random.default_rng(np.random.SeedSequence([seed, 0])))
    pop = _build_population(np.random.default_rng(np.random.SeedSequence([seed, 1])), customers, cal, cat)
    return World(seed=seed, calendar=cal, catalogue=cat, population=pop)


def _customer_id_expr(col: str, width: int) -> pl.Expr:
    return (pl.lit("C") + (pl.col(col) + 1).cast(pl.String).str.zfill(width)).alias("customer_id")


def _email_expr(col: str, width: int) -> pl.Expr:
    num = (pl.col(col) + 1).cast(pl.String).str.zfill(width)
    return (pl.lit("c") + num + pl.lit("@example.com")).alias("email")


def _cents_to_decimal(s: pl.Series | pl.Expr) -> Any:
    return (s.cast(pl.Decimal(14, 2)) / 100).cast(pl.Decimal(12, 2))


# --------------------------------------------------------------------------------------------
# simulation of one chunk of customers


def _rank_in_runs(ids: I64) -> I64:
    """0-based position of each element within its run of equal consecutive ids."""
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    new = np.ones(n, dtype=np.bool_)
    new[1:] = ids[1:] != ids[:-1]
    return idx - np.maximum.accumulate(np.where(new, idx, 0))


@dataclass
class _EventBuf:
    sess: list[I64] = field(default_factory=list)
    key: list[F64] = field(default_factory=list)
    etype: list[I64] = field(default_factory=list)
    product: list[I64] = field(default_factory=list)

    def add(self, sess: I64, key: F64 | float, etype: int, product: I64 | None = None) -> None:
        n = len(sess)
        self.sess.append(sess)
        self.key.append(np.broadcast_to(np.asarray(key, dtype=np.float64), (n,)))
        self.etype.append(np.full(n, etype, dtype=np.int64))
        self.product.append(np.full(n, -1, dtype=np.int64) if product is None else product)

    def arrays(self) -> tuple[I64, F64, I64, I64]:
        return (
            np.concatenate(self.sess),
            np.concatenate(self.key),
            np.concatenate(self.etype),
            np.concatenate(self.product),
        )


@dataclass(frozen=True)
class _Chunk:
    orders: pl.DataFrame  # t, okey, line_no, cust, product, qty, price, is_ret
    events: pl.DataFrame  # t, sess, seq, etype, cust, product, price
    first_seen: I64  # epoch seconds per customer of the chunk
    sessions: int
    anonymous_sessions: int


class _Simulator:
    def __init__(self, world: World, c0: int, c1: int, chunk_no: int) -> None:
        self.w = world
        self.cal = world.calendar
        self.cat = world.catalogue
        self.c0, self.c1, self.chunk_no = c0, c1, chunk_no
        self.rng = np.random.default_rng(np.random.SeedSequence([world.seed, 2, chunk_no]))
        pop = world.population
        self.persona = pop.persona[c0:c1]
        self.fav = pop.fav[c0:c1]
        self.n_fav = pop.n_fav[c0:c1]
        self.p_fav = _param("p_fav")

    # -- product choice ------------------------------------------------------------------
    def categories(self, cust: I64, group: I64) -> I64:
        """Category per item: a favourite of the customer (-1 = anonymous) or a global draw."""
        rng = self.rng
        n = len(cust)
        u = rng.random(n) * self.cat.cat_cdf[-1]
        out: I64 = np.minimum(
            np.searchsorted(self.cat.cat_cdf, u, side="right"), self.cat.n_categories - 1
        ).astype(np.int64)
        use_fav = (cust >= 0) & (rng.random(n) < self.p_fav[group])
        if use_fav.any():
            c = cust[use_fav]
            slot = np.floor(rng.random(len(c)) * self.n_fav[c]).astype(np.int64)
            out[use_fav] = self.fav[c, slot]
        return out

    def products(self, cust: I64, group: I64) -> I64:
        return self.cat.sample_products(self.rng, group, self.categories(cust, group))

    # -- orders --------------------------------------------------------------------------
    def orders(self) -> tuple[I64, I64, F64]:
        """Registered orders: (customer, group, time in days). Sorted by customer."""
        rng, cal = self.rng, self.cal
        persona = self.persona
        n = len(persona)
        pop = self.w.population
        join = pop.join_d[self.c0 : self.c1]
        lapse = pop.lapse_d[self.c0 : self.c1]
        mode = np.array([{"rate": 0, "one": 1, "maybe_one": 2}[p.order_mode] for p in PERSONAS])
        m = mode[persona]
        rate = _param("orders_per_year")[persona] / 365.0 * pop.order_mult[self.c0 : self.c1]
        cnt = np.maximum(rng.poisson(rate * cal.mass(join, lapse, "order")), 1)
        cnt = np.where(m == 1, 1, cnt)
        cnt = np.where(m == 2, (rng.random(n) < _param("p_order")[persona]).astype(np.int64), cnt)
        cust = np.repeat(np.arange(n, dtype=np.int64), cnt)
        t = cal.sample(rng, join[cust], lapse[cust], "order")
        # one-time buyers: half buy in their first session, the rest within days
        one = m[cust] == 1
        k = int(one.sum())
        quick = rng.random(k) < 0.5
        delay = np.where(quick, rng.uniform(3, 40, k) / 1440.0, rng.exponential(3.0, k))
        t1 = join[cust[one]] + delay
        t1 = np.where(t1 < cal.days - 1e-4, t1, join[cust[one]] + rng.uniform(3, 40, k) / 1440.0)
        t[one] = np.minimum(t1, cal.days - 1e-4)
        return cust, persona[cust], t

    def lines(self, cust: I64, group: I64) -> tuple[I64, I64, I64]:
        """Order lines: (order, product, quantity), sorted by order then line."""
        rng = self.rng
        n_orders = len(cust)
        lines_mult = np.where(cust >= 0, self.w.population.lines_mult[self.c0 + np.maximum(cust, 0)], 1.0)
        n_lines = 1 + np.minimum(rng.poisson(_param("extra_lines")[group] * lines_mult), 9)
        order = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
        pos = _rank_in_runs(order) * 2
        main_cat = self.categories(cust, group)
        lcust, lgroup = cust[order], group[order]
        cat = self.categories(lcust, lgroup)
        cat = np.where(rng.random(len(order)) < 0.55, main_cat[order], cat)
        product = self.cat.sample_products(rng, lgroup, cat)
        # planted pairs: the partner often lands in the same basket
        partner = self.cat.partner[product]
        add = (partner >= 0) & (rng.random(len(product)) < self.cat.p_partner[product])
        order = np.concatenate([order, order[add]])
        pos = np.concatenate([pos, pos[add] + 1])
        product = np.concatenate([product, partner[add]])
        srt = np.lexsort((pos, order))
        order, product = order[srt], product[srt]
        _, first = np.unique(order * self.cat.n + product, return_index=True)
        keep = np.sort(first)
        order, product = order[keep], product[keep]
        qty = np.minimum(rng.geometric(_param("p_qty1")[group[order]]), 6).astype(np.int64)
        return order, product, qty

    # -- sessions and events ---------------------------------------------------------------
    def browse_sessions(self, order_cust: I64, order_t: F64) -> tuple[I64, F64]:
        """Browsing-only sessions of registered customers: (customer, start in days)."""
        rng, cal = self.rng, self.cal
        pop = self.w.population
        persona = self.persona
        n = len(persona)
        join = pop.join_d[self.c0 : self.c1]
        end = np.where(persona == PERSONA_NAMES.index("lapsing"), pop.lapse_d[self.c0 : self.c1], cal.days)
        end = end.astype(np.float64)
        one = persona == PERSONA_NAMES.index("one_time_buyer")
        # one-time buyers browse (a little) only after their order
        first_order = np.full(n, float(cal.days))
        np.minimum.at(first_order, order_cust, order_t)
        end = np.where(one, first_order, end)
        mult = pop.browse_mult[self.c0 : self.c1] / 365.0
        r1 = _param("browse_per_year")[persona] * mult
        r2 = _param("browse_per_year_after")[persona] * mult
        days = np.full(n, float(cal.days))
        c1 = rng.poisson(r1 * cal.mass(join, end, "session"))
        c2 = rng.poisson(r2 * cal.mass(end, days, "session"))
        s1 = np.repeat(np.arange(n, dtype=np.int64), c1)
        s2 = np.repeat(np.arange(n, dtype=np.int64), c2)
        t1 = cal.sample(rng, join[s1], end[s1], "session")
        t2 = cal.sample(rng, end[s2], days[s2], "session")
        # every customer's first visit is the sign-up session, except one-time buyers who
        # bought right away (their purchase session is the first visit)
        signup = ~one | (first_order - join > 0.05)
        s0 = np.flatnonzero(signup).astype(np.int64)
        cust = np.concatenate([s0, s1, s2])
        t = np.concatenate([join[s0], t1, t2])
        return cust, t

    def browse_events(self, buf: _EventBuf, sess: I64, cust: I64, group: I64) -> None:
        rng = self.rng
        n = len(sess)
        buf.add(sess, 0.0, _PAGE)
        extra = np.repeat(sess, rng.poisson(_param("page_views")[group]))
        buf.add(extra, rng.random(len(extra)), _PAGE)
        mult = np.where(cust >= 0, self.w.population.browse_mult[self.c0 + np.maximum(cust, 0)], 1.0)
        n_views = rng.poisson(_param("product_views")[group] * np.sqrt(mult))
        vi = np.repeat(np.arange(n, dtype=np.int64), n_views)
        vsess = sess[vi]
        prod = self.products(cust[vi], group[vi])
        key = rng.random(len(vi)) * 0.98
        buf.add(vsess, key, _VIEW, prod)
        cart = rng.random(len(vi)) < _param("p_cart")[group[vi]]
        buf.add(vsess[cart], key[cart] + 1e-6, _CART, prod[cart])
        rem = cart & (rng.random(len(vi)) < _param("p_remove")[group[vi]])
        rkey = key + 4e-6 + (1.0 - key) * rng.uniform(0.01, 0.99, len(vi))
        buf.add(vsess[rem], rkey[rem], _REMOVE, prod[rem])
        net = np.bincount(vi[cart], minlength=n) - np.bincount(vi[rem], minlength=n)
        chk = (net > 0) & (rng.random(n) < _param("p_checkout")[group])
        buf.add(sess[chk], 1.5, _CHECKOUT)

    def purchase_events(
        self, buf: _EventBuf, sess: I64, cust: I64, group: I64, line_order: I64, line_product: I64
    ) -> None:
        """Events of purchase sessions; ``sess[o]`` is the session of order o."""
        rng = self.rng
        buf.add(sess, 0.0, _PAGE)
        extra = np.repeat(sess, rng.poisson(0.3, len(sess)))
        buf.add(extra, rng.random(len(extra)), _PAGE)
        ls = sess[line_order]
        key = rng.random(len(ls)) * 0.95
        buf.add(ls, key, _VIEW, line_product)
        buf.add(ls, key + 1e-6, _CART, line_product)
        buf.add(sess, 2.0, _CHECKOUT)
        buf.add(ls, 3.0 + _rank_in_runs(line_order).astype(np.float64) * 1e-3, _PURCHASE, line_product)
        # some looking around: extra product views, a few carted and removed again
        vi = np.repeat(np.arange(len(sess), dtype=np.int64), rng.poisson(0.5, len(sess)))
        prod = self.products(cust[vi], group[vi])
        vkey = rng.random(len(vi)) * 0.95
        buf.add(sess[vi], vkey, _VIEW, prod)
        cart = rng.random(len(vi)) < 0.25
        buf.add(sess[vi][cart], vkey[cart] + 1e-6, _CART, prod[cart])
        rkey = vkey + 4e-6 + (1.0 - vkey) * rng.uniform(0.01, 0.99, len(vi))
        buf.add(sess[vi][cart], rkey[cart], _REMOVE, prod[cart])

    # -- whole chunk ----------------------------------------------------------------------
    def run(self, session_base: int) -> _Chunk:
        rng, cal = self.rng, self.cal

        # registered orders + guest orders
        r_cust, r_group, r_t = self.orders()
        n_reg = len(r_cust)
        n_guest = int(rng.binomial(n_reg, GUEST_ORDER_SHARE / (1 - GUEST_ORDER_SHARE))) if n_reg else 0
        g_t = cal.sample(rng, np.zeros(n_guest), np.full(n_guest, float(cal.days)), "order")
        o_cust = np.concatenate([r_cust, np.full(n_guest, -1, dtype=np.int64)])
        o_group = np.concatenate([r_group, np.full(n_guest, _ANON_GROUP, dtype=np.int64)])
        o_t = np.concatenate([r_t, g_t])
        l_order, l_product, l_qty = self.lines(o_cust, o_group)

        # sessions: registered browsing, purchase sessions, anonymous browsing
        b_cust, b_t = self.browse_sessions(r_cust, r_t)
        with_session = np.concatenate([np.ones(n_reg, dtype=np.bool_), rng.random(n_guest) < GUEST_SESSION_P])
        p_orders = np.flatnonzero(with_session).astype(np.int64)
        n_b, n_p = len(b_cust), len(p_orders)
        registered_sessions = n_b + n_reg
        anon_total = int(
            rng.binomial(registered_sessions, ANONYMOUS_SESSION_SHARE / (1 - ANONYMOUS_SESSION_SHARE))
        )
        n_a = max(anon_total - (n_p - n_reg), 0)
        a_t = cal.sample(rng, np.zeros(n_a), np.full(n_a, float(cal.days)), "session")
        n_sess = n_b + n_p + n_a
        s_cust = np.concatenate([b_cust, o_cust[p_orders], np.full(n_a, -1, dtype=np.int64)])
        s_group = np.where(s_cust >= 0, self.persona[np.maximum(s_cust, 0)], _ANON_GROUP)
        order_sess = np.full(len(o_cust), -1, dtype=np.int64)
        order_sess[p_orders] = n_b + np.arange(n_p, dtype=np.int64)

        buf = _EventBuf()
        browse = np.concatenate([np.arange(n_b, dtype=np.int64), n_b + n_p + np.arange(n_a, dtype=np.int64)])
        self.browse_events(buf, browse, s_cust[browse], s_group[browse])
        has = order_sess[l_order] >= 0
        self.purchase_events(
            buf,
            order_sess[p_orders],
            o_cust[p_orders],
            o_group[p_orders],
            np.searchsorted(p_orders, l_order[has]),
            l_product[has],
        )
        e_sess, e_key, e_type, e_prod = buf.arrays()
        # order within sessions: one int64 key (session, quantised position); stable sort keeps
        # the insertion order (view before its add_to_cart) for equal keys
        qkey = np.floor(e_key * (1 << 24)).astype(np.int64)
        srt = np.argsort((e_sess << 27) | qkey, kind="stable")
        e_sess, e_type, e_prod = e_sess[srt], e_type[srt], e_prod[srt]
        counts = np.bincount(e_sess, minlength=n_sess)
        starts = np.cumsum(counts) - counts
        gaps = np.minimum(np.round(4 + rng.exponential(35.0, len(e_sess))), 900).astype(np.int64)
        gaps[starts] = 0
        purch = e_type == _PURCHASE
        later_purch = purch.copy()
        later_purch[1:] &= purch[:-1] & (e_sess[1:] == e_sess[:-1])
        later_purch[0] = False
        gaps[later_purch] = 0
        cs = np.cumsum(gaps)
        offset = cs - cs[starts][e_sess]
        duration = offset[starts + counts - 1]
        p_off = np.zeros(n_sess, dtype=np.int64)
        p_off[e_sess[purch]] = offset[purch]

        # anchor times: browsing sessions start at their time; purchase sessions end with the order
        order_epoch = cal.to_epoch(o_t)
        ps = order_sess[p_orders]
        order_epoch[p_orders] = np.maximum(order_epoch[p_orders], cal.start_epoch + p_off[ps])
        base = np.empty(n_sess, dtype=np.int64)
        b_all = np.concatenate([cal.to_epoch(b_t), cal.to_epoch(a_t)])
        base[browse] = np.minimum(b_all, cal.end_epoch - 1 - duration[browse])
        base[ps] = order_epoch[p_orders] - p_off[ps]
        e_t = base[e_sess] + offset
        e_cust = s_cust[e_sess]

        # returns: a later order with negative quantities of some lines
        l_t = order_epoch[l_order]
        ret = rng.random(len(o_cust)) < _param("p_return")[o_group]
        quick = rng.random(len(o_cust)) < 0.15
        delay = np.where(quick, rng.uniform(0.01, 0.3, len(o_cust)), 1.0 + rng.exponential(8.0, len(o_cust)))
        ret_t = order_epoch + np.round(delay * SECONDS_PER_DAY).astype(np.int64)
        ret &= ret_t < cal.end_epoch
        n_lines = np.bincount(l_order, minlength=len(o_cust))
        forced = np.floor(rng.random(len(o_cust)) * n_lines).astype(np.int64)
        l_no = _rank_in_runs(l_order)
        rl = ret[l_order] & ((rng.random(len(l_order)) < 0.6) | (l_no == forced[l_order]))
        r_order = l_order[rl]
        r_qty = -np.maximum(rng.binomial(l_qty[rl], 0.75), 1)

        okey_base = self.chunk_no << 32
        n_orders = len(o_cust)
        r_index = np.cumsum(ret) - 1  # index among return orders
        orders = pl.DataFrame(
            {
                "t": np.concatenate([l_t, ret_t[r_order]]),
                "okey": okey_base + np.concatenate([l_order, n_orders + r_index[r_order]]),
                "line_no": np.concatenate([l_no, _rank_in_runs(r_order)]) + 1,
                "cust": self._global_cust(np.concatenate([o_cust[l_order], o_cust[r_order]])),
                "product": np.concatenate([l_product, l_product[rl]]),
                "qty": np.concatenate([l_qty, r_qty]),
                "is_ret": np.concatenate(
                    [np.zeros(len(l_order), dtype=np.bool_), np.ones(len(r_order), dtype=np.bool_)]
                ),
            },
        )
        orders = orders.with_columns(
            pl.col("line_no").cast(pl.Int32),
            pl.col("cust").cast(pl.Int32),
            pl.col("product").cast(pl.Int16),
            pl.col("qty").cast(pl.Int32),
        )
        seq = np.arange(len(e_sess), dtype=np.int64) - starts[e_sess]
        events = pl.DataFrame(
            {
                "t": e_t,
                "sess": session_base + e_sess,
                "seq": seq,
                "etype": e_type,
                "cust": self._global_cust(e_cust),
                "product": e_prod,
            }
        ).with_columns(
            pl.col("seq").cast(pl.Int32),
            pl.col("etype").cast(pl.UInt8),
            pl.col("cust").cast(pl.Int32),
            pl.col("product").cast(pl.Int16),
        )

        first_seen = cal.to_epoch(self.w.population.join_d[self.c0 : self.c1])
        reg_e = e_cust >= 0
        np.minimum.at(first_seen, e_cust[reg_e], e_t[reg_e])
        reg_o = o_cust >= 0
        np.minimum.at(first_seen, o_cust[reg_o], order_epoch[reg_o])
        return _Chunk(
            orders=orders,
            events=events,
            first_seen=first_seen,
            sessions=n_sess,
            anonymous_sessions=int((s_cust < 0).sum()),
        )

    def _global_cust(self, local: I64) -> I64:
        return np.where(local >= 0, local + self.c0, -1).astype(np.int64)


# --------------------------------------------------------------------------------------------
# output


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote. ``orders`` counts distinct order ids including return
    orders ('R...') and guest orders; ``guest_orders`` are orders without customer_id
    (including returns of guest orders); ``anonymous_events`` are events without customer_id."""

    out_dir: Path
    customers: int
    products: int
    orders: int
    return_orders: int
    guest_orders: int
    order_lines: int
    sessions: int
    anonymous_sessions: int
    events: int
    anonymous_events: int
    files_written: int
    persona_counts: tuple[tuple[str, int], ...] = ()
    files: tuple[Path, ...] = field(default=(), repr=False)  # every file written, in order


def segmint_toml(fmt: Fmt = "csv") -> str:
    """The segmint.toml written next to the generated data (paths relative to it)."""
    # The files are complete when `generate` returns: no need to wait for them to settle before loading.
    parts = ['[warehouse]\npath = "warehouse.duckdb"\n', "[ingest]\nsettle_seconds = 0\n"]
    for kind in ("customers", "orders", "events"):
        parts.append(
            f'[[sources]]\nname = "{kind}"\nkind = "{kind}"\npath = "{kind}/*.{fmt}"\npreset = "canonical"\n'
        )
    return "\n".join(parts)


class _Sink:
    """Appends frames to output files; one file open at a time (written contiguously)."""

    def __init__(self, fmt: Fmt) -> None:
        self.fmt = fmt
        self.files: list[Path] = []
        self._path: Path | None = None
        self._fh: IO[bytes] | None = None
        self._pq: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, path: Path, df: pl.DataFrame) -> None:
        if path != self._path:
            self.close()
            self._path = path
            self.files.append(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.fmt == "csv":
                self._fh = path.open("wb")
                df.write_csv(self._fh, include_header=True, datetime_format=DATETIME_FORMAT)
                return
            table = df.to_arrow()
            self._schema = table.schema
            self._pq = pq.ParquetWriter(path, self._schema, compression="zstd")
            self._pq.write_table(table)
            return
        if self._fh is not None:
            df.write_csv(self._fh, include_header=False, datetime_format=DATETIME_FORMAT)
        elif self._pq is not None and len(df):
            self._pq.write_table(df.to_arrow().cast(self._schema))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()
        self._fh, self._pq, self._path, self._schema = None, None, None, None


_ORDERS_TMP: Final = pl.Schema(
    {
        "t": pl.Int64,
        "okey": pl.Int64,
        "line_no": pl.Int32,
        "cust": pl.Int32,
        "product": pl.Int16,
        "qty": pl.Int32,
        "is_ret": pl.Boolean,
    }
)
_EVENTS_TMP: Final = pl.Schema(
    {
        "t": pl.Int64,
        "sess": pl.Int64,
        "seq": pl.Int32,
        "etype": pl.UInt8,
        "cust": pl.Int32,
        "product": pl.Int16,
    }
)


@dataclass
class _Counters:
    orders: int = 0
    returns: int = 0
    guest_orders: int = 0
    lines: int = 0
    events: int = 0
    anonymous_events: int = 0


def _product_columns(cat: _Catalogue, names: bool) -> list[pl.Expr]:
    idx = pl.col("product").cast(pl.Int64)
    valid = pl.col("product") >= 0
    exprs = [pl.when(valid).then(pl.lit(pl.Series(cat.product_id)).gather(idx)).alias("product_id")]
    if names:
        exprs.append(pl.lit(pl.Series(cat.name)).gather(idx).alias("product_name"))
        cats = pl.Series(cat.cat_names).gather(cat.category)
        exprs.append(pl.lit(cats).gather(idx).alias("category"))
    return exprs


def _price_expr(cat: _Catalogue, name: str) -> pl.Expr:
    idx = pl.col("product").cast(pl.Int64)
    cents = pl.when(pl.col("product") >= 0).then(pl.lit(pl.Series(cat.price_cents)).gather(idx))
    return _cents_to_decimal(cents).alias(name)  # type: ignore[no-any-return]


def _prepare_orders(df: pl.DataFrame, c: _Counters) -> pl.DataFrame:
    """Sort one month of order lines by time and number the orders chronologically."""
    df = df.sort(["t", "okey", "line_no"]).with_columns(
        new=(pl.col("okey") != pl.col("okey").shift(1)).fill_null(value=True)
    )
    new_o = pl.col("new") & ~pl.col("is_ret")
    new_r = pl.col("new") & pl.col("is_ret")
    df = df.with_columns(
        o_seq=new_o.cast(pl.Int64).cum_sum() + c.orders,
        r_seq=new_r.cast(pl.Int64).cum_sum() + c.returns,
    )
    o, r, g = df.select(
        new_o.sum().alias("o"),
        new_r.sum().alias("r"),
        (pl.col("new") & (pl.col("cust") < 0)).sum().alias("g"),
    ).row(0)
    c.orders += int(o)
    c.returns += int(r)
    c.guest_orders += int(g)
    c.lines += len(df)
    return df


def _render_orders(df: pl.DataFrame, world: World) -> pl.DataFrame:
    width = world.population.id_width
    return df.select(
        pl.when(pl.col("is_ret"))
        .then(pl.lit("R") + pl.col("r_seq").cast(pl.String).str.zfill(8))
        .otherwise(pl.lit("O") + pl.col("o_seq").cast(pl.String).str.zfill(8))
        .alias("order_id"),
        pl.col("line_no").cast(pl.Int32),
        pl.when(pl.col("cust") >= 0).then(_customer_id_expr("cust", width)).alias("customer_id"),
        pl.from_epoch("t", time_unit="s").alias("ordered_at"),
        *_product_columns(world.catalogue, names=True),
        pl.col("qty").cast(pl.Int32).alias("quantity"),
        _price_expr(world.catalogue, "unit_price"),
        pl.lit(CURRENCY).alias("currency"),
        pl.col("is_ret").alias("is_cancellation"),
    )


def _prepare_events(df: pl.DataFrame, c: _Counters) -> pl.DataFrame:
    """Sort one month of events by time and number them chronologically."""
    df = df.sort(["t", "sess", "seq"]).with_columns(eid=pl.int_range(pl.len(), dtype=pl.Int64) + 1 + c.events)
    c.events += len(df)
    c.anonymous_events += int(df.select((pl.col("cust") < 0).sum()).item())
    return df


def _render_events(df: pl.DataFrame, world: World) -> pl.DataFrame:
    width = world.population.id_width
    return df.select(
        (pl.lit("E") + pl.col("eid").cast(pl.String).str.zfill(10)).alias("event_id"),
        pl.from_epoch("t", time_unit="s").alias("occurred_at"),
        pl.when(pl.col("cust") >= 0).then(_customer_id_expr("cust", width)).alias("customer_id"),
        (pl.lit("S") + pl.col("sess").cast(pl.String).str.zfill(9)).alias("session_id"),
        pl.lit(pl.Series(EVENT_TYPES)).gather(pl.col("etype").cast(pl.Int64)).alias("event_type"),
        *_product_columns(world.catalogue, names=False),
        _price_expr(world.catalogue, "price"),
    )


def _spill(df: pl.DataFrame, tmp: Path, month_starts: I64, chunk_no: int) -> None:
    if not len(df):
        return
    month = np.searchsorted(month_starts, df["t"].to_numpy(), side="right") - 1
    df = df.with_columns(_m=pl.Series(month, dtype=pl.Int32))
    for key, part in df.partition_by("_m", as_dict=True, include_key=False).items():
        d = tmp / f"m{int(key[0]):04d}"
        d.mkdir(parents=True, exist_ok=True)
        part.write_parquet(d / f"c{chunk_no:06d}.parquet", compression="lz4", statistics=False)


def _read_month(tmp: Path, month: int, schema: pl.Schema) -> pl.DataFrame | None:
    d = tmp / f"m{month:04d}"
    files = sorted(d.glob("c*.parquet")) if d.is_dir() else []
    if not files:
        return None
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical").cast(schema)


RENDER_ROWS: Final = 1_000_000  # rows formatted (strings) and written at a time


def _write_kind(
    kind: Literal["orders", "events"],
    world: World,
    tmp: Path,
    out_dir: Path,
    fmt: Fmt,
    split: Split,
    c: _Counters,
) -> list[Path]:
    cal = world.calendar
    if kind == "orders":
        schema, prepare, render = _ORDERS_TMP, _prepare_orders, _render_orders
    else:
        schema, prepare, render = _EVENTS_TMP, _prepare_events, _render_events
    months = cal.month_bounds()
    kdir = out_dir / kind
    if split == "none":
        fallback = f"{kind}.{fmt}"
    elif split == "month":
        fallback = f"{kind}_{months[-1][0]}.{fmt}"
    else:
        fallback = f"{kind}_{cal.day_label(cal.days - 1)}.{fmt}"
    sink = _Sink(fmt)
    try:
        for m, (label, _lo, _hi) in enumerate(months):
            raw = _read_month(tmp, m, schema)
            if raw is None:
                continue
            df = prepare(raw, c)
            del raw
            for off in range(0, len(df), RENDER_ROWS):
                part = df.slice(off, RENDER_ROWS)
                if split == "none":
                    sink.write(kdir / f"{kind}.{fmt}", render(part, world))
                elif split == "month":
                    sink.write(kdir / f"{kind}_{label}.{fmt}", render(part, world))
                else:
                    day = (part["t"] - cal.start_epoch) // SECONDS_PER_DAY
                    part = part.with_columns(_day=day)
                    for key, dpart in part.partition_by("_day", as_dict=True).items():
                        name = f"{kind}_{cal.day_label(int(key[0]))}.{fmt}"
                        sink.write(kdir / name, render(dpart, world))
        if not sink.files:  # no rows at all: still write a (header-only) file
            sink.write(kdir / fallback, render(prepare(pl.DataFrame(schema=schema), c), world))
    finally:
        sink.close()
    return sink.files


def _remove_stale_outputs(out_dir: Path) -> None:
    """Files of an earlier run (other split/format) would be picked up by the source globs."""
    for kind in ("orders", "events", "customers"):
        d = out_dir / kind
        if d.is_dir():
            for ext in ("csv", "parquet"):
                for f in d.glob(f"{kind}*.{ext}"):
                    f.unlink()
    for name in ("personas.csv", "product_pairs.csv"):
        (out_dir / "truth" / name).unlink(missing_ok=True)


def _chunks(n: int) -> Iterator[tuple[int, int, int]]:
    for chunk_no, c0 in enumerate(range(0, n, CHUNK_CUSTOMERS)):
        yield chunk_no, c0, min(c0 + CHUNK_CUSTOMERS, n)


def generate(
    out_dir: Path,
    *,
    customers: int,
    days: int,
    end: date,
    seed: int,
    fmt: Fmt = "csv",
    split: Split = "month",
) -> GenerateSummary:
    """Simulate ``customers`` customers over the ``days`` days ending with ``end`` (inclusive)
    and write segmint's canonical layout to ``out_dir`` (see the module docstring).

    Deterministic: the same arguments produce byte-identical files.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if split not in ("none", "month", "day"):
        raise ValueError(f"split must be 'none', 'month' or 'day', not {split!r}")
    world = build_world(customers=customers, days=days, end=end, seed=seed)
    cal, pop = world.calendar, world.population
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    month_starts = np.array([lo for _l, lo, _h in cal.month_bounds()], dtype=np.int64)
    first_seen = cal.to_epoch(pop.join_d)
    sessions = anonymous_sessions = 0
    counters = _Counters()
    tmp = Path(tempfile.mkdtemp(prefix=".segmint-generate-", dir=out_dir))
    try:
        for chunk_no, c0, c1 in _chunks(pop.n):
            chunk = _Simulator(world, c0, c1, chunk_no).run(session_base=sessions + 1)
            _spill(chunk.orders, tmp / "orders", month_starts, chunk_no)
            _spill(chunk.events, tmp / "events", month_starts, chunk_no)
            first_seen[c0:c1] = chunk.first_seen
            sessions += chunk.sessions
            anonymous_sessions += chunk.anonymous_sessions
            del chunk
        _remove_stale_outputs(out_dir)
        files = _write_kind("orders", world, tmp / "orders", out_dir, fmt, split, counters)
        files += _write_kind("events", world, tmp / "events", out_dir, fmt, split, counters)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    files += _write_customers(world, first_seen, out_dir, fmt)
    files += _write_truth(world, out_dir)
    toml_path = out_dir / "segmint.toml"
    toml_path.write_text(segmint_toml(fmt), encoding="utf-8")
    files.append(toml_path)
    counts = np.bincount(pop.persona, minlength=len(PERSONAS))
    return GenerateSummary(
        out_dir=out_dir,
        customers=pop.n,
        products=world.catalogue.n,
        orders=counters.orders + counters.returns,
        return_orders=counters.returns,
        guest_orders=counters.guest_orders,
        order_lines=counters.lines,
        sessions=sessions,
        anonymous_sessions=anonymous_sessions,
        events=counters.events,
        anonymous_events=counters.anonymous_events,
        files_written=len(files),
        files=tuple(files),
        persona_counts=tuple((p, int(k)) for p, k in zip(PERSONA_NAMES, counts, strict=True)),
    )


def _write_customers(world: World, first_seen: I64, out_dir: Path, fmt: Fmt) -> list[Path]:
    pop = world.population
    df = pl.DataFrame(
        {
            "customer": np.arange(pop.n, dtype=np.int64),
            "country": pl.Series([c for c, _w in _COUNTRIES], dtype=pl.String).gather(pop.country),
            "first_seen": first_seen,
            "marketing_consent": pop.consent,
        },
        schema={
            "customer": pl.Int64,
            "country": pl.String,
            "first_seen": pl.Int64,
            "marketing_consent": pl.Boolean,
        },
    ).select(
        _customer_id_expr("customer", pop.id_width),
        _email_expr("customer", pop.id_width),
        "country",
        pl.from_epoch("first_seen", time_unit="s").alias("first_seen_at"),
        "marketing_consent",
    )
    path = out_dir / "customers" / f"customers.{fmt}"
    sink = _Sink(fmt)
    try:
        sink.write(path, df)
    finally:
        sink.close()
    return [path]


def _write_truth(world: World, out_dir: Path) -> list[Path]:
    pop = world.population
    truth = out_dir / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    personas = pl.DataFrame(
        {
            "customer": np.arange(pop.n, dtype=np.int64),
            "persona": pl.Series(PERSONA_NAMES, dtype=pl.String).gather(pop.persona),
        },
        schema={"customer": pl.Int64, "persona": pl.String},
    ).select(_customer_id_expr("customer", pop.id_width), "persona")
    p1 = truth / "personas.csv"
    personas.write_csv(p1)
    p2 = truth / "product_pairs.csv"
    world.product_pairs.write_csv(p2)
    return [p1, p2]
