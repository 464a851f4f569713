"""Tests for the synthetic data generator (segmint.synth.generate)."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from segmint.schema import EVENT_TYPES
from segmint.synth.generate import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    PERSONA_NAMES,
    GenerateSummary,
    build_world,
    generate,
    segmint_toml,
)

END = date(2024, 12, 31)
DAYS = 60
CUSTOMERS = 500
SEED = 7
PERIOD_START = datetime(2024, 11, 2)  # END - DAYS + 1
PERIOD_END = datetime(2025, 1, 1)  # exclusive


def _read_csvs(files: list[Path]) -> pl.DataFrame:
    assert files, "no files"
    frames = [pl.read_csv(f, try_parse_dates=True, infer_schema_length=None) for f in files]
    return pl.concat(frames, how="vertical_relaxed")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("gen")
    summary = generate(out, customers=CUSTOMERS, days=DAYS, end=END, seed=SEED)
    return out, summary


@pytest.fixture(scope="module")
def orders(gen: tuple[Path, GenerateSummary]) -> pl.DataFrame:
    return _read_csvs(sorted((gen[0] / "orders").glob("*.csv")))


@pytest.fixture(scope="module")
def events(gen: tuple[Path, GenerateSummary]) -> pl.DataFrame:
    return _read_csvs(sorted((gen[0] / "events").glob("*.csv")))


@pytest.fixture(scope="module")
def customers(gen: tuple[Path, GenerateSummary]) -> pl.DataFrame:
    return _read_csvs([gen[0] / "customers" / "customers.csv"])


@pytest.fixture(scope="module")
def personas(gen: tuple[Path, GenerateSummary]) -> pl.DataFrame:
    return pl.read_csv(gen[0] / "truth" / "personas.csv")


# ---------------------------------------------------------------------------------------------
# layout


def test_layout_and_headers(gen: tuple[Path, GenerateSummary]) -> None:
    out, summary = gen
    order_files = sorted(p.name for p in (out / "orders").iterdir())
    event_files = sorted(p.name for p in (out / "events").iterdir())
    assert order_files == ["orders_2024-11.csv", "orders_2024-12.csv"]
    assert event_files == ["events_2024-11.csv", "events_2024-12.csv"]
    assert sorted(p.name for p in (out / "customers").iterdir()) == ["customers.csv"]
    assert (out / "truth" / "personas.csv").is_file()
    headers = {
        "orders/orders_2024-11.csv": ORDER_COLUMNS,
        "events/events_2024-12.csv": EVENT_COLUMNS,
        "customers/customers.csv": CUSTOMER_COLUMNS,
        "truth/personas.csv": ("customer_id", "persona"),
    }
    for rel, cols in headers.items():
        first = (out / rel).read_text(encoding="utf-8").splitlines()[0]
        assert first == ",".join(cols), rel
    # no leftovers of the temporary spill directory
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert set(summary.files) == {p for p in out.rglob("*") if p.is_file()}
    assert summary.files_written == len(summary.files)


def test_segmint_toml(gen: tuple[Path, GenerateSummary]) -> None:
    out, _ = gen
    text = (out / "segmint.toml").read_text(encoding="utf-8")
    assert text == segmint_toml("csv")
    cfg = tomllib.loads(text)
    assert cfg["warehouse"] == {"path": "warehouse.duckdb"}
    assert [s["name"] for s in cfg["sources"]] == ["customers", "orders", "events"]
    for src in cfg["sources"]:
        assert src["kind"] == src["name"]
        assert src["preset"] == "canonical"
        assert src["path"] == f"{src['name']}/*.csv"
        assert list(out.glob(src["path"])), src["path"]
    assert tomllib.loads(segmint_toml("parquet"))["sources"][1]["path"] == "orders/*.parquet"


def test_exact_toml_text() -> None:
    expected = (
        '[warehouse]\npath = "warehouse.duckdb"\n\n'
        "[ingest]\nsettle_seconds = 0\n\n"
        '[[sources]]\nname = "customers"\nkind = "customers"\npath = "customers/*.csv"\n'
        'preset = "canonical"\n\n'
        '[[sources]]\nname = "orders"\nkind = "orders"\npath = "orders/*.csv"\n'
        'preset = "canonical"\n\n'
        '[[sources]]\nname = "events"\nkind = "events"\npath = "events/*.csv"\n'
        'preset = "canonical"\n'
    )
    assert segmint_toml("csv") == expected


def test_value_formats(gen: tuple[Path, GenerateSummary]) -> None:
    out, _ = gen
    ts = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    order_line = re.compile(
        rf"^[OR]\d{{8}},\d+,(C\d{{6}})?,{ts},P\d{{4}},[^,]+,[^,]+,-?\d+,\d+\.\d\d,EUR,(true|false)$"
    )
    for line in (out / "orders" / "orders_2024-12.csv").read_text().splitlines()[1:]:
        assert order_line.match(line), line
    event_line = re.compile(rf"^E\d{{10}},{ts},(C\d{{6}})?,S\d{{9}},[a-z_]+,(P\d{{4}})?,(\d+\.\d\d)?$")
    for line in (out / "events" / "events_2024-12.csv").read_text().splitlines()[1:2000]:
        assert event_line.match(line), line
    cust_line = re.compile(r"^C(\d{6}),c(\d{6})@example\.com,[A-Z]{2}," + ts + ",(true|false)$")
    for line in (out / "customers" / "customers.csv").read_text().splitlines()[1:]:
        m = cust_line.match(line)
        assert m and m.group(1) == m.group(2), line


# ---------------------------------------------------------------------------------------------
# determinism


def test_deterministic(gen: tuple[Path, GenerateSummary], tmp_path: Path) -> None:
    out, summary = gen
    again = generate(tmp_path / "a", customers=CUSTOMERS, days=DAYS, end=END, seed=SEED)
    assert _tree(out) == _tree(tmp_path / "a")
    assert again.orders == summary.orders and again.events == summary.events
    generate(tmp_path / "b", customers=CUSTOMERS, days=DAYS, end=END, seed=SEED + 1)
    other = _tree(tmp_path / "b")
    first = _tree(out)
    assert other["segmint.toml"] == first["segmint.toml"]
    for rel in ("orders/orders_2024-12.csv", "events/events_2024-12.csv", "truth/personas.csv"):
        assert other[rel] != first[rel], rel


def test_parquet_deterministic_and_same_content_as_csv(
    gen: tuple[Path, GenerateSummary], orders: pl.DataFrame, tmp_path: Path
) -> None:
    # the CSV fixture and a parquet run of the same arguments hold the same rows
    for name in ("p1", "p2"):
        generate(
            tmp_path / name,
            customers=CUSTOMERS,
            days=DAYS,
            end=END,
            seed=SEED,
            fmt="parquet",
            split="none",
        )
    assert _tree(tmp_path / "p1") == _tree(tmp_path / "p2")
    p = tmp_path / "p1"
    assert sorted(x.name for x in (p / "orders").iterdir()) == ["orders.parquet"]
    assert sorted(x.name for x in (p / "events").iterdir()) == ["events.parquet"]
    assert (p / "customers" / "customers.parquet").is_file()
    cfg = tomllib.loads((p / "segmint.toml").read_text())
    for src in cfg["sources"]:
        assert src["path"].endswith("/*.parquet") and list(p.glob(src["path"]))
    pq_orders = pl.read_parquet(p / "orders" / "orders.parquet")
    assert pq_orders.columns == list(ORDER_COLUMNS)
    assert pq_orders.schema["unit_price"] == pl.Decimal(12, 2)
    assert pq_orders.schema["ordered_at"] == pl.Datetime("us")
    assert pq_orders.schema["is_cancellation"] == pl.Boolean
    as_csv = pq_orders.with_columns(pl.col("unit_price").cast(pl.Float64))
    assert as_csv.equals(orders.cast(as_csv.schema))
    pq_events = pl.read_parquet(p / "events" / "events.parquet")
    assert pq_events.columns == list(EVENT_COLUMNS)
    assert pq_events.height == gen[1].events


def test_day_split_and_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "d"
    generate(out, customers=200, days=20, end=END, seed=3, split="day")
    names = sorted(p.name for p in (out / "orders").iterdir())
    assert all(re.fullmatch(r"orders_2024-12-\d\d\.csv", n) for n in names)
    assert len(list((out / "events").iterdir())) == 20  # there is traffic every day
    day_rows = _read_csvs(sorted((out / "events").glob("*.csv")))
    for f in sorted((out / "events").glob("*.csv")):
        day = f.stem.removeprefix("events_")
        stamps = pl.read_csv(f, try_parse_dates=True)["occurred_at"]
        assert stamps.dt.date().cast(pl.String).unique().to_list() == [day]
    # regenerate with another split into the same directory: old files are replaced
    generate(out, customers=200, days=20, end=END, seed=3, split="month")
    assert sorted(p.name for p in (out / "events").iterdir()) == ["events_2024-12.csv"]
    month_rows = pl.read_csv(out / "events" / "events_2024-12.csv", try_parse_dates=True)
    assert month_rows.equals(day_rows)


# ---------------------------------------------------------------------------------------------
# consistency


def test_ids_unique(orders: pl.DataFrame, events: pl.DataFrame, customers: pl.DataFrame) -> None:
    assert orders.select("order_id", "line_no").is_unique().all()
    assert events["event_id"].is_unique().all()
    assert customers["customer_id"].is_unique().all()
    # line numbers are 1..n within each order; one timestamp/customer per order
    per_order = orders.group_by("order_id").agg(
        pl.col("line_no").sort(),
        pl.col("ordered_at").n_unique().alias("n_ts"),
        pl.col("customer_id").n_unique().alias("n_cust"),
        pl.col("is_cancellation").n_unique().alias("n_kind"),
    )
    for line_nos in per_order["line_no"].to_list():
        assert line_nos == list(range(1, len(line_nos) + 1))
    assert (per_order["n_ts"] == 1).all() and (per_order["n_cust"] == 1).all()
    assert (per_order["n_kind"] == 1).all()
    # an order does not list the same product twice
    assert orders.select("order_id", "product_id").is_unique().all()


def test_order_values(orders: pl.DataFrame) -> None:
    assert (orders["unit_price"] > 0).all()
    assert (orders["currency"] == "EUR").all()
    ret = orders.filter(pl.col("is_cancellation"))
    normal = orders.filter(~pl.col("is_cancellation"))
    assert (ret["order_id"].str.starts_with("R")).all()
    assert (normal["order_id"].str.starts_with("O")).all()
    assert (ret["quantity"] < 0).all() and (normal["quantity"] > 0).all()
    # each product has one price and one name/category everywhere
    assert (
        orders.group_by("product_id")
        .agg(pl.col("unit_price").n_unique(), pl.col("product_name").n_unique())
        .select(pl.exclude("product_id") == 1)
        .to_series()
        .all()
    )
    cats = orders["category"].unique()
    assert 8 <= cats.len() <= 12


def test_returns_follow_earlier_purchases(orders: pl.DataFrame) -> None:
    buys = orders.filter(~pl.col("is_cancellation"))
    rets = orders.filter(pl.col("is_cancellation"))
    assert rets["order_id"].n_unique() > 0
    key = ["customer_id", "product_id"]
    first_buy = (
        buys.filter(pl.col("customer_id").is_not_null())
        .group_by(key)
        .agg(pl.col("ordered_at").min().alias("bought_at"), pl.col("quantity").max())
    )
    reg_rets = rets.filter(pl.col("customer_id").is_not_null())
    joined = reg_rets.join(first_buy, on=key, how="left", suffix="_bought")
    assert joined["bought_at"].null_count() == 0
    assert (joined["bought_at"] < joined["ordered_at"]).all()
    assert (-joined["quantity"] <= joined["quantity_bought"]).all()


def test_customers_referenced_exist(
    orders: pl.DataFrame, events: pl.DataFrame, customers: pl.DataFrame
) -> None:
    known = set(customers["customer_id"])
    assert set(orders["customer_id"].drop_nulls()) <= known
    assert set(events["customer_id"].drop_nulls()) <= known
    assert customers.height == CUSTOMERS


def test_purchase_events_match_order_lines(orders: pl.DataFrame, events: pl.DataFrame) -> None:
    purchases = events.filter(pl.col("event_type") == "purchase")
    assert purchases["product_id"].null_count() == 0
    lines = orders.filter(~pl.col("is_cancellation"))
    # every purchase event of a customer is an order line of that customer at that time
    reg = purchases.filter(pl.col("customer_id").is_not_null())
    matched = reg.join(
        lines,
        left_on=["customer_id", "product_id", "occurred_at"],
        right_on=["customer_id", "product_id", "ordered_at"],
        how="left",
    )
    assert matched["order_id"].null_count() == 0
    assert (matched["price"] == matched["unit_price"]).all()
    # ... and every line of a registered customer's order has its purchase event
    reg_lines = lines.filter(pl.col("customer_id").is_not_null())
    back = reg_lines.join(
        reg,
        left_on=["customer_id", "product_id", "ordered_at"],
        right_on=["customer_id", "product_id", "occurred_at"],
        how="anti",
    )
    assert back.height == 0
    # anonymous purchases belong to guest orders
    anon = purchases.filter(pl.col("customer_id").is_null())
    guest_lines = lines.filter(pl.col("customer_id").is_null())
    anon_matched = anon.join(
        guest_lines,
        left_on=["product_id", "occurred_at"],
        right_on=["product_id", "ordered_at"],
        how="anti",
    )
    assert anon.height > 0 and anon_matched.height == 0


def test_sessions_are_coherent(events: pl.DataFrame) -> None:
    assert set(events["event_type"].unique()) == set(EVENT_TYPES)
    no_product = events.filter(pl.col("event_type").is_in(["page_view", "checkout"]))
    assert no_product["product_id"].null_count() == no_product.height
    assert no_product["price"].null_count() == no_product.height
    with_product = events.filter(~pl.col("event_type").is_in(["page_view", "checkout"]))
    assert with_product["product_id"].null_count() == 0
    assert (with_product["price"] > 0).all()
    per_session = (
        events.sort("occurred_at", "event_id")
        .group_by("session_id")
        .agg(
            pl.col("customer_id").n_unique().alias("n_cust"),
            (pl.col("occurred_at").max() - pl.col("occurred_at").min()).alias("duration"),
            pl.col("event_type").first().alias("first"),
            pl.col("event_type").last().alias("last"),
            (pl.col("event_type") == "purchase").any().alias("buys"),
        )
    )
    assert (per_session["n_cust"] == 1).all()
    assert (per_session["first"] == "page_view").all()
    assert per_session["duration"].max() < timedelta(hours=6)  # type: ignore[operator]
    assert (per_session.filter("buys")["last"] == "purchase").all()


def test_timestamps_within_period(
    orders: pl.DataFrame, events: pl.DataFrame, customers: pl.DataFrame
) -> None:
    for s in (orders["ordered_at"], events["occurred_at"], customers["first_seen_at"]):
        assert s.min() >= PERIOD_START  # type: ignore[operator]
        assert s.max() < PERIOD_END  # type: ignore[operator]
    # no activity before a customer was first seen
    first = customers.select("customer_id", "first_seen_at")
    for df, col in ((orders, "ordered_at"), (events, "occurred_at")):
        act = (
            df.filter(pl.col("customer_id").is_not_null())
            .group_by("customer_id")
            .agg(pl.col(col).min().alias("first_activity"))
        )
        j = act.join(first, on="customer_id")
        assert (j["first_seen_at"] <= j["first_activity"]).all()


# ---------------------------------------------------------------------------------------------
# shares and behaviour


def test_guest_and_anonymous_shares(
    gen: tuple[Path, GenerateSummary], orders: pl.DataFrame, events: pl.DataFrame
) -> None:
    _, summary = gen
    heads = orders.filter(pl.col("line_no") == 1)
    normal = heads.filter(~pl.col("is_cancellation"))
    guest_share = normal["customer_id"].null_count() / normal.height
    assert 0.05 <= guest_share <= 0.11
    sessions = events.group_by("session_id").agg(pl.col("customer_id").first())
    anon_share = sessions["customer_id"].null_count() / sessions.height
    assert 0.25 <= anon_share <= 0.35
    ret_share = heads["is_cancellation"].mean()
    assert 0.01 <= ret_share <= 0.06  # type: ignore[operator]
    # the summary agrees with the files
    assert summary.orders == heads.height
    assert summary.return_orders == heads["is_cancellation"].sum()
    assert summary.guest_orders == heads["customer_id"].null_count()
    assert summary.order_lines == orders.height
    assert summary.events == events.height
    assert summary.anonymous_events == events["customer_id"].null_count()
    assert summary.sessions == sessions.height
    assert summary.anonymous_sessions == sessions["customer_id"].null_count()
    assert summary.customers == CUSTOMERS


def test_personas_cover_all_customers(
    personas: pl.DataFrame, customers: pl.DataFrame, gen: tuple[Path, GenerateSummary]
) -> None:
    assert personas.columns == ["customer_id", "persona"]
    assert sorted(personas["customer_id"]) == sorted(customers["customer_id"])
    assert set(personas["persona"]) == set(PERSONA_NAMES)
    shares = personas["persona"].value_counts(normalize=True)
    share = dict(zip(shares["persona"], shares["proportion"], strict=True))
    expected = {
        "loyal_high_spender": 0.10,
        "bargain_hunter": 0.25,
        "one_time_buyer": 0.25,
        "window_shopper": 0.20,
        "lapsing": 0.20,
    }
    for name, s in expected.items():
        assert abs(share[name] - s) < 0.06, name
    assert dict(gen[1].persona_counts) == dict(personas["persona"].value_counts().iter_rows())
    consent = customers["marketing_consent"].mean()
    assert 0.78 <= consent <= 0.92  # type: ignore[operator]


def _features(orders: pl.DataFrame, events: pl.DataFrame, personas: pl.DataFrame) -> pl.DataFrame:
    as_of = PERIOD_END
    o = (
        orders.filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id", "order_id")
        .agg(
            pl.col("ordered_at").first(),
            pl.col("is_cancellation").first(),
            (pl.col("quantity") * pl.col("unit_price")).sum().alias("amount"),
        )
    )
    buys = o.filter(~pl.col("is_cancellation"))
    of = buys.group_by("customer_id").agg(
        pl.len().alias("frequency"),
        ((as_of - pl.col("ordered_at").max()).dt.total_days()).alias("recency_days"),
        pl.col("amount").mean().alias("aov"),
    )
    s = (
        events.filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id", "session_id")
        .agg(
            pl.col("occurred_at").min().alias("start"),
            (pl.col("event_type") == "add_to_cart").any().alias("cart"),
            (pl.col("event_type") == "purchase").any().alias("buy"),
            (pl.col("event_type") == "product_view").sum().alias("views"),
        )
    )
    sf = s.group_by("customer_id").agg(
        (pl.col("start") >= as_of - timedelta(days=30)).sum().alias("sessions_30d"),
        pl.col("views").sum().alias("product_views"),
        ((pl.col("cart") & ~pl.col("buy")).sum() / pl.col("cart").sum()).alias("abandonment"),
        (as_of - pl.col("start").max()).dt.total_days().alias("days_since_visit"),
    )
    return (
        personas.join(of, on="customer_id", how="left")
        .join(sf, on="customer_id", how="left")
        .with_columns(pl.col("frequency").fill_null(0))
    )


def test_personas_are_separable(orders: pl.DataFrame, events: pl.DataFrame, personas: pl.DataFrame) -> None:
    f = _features(orders, events, personas)
    med = f.group_by("persona").agg(pl.all().exclude("customer_id").median())
    m = {row["persona"]: row for row in med.iter_rows(named=True)}
    loyal, bargain = m["loyal_high_spender"], m["bargain_hunter"]
    one, window, lapsing = m["one_time_buyer"], m["window_shopper"], m["lapsing"]
    # frequency (means: over 60 days a bargain hunter's median is still a single order)
    mean_freq = dict(f.group_by("persona").agg(pl.col("frequency").mean()).iter_rows())
    # (the at-least-one-order floor compresses the 24 vs 11 orders a year over 60 days)
    assert mean_freq["loyal_high_spender"] > 1.5 * mean_freq["bargain_hunter"]
    assert mean_freq["bargain_hunter"] > 1.2 * mean_freq["one_time_buyer"]
    assert mean_freq["lapsing"] > mean_freq["one_time_buyer"]
    assert loyal["frequency"] >= 2
    fmax = dict(f.group_by("persona").agg(pl.col("frequency").max()).iter_rows())
    assert fmax["window_shopper"] <= 1
    one_time = f.filter(pl.col("persona") == "one_time_buyer")["frequency"]
    assert (one_time == 1).all()
    # basket value
    assert loyal["aov"] > 2 * bargain["aov"]
    # recency: loyal recent, lapsing long gone
    assert loyal["recency_days"] < 20
    assert lapsing["recency_days"] > 20 and lapsing["days_since_visit"] > 15
    # browsing
    assert window["abandonment"] > 0.8 > loyal["abandonment"]
    assert window["product_views"] > one["product_views"]
    assert loyal["sessions_30d"] > lapsing["sessions_30d"]


def test_planted_pairs_are_bought_together(gen: tuple[Path, GenerateSummary], orders: pl.DataFrame) -> None:
    pairs = pl.read_csv(gen[0] / "truth" / "product_pairs.csv")
    assert 10 <= pairs.height <= 40
    baskets = orders.filter(~pl.col("is_cancellation")).select("order_id", "product_id")
    both = (
        baskets.join(baskets, on="order_id", suffix="_b")
        .join(
            pairs.select("product_id_a", "product_id_b"),
            left_on=["product_id", "product_id_b"],
            right_on=["product_id_a", "product_id_b"],
        )
        .group_by("product_id", "product_id_b")
        .len()
    )
    n_orders = baskets["order_id"].n_unique()
    # with ~25 planted pairs and ~1000 orders, planted pairs co-occur far above chance
    assert both["len"].sum() > 0.03 * n_orders


def test_world_is_reusable() -> None:
    w = build_world(customers=300, days=30, end=END, seed=11)
    cust = w.customers
    assert cust.height == 300
    assert set(cust["persona"]) <= set(PERSONA_NAMES)
    assert cust["customer_id"][0] == "C000001"
    prods = w.products
    assert 300 <= prods.height <= 1000
    assert 8 <= prods["category"].n_unique() <= 12
    assert prods["product_id"].is_unique().all()
    assert (prods["price"].cast(pl.Float64) > 0).all()
    # same arguments, same world
    w2 = build_world(customers=300, days=30, end=END, seed=11)
    assert w2.customers.equals(cust) and w2.products.equals(prods)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 0},
        {"customers": -1},
        {"fmt": "json"},
        {"split": "week"},
    ],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"customers": 10, "days": 5, "end": END, "seed": 1} | kwargs
    with pytest.raises(ValueError):
        generate(tmp_path, **args)  # type: ignore[arg-type, unused-ignore]


def test_no_customers_still_writes_loadable_layout(tmp_path: Path) -> None:
    s = generate(tmp_path, customers=0, days=3, end=END, seed=1)
    assert s.orders == 0 and s.events == 0
    cfg = tomllib.loads((tmp_path / "segmint.toml").read_text())
    for src in cfg["sources"]:
        files = list(tmp_path.glob(src["path"]))
        assert len(files) == 1
        assert files[0].read_text().count("\n") == 1  # header only
