"""Per-customer product recommendations by three methods, and a time-split evaluation of each.

- rules: the co-occurrence rules of sql/marts/basket_rules.sql (segmint.predict.basket);
- neighbours: item-item nearest neighbours, cosine similarity over the customer x product purchase matrix
  (scikit-learn's NearestNeighbors, brute force over a sparse matrix); a customer's candidates are scored by
  their summed similarity to the products the customer bought, each weighted by how lately it was bought;
- popularity: the best sellers the customer has not bought, the floor the other two must beat.

No method ever recommends a product the customer bought before.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

import duckdb
import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

from segmint.machine import cores
from segmint.predict.basket import BasketThresholds, store_basket_rules, store_recommendations
from segmint.warehouse import query_frame

log = logging.getLogger(__name__)

Method = Literal["rules", "neighbours", "popularity"]
METHODS: tuple[Method, ...] = ("rules", "neighbours", "popularity")
#: The recommender used by default: the one that won on the real datasets (bench/RESULTS.md, bench/recommend.py).
DEFAULT_METHOD: Method = "neighbours"

#: The evaluation: train up to as_of - EVAL_DAYS, judge the top EVAL_K on the EVAL_DAYS after.
EVAL_DAYS = 90
EVAL_K = 5
#: Below this many judged customers a hit rate says too little to store or to choose by.
MIN_EVAL_CUSTOMERS = 20
#: Past this many judged customers a seeded sample of them is judged: the hit rate's standard error is
#: then under 0.4 points, and at a million customers scoring every one took 2.5 minutes a night.
MAX_EVAL_CUSTOMERS = 20_000

#: Only the this many most-bought products (by distinct customers) enter the neighbour model: the
#: similarity search is products x products, so the cap bounds its time and memory on a large catalogue.
MAX_PRODUCTS = 5000
#: Each product keeps its this many most similar products; a candidate is scored through those links only.
NEIGHBOURS = 20
#: Scores held at once while ranking: a dense block of (customers x products) scores of at most this many
#: cells (8 MB), so a chunk is 200 customers over 5,000 products and more over a smaller catalogue. Blocks
#: of 32 MB took twice as long to rank a million customers (the partition runs out of the CPU's cache).
_CHUNK_CELLS = 1_000_000
#: Memory for one block of the similarity search's distances (MiB).
_SEARCH_MIB = 16

# One aggregate of the order lines per night: each cut's matrix and the evaluation's new purchases are
# read from it (at a million customers this is 2.5 s, where the evaluation's matrix, the night's and the
# new purchases took 3.5 + 3.6 + 1.7 s as three joins of ten million lines). Distinct (order, product)
# lines first, so that counting rows counts orders without a count(distinct) per pair.
_PAIRS = """
create or replace temporary table {pairs} as
with lines as (
    select distinct order_id, product_id from order_lines where quantity > 0 and product_id is not null
)
select o.customer_id, l.product_id, {columns}
from orders o join lines l on l.order_id = o.order_id
where o.customer_id is not null and not o.is_cancellation and o.ordered_at < cast($upto as date) + interval 1 day
group by o.customer_id, l.product_id
"""

# Per cut i: the last day the pair was bought up to the cut (null: not yet), and its orders in the window.
_CUT_COLUMNS = """
cast(max(o.ordered_at) filter (where o.ordered_at < cast($upto_{i} as date) + interval 1 day) as date) as last_day_{i},
count(*) filter (
    where o.ordered_at >= cast($since_{i} as date) and o.ordered_at < cast($upto_{i} as date) + interval 1 day
) as orders_{i}
"""

# The rows of the matrix: customers in id order.
_CUSTOMER_CODES = """
create or replace temporary table recommend_customers as
select customer_id, (row_number() over (order by customer_id) - 1)::integer as code
from (select distinct customer_id from {pairs} where last_day_{i} is not null)
"""

# The columns: products bought by the most customers in the window first, then in the most orders, then by id.
_PRODUCT_CODES = """
create or replace temporary table recommend_products as
select product_id, (row_number() over (order by customers desc, orders desc, product_id) - 1)::integer as code,
    orders
from (
    select product_id, count(*) filter (where orders_{i} > 0) as customers, sum(orders_{i})::bigint as orders
    from {pairs}
    where last_day_{i} is not null
    group by product_id
)
"""

# Sorted by row, then column: the order of a CSR matrix's entries, so it is built without a copy.
_CODED_PURCHASES = """
select c.code as customer_code, p.code as product_code, (b.orders_{i} > 0) as recent,
    (cast($upto as date) - b.last_day_{i})::integer as days
from {pairs} b
join recommend_customers c on c.customer_id = b.customer_id
join recommend_products p on p.product_id = b.product_id
where b.last_day_{i} is not null
order by customer_code, product_code
"""

# Bought after cut {i} (up to cut {j}) and never up to it, by customers who bought something up to it:
# only products new to a customer can be hit, and only customers known before can be recommended to.
_NEW_ITEMS = """
select customer_id, product_id from {pairs}
where last_day_{i} is null and last_day_{j} is not null
    and customer_id in (select customer_id from {pairs} where last_day_{i} is not null)
"""


@dataclass(frozen=True)
class Cut:
    """A day purchases are seen up to (its end), and the first day of its lookback window."""

    upto: date
    since: date


def lookback(as_of: date, lookback_days: int) -> Cut:
    """The cut at `as_of` whose window is the `lookback_days` up to it."""
    return Cut(as_of, as_of - timedelta(days=lookback_days - 1))


@dataclass(frozen=True)
class Matrix:
    """The customer x product purchase matrix up to a day, with its row and column labels."""

    customers: pl.Series  # row labels, in id order
    products: pl.Series  # column labels, most bought in the window first
    bought: sp.csr_matrix  # 1 where the customer ever bought the product: never recommended to them
    recent: sp.csr_matrix  # 1 where they bought it in the lookback window: the similarity evidence
    weight: sp.csr_matrix  # exp(-days since they last bought it / recency_days), or 1
    orders: np.ndarray  # per product: orders in the window that contained it


class PurchaseHistory:
    """The (customer, product) pairs bought up to the latest of `cuts`, aggregated once (on first use) in
    a temp table that every cut's matrix is read from; dropped when its `with` block ends."""

    _names = itertools.count()

    def __init__(self, con: duckdb.DuckDBPyConnection, cuts: Collection[Cut]) -> None:
        self.con = con
        self.cuts = tuple(dict.fromkeys(cuts))
        # A table of its own: a history may be open while another is built and dropped (a test compares).
        self.table = f"recommend_pairs_{next(self._names)}"
        self._built = False

    def __enter__(self) -> PurchaseHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.execute(f"drop table if exists {self.table}")
        self._built = False

    def _cut(self, cut: Cut) -> int:
        """The cut's column suffix, after building the pairs if this is their first use."""
        if not self._built:
            columns = ",\n".join(_CUT_COLUMNS.format(i=i) for i in range(len(self.cuts)))
            params: dict[str, object] = {"upto": max(c.upto for c in self.cuts)}
            for i, c in enumerate(self.cuts):
                params |= {f"upto_{i}": c.upto, f"since_{i}": c.since}
            self.con.execute(_PAIRS.format(pairs=self.table, columns=columns), params)
            self._built = True
        return self.cuts.index(cut)

    def matrix(self, cut: Cut, recency_days: float | None) -> Matrix:
        """The purchase matrix at `cut` (which must be one of the history's cuts)."""
        i = self._cut(cut)
        try:
            self.con.execute(_CUSTOMER_CODES.format(pairs=self.table, i=i))
            self.con.execute(_PRODUCT_CODES.format(pairs=self.table, i=i))
            customers = query_frame(self.con, "select customer_id from recommend_customers order by code")
            products = query_frame(
                self.con, "select product_id, orders from recommend_products order by code"
            )
            coded = query_frame(self.con, _CODED_PURCHASES.format(pairs=self.table, i=i), {"upto": cut.upto})
        finally:
            for table in ("recommend_customers", "recommend_products"):
                self.con.execute(f"drop table if exists {table}")
        return _matrix(customers, products, coded, recency_days)

    def new_items(self, split: Cut, end: Cut) -> pl.DataFrame:
        """customer_id, product_id: what customers known at `split` first bought after it, up to `end`."""
        return query_frame(
            self.con, _NEW_ITEMS.format(pairs=self.table, i=self._cut(split), j=self._cut(end))
        )


def purchase_matrix(
    con: duckdb.DuckDBPyConnection, upto: date, since: date, recency_days: float | None
) -> Matrix:
    """The sparse matrices of the (customer, product) pairs bought up to `upto` (in the window: since `since`).

    DuckDB numbers the rows and columns and returns the pairs as integer codes sorted like a CSR matrix, so
    that no frame of string id pairs (7M at a million customers, bench/RESULTS.md) reaches Python.
    """
    cut = Cut(upto, since)
    with PurchaseHistory(con, [cut]) as history:
        return history.matrix(cut, recency_days)


def _matrix(
    customers: pl.DataFrame, products: pl.DataFrame, coded: pl.DataFrame, recency_days: float | None
) -> Matrix:
    shape = (customers.height, products.height)
    # Sorted by row, the entries need only each row's count to become a CSR matrix (no COO copy).
    counts = np.bincount(coded["customer_code"].to_numpy(), minlength=shape[0])
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64 if coded.height >= 2**31 else np.int32)
    indices = coded["product_code"].to_numpy()

    def matrix(values: np.ndarray) -> sp.csr_matrix:
        # Own copies of the structure: eliminate_zeros rewrites it in place (Polars' arrays are read-only).
        built = sp.csr_matrix((values, indices.copy(), indptr.copy()), shape=shape)
        built.eliminate_zeros()
        return built

    weights = (
        (-coded["days"].cast(pl.Float64) / recency_days).exp().to_numpy(writable=True)
        if recency_days
        else np.ones(coded.height)
    )
    return Matrix(
        customers=customers["customer_id"],
        products=products["product_id"],
        bought=matrix(np.ones(coded.height, dtype=np.int8)),
        recent=matrix(coded["recent"].cast(pl.Float64).to_numpy(writable=True)),
        weight=matrix(weights),
        orders=products["orders"].to_numpy().astype(np.float64),
    )


def item_similarity(bought: sp.csr_matrix, n_neighbours: int = NEIGHBOURS) -> sp.csr_matrix:
    """products x products: cosine similarity of each product to its `n_neighbours` nearest, 0 elsewhere."""
    n_products = bought.shape[1]
    if n_products < 2:
        return sp.csr_matrix((n_products, n_products))
    items = sp.csr_matrix(bought.T)
    k = min(n_neighbours + 1, n_products)  # +1: each product is its own nearest neighbour
    model = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(items)
    # The products x products distances in blocks of at most _SEARCH_MIB, not scikit-learn's 1 GiB: each
    # product's neighbours are the same; at 5,000 products and 100,000 customers the search held 169 MB
    # above its start with 64 MiB blocks and 36 MB with 16 MiB, in less time.
    with config_context(working_memory=_SEARCH_MIB):
        distance, index = model.kneighbors(items)
    similarity = 1.0 - distance
    rows = np.repeat(np.arange(n_products), k)
    keep = (index.ravel() != rows) & (similarity.ravel() > 1e-12)
    return sp.csr_matrix(
        (similarity.ravel()[keep], (rows[keep], index.ravel()[keep])), shape=(n_products, n_products)
    )


def _rows(matrix: Matrix, only: Collection[str] | None) -> np.ndarray:
    """The matrix rows of the customers in `only` (all rows when None)."""
    if only is None:
        return np.arange(matrix.customers.len())
    wanted = pl.Series(list(only), dtype=pl.String)
    return np.flatnonzero(matrix.customers.is_in(wanted.implode()).to_numpy())


_RECOMMENDATIONS = {"customer_id": pl.String, "rank": pl.Int32, "product_id": pl.String, "score": pl.Float64}


def _top(
    matrix: Matrix,
    scores_of: Callable[[np.ndarray], np.ndarray],
    k: int,
    method: Method,
    only: Collection[str] | None = None,
) -> pl.DataFrame:
    """The k best-scored products per customer (of `only`, else all; positive scores, never one they
    bought), rank 1 first."""
    rows = _rows(matrix, only)
    take = min(k, matrix.products.len())
    chunk = max(1, _CHUNK_CELLS // max(matrix.products.len(), 1))

    def ranked(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        scores = scores_of(block)
        # What a customer bought is never recommended: zeroed straight from the sparse rows' entries.
        owned = matrix.bought[block]
        scores[np.repeat(np.arange(block.size), np.diff(owned.indptr)), owned.indices] = 0.0
        best = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        best_scores = np.take_along_axis(scores, best, axis=1)
        order = np.lexsort((best, -best_scores), axis=1)
        best = np.take_along_axis(best, order, axis=1)
        best_scores = np.take_along_axis(best_scores, order, axis=1)
        positive = best_scores > 0
        row, rank = np.nonzero(positive)
        return block[row], rank + 1, best[positive], best_scores[positive]

    blocks = [rows[start : start + chunk] for start in range(0, rows.size if take else 0, chunk)]
    # Blocks are ranked on two threads (NumPy and SciPy release the GIL while they score and partition):
    # two blocks in flight hold twice a block's 8 MB.
    with ThreadPoolExecutor(max_workers=min(2, cores())) as pool:
        parts = list(pool.map(ranked, blocks))
    if not parts:
        return pl.DataFrame(schema=_RECOMMENDATIONS).with_columns(method=pl.lit(method))
    customers, ranks, cols, values = zip(*parts, strict=True)
    # Labels gathered by code in Polars: no Python string per recommendation.
    return pl.DataFrame(
        {
            "customer_id": matrix.customers.gather(np.concatenate(customers)),
            "rank": np.concatenate(ranks).astype(np.int32),
            "product_id": matrix.products.gather(np.concatenate(cols)),
            "score": np.concatenate(values),
        },
        schema=_RECOMMENDATIONS,
    ).with_columns(method=pl.lit(method))


def neighbour_recommendations(
    matrix: Matrix,
    k: int,
    *,
    n_neighbours: int = NEIGHBOURS,
    max_products: int = MAX_PRODUCTS,
    only: Collection[str] | None = None,
) -> pl.DataFrame:
    """Top k per customer by summed (recency-weighted) similarity to what they bought: item-item neighbours."""
    cap = min(max_products, matrix.products.len())
    # Products past the cap are neither scored nor used as evidence (columns are ordered most-bought first).
    n = matrix.products.len()
    linked = item_similarity(matrix.recent[:, :cap], n_neighbours).tocoo()
    similarity = sp.csr_matrix((linked.data, (linked.row, linked.col)), shape=(n, n))
    weight = matrix.weight

    def scores(block: np.ndarray) -> np.ndarray:
        return np.asarray((weight[block] @ similarity).toarray())

    return _top(matrix, scores, k, "neighbours", only)


def popularity_recommendations(matrix: Matrix, k: int, only: Collection[str] | None = None) -> pl.DataFrame:
    """Top k per customer among the products in most orders, never one they bought: the floor."""
    orders = matrix.orders
    # Ties broken by column (already ordered by customers, then product id), so the list is stable.
    popularity = orders + (1.0 - np.arange(orders.size) / max(orders.size, 1)) * 1e-3

    def scores(block: np.ndarray) -> np.ndarray:
        return np.tile(popularity, (block.size, 1))

    return _top(matrix, scores, k, "popularity", only)


def rules_recommendations(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    segment_run_id: str | None,
    thresholds: BasketThresholds,
    k: int,
    recency_days: float | None,
) -> pl.DataFrame:
    """Top k per customer from co-occurrence rules mined up to `as_of`, computed and left unstored."""
    scratch = "recommendation-evaluation"
    con.execute("begin transaction")
    try:
        store_basket_rules(con, scratch, as_of, segment_run_id, thresholds)
        store_recommendations(con, scratch, as_of, segment_run_id, k, recency_days)
        frame = query_frame(
            con,
            "select customer_id, rank, product_id, score from basket_recommendations where run_id = ?",
            [scratch],
        )
    finally:
        # Rolled back: the scratch rules and recommendations never reach the warehouse.
        con.execute("rollback")
    return frame.with_columns(pl.col("rank").cast(pl.Int32), method=pl.lit("rules"))


@dataclass(frozen=True)
class Scores:
    """How one method's top k did on the period after training."""

    method: str
    customers_evaluated: int
    customers_recommended: int  # judged customers who got at least one recommendation
    hit_rate: float  # share of judged customers with >= 1 recommended product bought in the period
    precision: float  # hits / k, averaged over judged customers
    coverage: float  # distinct products recommended to judged customers / catalogue_items
    seconds: float = 0.0  # time to train the method and recommend to the judged customers


def score_recommendations(
    recommended: pl.DataFrame,
    new_items: pl.DataFrame,
    catalogue_items: int,
    k: int,
    method: str,
) -> Scores:
    """Hit rate, precision at k and coverage of `recommended` against what judged customers bought next.

    `new_items` holds (customer_id, product_id) bought in the judged period and never before; its customers
    are the judged ones. `recommended` holds (customer_id, rank, product_id).
    """
    judged = new_items.select("customer_id").unique()
    n = judged.height
    top = recommended.filter(pl.col("rank") <= k).join(judged, on="customer_id", how="semi")
    hits = top.join(new_items, on=["customer_id", "product_id"], how="semi")
    per_customer = hits.group_by("customer_id").len()
    distinct = top["product_id"].n_unique()
    return Scores(
        method=method,
        customers_evaluated=n,
        customers_recommended=top["customer_id"].n_unique(),
        hit_rate=per_customer.height / n if n else math.nan,
        precision=float(per_customer["len"].sum()) / (k * n) if n else math.nan,
        coverage=distinct / catalogue_items if catalogue_items else math.nan,
    )


@dataclass(frozen=True)
class Evaluation:
    """Every method's scores on one time split, or why there are none."""

    as_of: date
    train_end: date
    days: int
    k: int
    catalogue_items: int
    scores: tuple[Scores, ...] = ()
    message: str | None = None

    def best(self) -> Scores | None:
        """The method with the highest hit rate (precision breaks ties), if any was scored."""
        return max(self.scores, key=lambda s: (s.hit_rate, s.precision), default=None)

    def of(self, method: str) -> Scores | None:
        """The scores of `method`, if it was scored."""
        return next((s for s in self.scores if s.method == method), None)


def recommend(
    con: duckdb.DuckDBPyConnection,
    method: Method,
    as_of: date,
    *,
    k: int,
    lookback_days: int,
    recency_days: float | None,
    segment_run_id: str | None = None,
    thresholds: BasketThresholds | None = None,
    n_neighbours: int = NEIGHBOURS,
    max_products: int = MAX_PRODUCTS,
    neighbour_recency_days: float | None = None,
    only: Collection[str] | None = None,
    history: PurchaseHistory | None = None,
) -> pl.DataFrame:
    """Top k per customer (of `only`, else all) by `method` from purchases up to `as_of`: customer_id,
    rank, product_id, score; the rules always recommend to everyone.

    `recency_days` weighs the rules' evidence, `neighbour_recency_days` the neighbours' (None: unweighted,
    which scored higher on the real datasets than 30 days; bench/RESULTS.md). `history`, when given, holds
    the cut `lookback(as_of, lookback_days)`.
    """
    if method == "rules":
        return rules_recommendations(
            con, as_of, segment_run_id, thresholds or BasketThresholds(), k, recency_days
        )
    cut = lookback(as_of, lookback_days)
    with _shared(history, con, [cut]) as purchases:
        matrix = purchases.matrix(cut, neighbour_recency_days)
    return matrix_recommendations(matrix, method, k, n_neighbours, max_products, only)


def _shared(
    history: PurchaseHistory | None, con: duckdb.DuckDBPyConnection, cuts: Collection[Cut]
) -> AbstractContextManager[PurchaseHistory]:
    """`history` when the caller shares one (and drops it after), else a history of `cuts` of its own."""
    return nullcontext(history) if history is not None else PurchaseHistory(con, cuts)


def matrix_recommendations(
    matrix: Matrix,
    method: Method,
    k: int,
    n_neighbours: int = NEIGHBOURS,
    max_products: int = MAX_PRODUCTS,
    only: Collection[str] | None = None,
) -> pl.DataFrame:
    """Top k per customer (of `only`, else all) by neighbours or popularity over `matrix`."""
    if method == "neighbours":
        return neighbour_recommendations(
            matrix, k, n_neighbours=n_neighbours, max_products=max_products, only=only
        )
    return popularity_recommendations(matrix, k, only)


def evaluate(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    days: int = EVAL_DAYS,
    k: int = EVAL_K,
    lookback_days: int = 365,
    recency_days: float | None = None,
    segment_run_id: str | None = None,
    thresholds: BasketThresholds | None = None,
    methods: tuple[Method, ...] = METHODS,
    n_neighbours: int = NEIGHBOURS,
    max_products: int = MAX_PRODUCTS,
    neighbour_recency_days: float | None = None,
    min_customers: int = MIN_EVAL_CUSTOMERS,
    history: PurchaseHistory | None = None,
) -> Evaluation:
    """Each method trained on orders up to as_of - `days`, judged on the `days` after (to as_of).

    Judged: customers who bought before the split and bought a product new to them after it (a
    recommendation is never a product already bought, so nobody else can be hit). hit rate at k: share of
    judged customers with one of their k among those products; precision at k: such products / k,
    averaged; coverage: distinct products recommended to judged customers / products sold in the
    training window (`lookback_days` up to the split). `history`, when given, holds the cuts
    `lookback(as_of, lookback_days)` and `lookback(as_of - days, lookback_days)`.
    """
    train_end = as_of - timedelta(days=days)
    first = con.execute(
        "select min(ordered_at)::date from orders where customer_id is not null and not is_cancellation "
        "and ordered_at < cast(? as date) + interval 1 day",
        [as_of],
    ).fetchall()
    first_day = first[0][0] if first else None
    empty = Evaluation(as_of, train_end, days, k, 0)
    if first_day is None or first_day > train_end:
        have = 0 if first_day is None else (as_of - first_day).days + 1
        return _skipped(
            empty,
            f"recommendations not evaluated: the check trains on orders up to {days} days before the night "
            f"and judges the {days} days after, so it needs more than {days} days of orders; you have {have}",
        )
    since = train_end - timedelta(days=lookback_days - 1)
    catalogue = con.execute(
        "select count(distinct l.product_id) from orders o join order_lines l on l.order_id = o.order_id "
        "where not o.is_cancellation and l.quantity > 0 and l.product_id is not null "
        "and o.ordered_at >= cast(? as date) and o.ordered_at < cast(? as date) + interval 1 day",
        [since, train_end],
    ).fetchall()
    catalogue_items = int(catalogue[0][0]) if catalogue else 0
    if catalogue_items == 0:
        return _skipped(
            empty,
            f"recommendations not evaluated: no order line in the {lookback_days} days up to {train_end} "
            "names a product, so there is nothing to recommend",
        )
    if catalogue_items == 1:
        return _skipped(
            empty,
            f"recommendations not evaluated: 1 product sold in the {lookback_days} days up to {train_end}, "
            "and a customer is only recommended products they have not bought, so there is nothing to judge",
        )
    night, split = lookback(as_of, lookback_days), lookback(train_end, lookback_days)
    with _shared(history, con, [night, split]) as purchases:
        new_items = purchases.new_items(split, night)
        judged = new_items["customer_id"].n_unique()
        if judged < min_customers:
            return _skipped(
                empty,
                f"recommendations not evaluated: {judged} customers bought before {train_end} and then a "
                f"product new to them in the {days} days after, fewer than the {min_customers} a hit rate "
                "needs (it judges what returning customers buy next)",
            )
        new_items = _judged_sample(new_items, MAX_EVAL_CUSTOMERS)
        judged_ids = set(new_items["customer_id"].to_list())
        scores = []
        # Neighbours and popularity read the same purchase matrix: built once, its time counted in the first.
        matrix: Matrix | None = None
        for method in methods:
            started = time.perf_counter()
            if method == "rules":
                recommended = rules_recommendations(
                    con, train_end, segment_run_id, thresholds or BasketThresholds(), k, recency_days
                )
            else:
                if matrix is None:
                    matrix = purchases.matrix(split, neighbour_recency_days)
                recommended = matrix_recommendations(
                    matrix, method, k, n_neighbours, max_products, judged_ids
                )
            seconds = time.perf_counter() - started
            scored = score_recommendations(recommended, new_items, catalogue_items, k, method)
            scores.append(replace(scored, seconds=seconds))
    return Evaluation(as_of, train_end, days, k, catalogue_items, tuple(scores))


def _judged_sample(new_items: pl.DataFrame, max_customers: int, seed: int = 0) -> pl.DataFrame:
    """The rows of at most `max_customers` judged customers, a seeded sample when there are more."""
    customers = new_items["customer_id"].unique().sort()
    if customers.len() <= max_customers:
        return new_items
    picked = np.random.default_rng(seed).choice(customers.len(), size=max_customers, replace=False)
    return new_items.filter(pl.col("customer_id").is_in(customers.gather(np.sort(picked)).implode()))


def _skipped(evaluation: Evaluation, message: str) -> Evaluation:
    log.info(message)
    return Evaluation(evaluation.as_of, evaluation.train_end, evaluation.days, evaluation.k, 0, (), message)


def store_method_recommendations(con: duckdb.DuckDBPyConnection, run_id: str, frame: pl.DataFrame) -> int:
    """Replace a run's basket_recommendations with `frame` (customer_id, rank, product_id, score)."""
    con.execute("delete from basket_recommendations where run_id = ?", [run_id])
    rows = frame.select("customer_id", "rank", "product_id", "score")
    con.register("recommendation_rows", rows)
    try:
        con.execute(
            """
            insert into basket_recommendations (run_id, customer_id, rank, product_id, product_name, score)
            select ?, r.customer_id, r.rank, r.product_id, n.product_name, r.score
            from recommendation_rows r
            left join (
                -- the most recent name a product was sold under
                select l.product_id, arg_max(l.product_name, o.ordered_at) as product_name
                from order_lines l join orders o on o.order_id = l.order_id
                where l.product_id is not null and l.product_name is not null
                group by l.product_id
            ) n on n.product_id = r.product_id
            """,
            [run_id],
        )
    finally:
        con.unregister("recommendation_rows")
    return rows.height


def store_evaluation(
    con: duckdb.DuckDBPyConnection, run_id: str, evaluation: Evaluation, default: str
) -> int:
    """Replace a run's recommendation_evaluations rows with `evaluation`'s; return how many were stored.

    One set of rows per night: a rerun of the same night replaces the earlier run's rows.
    """
    con.execute(
        "delete from recommendation_evaluations where run_id = ? or as_of = ?", [run_id, evaluation.as_of]
    )
    for s in evaluation.scores:
        con.execute(
            "insert into recommendation_evaluations (run_id, as_of, train_end, horizon_days, k, method, "
            "customers_evaluated, customers_recommended, catalogue_items, hit_rate_at_5, precision_at_5, "
            "coverage, is_default) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                evaluation.as_of,
                evaluation.train_end,
                evaluation.days,
                evaluation.k,
                s.method,
                s.customers_evaluated,
                s.customers_recommended,
                evaluation.catalogue_items,
                s.hit_rate,
                s.precision,
                s.coverage,
                s.method == default,
            ],
        )
    return len(evaluation.scores)


def evaluated_methods(setting: str) -> tuple[Method, ...]:
    """The methods a night evaluates: the configured one and popularity, the floor ("auto": all three).

    Only these, because the rules' check mines them a second time (26 s on Online Retail, bench/RESULTS.md).
    """
    if setting == "auto":
        return METHODS
    return tuple(m for m in METHODS if m in (setting, "popularity"))


def chosen_method(setting: str, evaluation: Evaluation | None) -> Method:
    """The method that fills tonight's recommendations: the setting, or for "auto" the night's best."""
    named: dict[str, Method] = {m: m for m in METHODS}
    if setting != "auto":
        return named[setting]
    best = evaluation.best() if evaluation is not None else None
    return named[best.method] if best is not None else DEFAULT_METHOD
