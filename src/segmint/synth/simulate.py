"""Simulated campaign responses with a known, planted effect, so uplift measurement can be checked.

Reads campaign audience CSVs (from `segmint campaigns build`) and writes response orders in segmint's
canonical orders layout into a generated data folder, where the next ingest picks them up. Each audience
member converts with probability base_rate(segment), plus the planted uplift(segment) when in the treatment
group; the truth (probability and outcome per customer) goes to truth/responses_<first day>.csv.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from segmint.campaigns.exports import HOLDOUT_SUFFIX, restore
from segmint.errors import SegmintError
from segmint.synth.generate import CURRENCY, DATETIME_FORMAT

_FALLBACK_PRODUCT = ("SIM-1", "Simulated product", "Simulated", 25.0)


@dataclass(frozen=True)
class ResponseSummary:
    """What was simulated for one campaign."""

    campaign_id: str
    orders_file: Path
    truth_file: Path
    window_start: date
    window_end: date
    n_treatment: int
    n_holdout: int
    conversions_treatment: int
    conversions_holdout: int


def parse_rates(specs: list[str], what: str) -> dict[str, float]:
    """Turn ["Champions=0.05", "*=0"] into {"Champions": 0.05, "*": 0.0}; '*' is every other segment."""
    rates: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.rpartition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = float("nan")
        if not sep or not name or not -1.0 <= rate <= 1.0:
            raise SegmintError(
                f"{what} {spec!r} is not SEGMENT=RATE with a rate between -1 and 1; write e.g. 'Champions=0.05'."
            )
        rates[name] = rate
    return rates


def _rate(rates: Mapping[str, float], segment: str | None, default: float) -> float:
    if segment is not None and segment in rates:
        return rates[segment]
    return rates.get("*", default)


def catalogue(data_dir: Path) -> pl.DataFrame:
    """Products sold in the generated orders files: product_id, product_name, category, unit_price (median)."""
    files = [
        p
        for p in sorted((data_dir / "orders").glob("*"))
        if p.suffix in {".csv", ".parquet"} and not p.name.startswith("responses_")
    ]
    if not files:
        return pl.DataFrame(
            [_FALLBACK_PRODUCT], schema=["product_id", "product_name", "category", "unit_price"], orient="row"
        )
    frames = [
        (pl.scan_parquet(p) if p.suffix == ".parquet" else pl.scan_csv(p, infer_schema=False)).select(
            pl.col("product_id").cast(pl.String),
            pl.col("product_name").cast(pl.String),
            pl.col("category").cast(pl.String),
            pl.col("unit_price").cast(pl.Float64),
            pl.col("quantity").cast(pl.Int64),
        )
        for p in files
    ]
    return (
        pl.concat(frames)
        .filter((pl.col("quantity") > 0) & pl.col("product_id").is_not_null())
        .group_by("product_id")
        .agg(pl.col("product_name").first(), pl.col("category").first(), pl.col("unit_price").median())
        .sort("product_id")
        .collect()
    )


def send_file(path: Path) -> Path:
    """The campaign's send file for either of its files (the send file or the holdout's file)."""
    if path.name.endswith(HOLDOUT_SUFFIX):
        return path.with_name(path.name.removesuffix(HOLDOUT_SUFFIX) + ".csv")
    return path


def read_audience(path: Path) -> pl.DataFrame:
    """A campaign's whole audience: its send file and, next to it, the holdout's file, by customer id."""
    send = send_file(path)
    holdout = send.with_name(send.stem + HOLDOUT_SUFFIX)
    frames = [pl.read_csv(f, infer_schema=False) for f in (send, holdout) if f.is_file()]
    audience = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    if "customer_id" in audience.columns:
        # Undo the export's formula guard, so ids match the warehouse's; keep the build's order.
        audience = audience.with_columns(pl.col("customer_id").map_elements(restore, return_dtype=pl.String))
        audience = audience.sort("customer_id", maintain_order=True)
    return audience


def _window(audience_csv: Path, start: date | None, days: int | None) -> tuple[str, date, date]:
    manifest_path = audience_csv.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    campaign = str(manifest.get("campaign_id", audience_csv.stem))
    if start is None:
        if "window_start" not in manifest:
            raise SegmintError(
                f"{audience_csv}: no {manifest_path.name} next to it says when the campaign ran; pass --start."
            )
        start = date.fromisoformat(manifest["window_start"])
    if days is None:
        end = (
            date.fromisoformat(manifest["window_end"]) if "window_end" in manifest else start + timedelta(13)
        )
    else:
        end = start + timedelta(days=days - 1)
    return campaign, start, end


def _simulate_one(
    audience_csv: Path,
    products: pl.DataFrame,
    *,
    uplift: Mapping[str, float],
    base_rate: Mapping[str, float] | float,
    start: date | None,
    days: int | None,
    seed: int,
) -> tuple[pl.DataFrame, pl.DataFrame, ResponseSummary]:
    """Response orders, the truth and the summary for one audience CSV."""
    if not audience_csv.is_file():
        raise SegmintError(f"Audience file {audience_csv} not found; run `segmint campaigns build` first.")
    audience_csv = send_file(audience_csv)
    audience = read_audience(audience_csv)
    missing = {"customer_id", "segment", "group"} - set(audience.columns)
    if missing:
        raise SegmintError(
            f"{audience_csv}: column(s) {', '.join(sorted(missing))} missing; pass an audience CSV "
            "written by `segmint campaigns build`."
        )
    campaign, window_start, window_end = _window(audience_csv, start, days)
    bases = base_rate if isinstance(base_rate, Mapping) else {"*": float(base_rate)}
    rng = np.random.default_rng([seed, zlib.crc32(campaign.encode())])

    segments = audience["segment"].to_list()
    treated = (audience["group"] == "treatment").to_numpy()
    p = np.array(
        [
            _rate(bases, s, 0.10) + (_rate(uplift, s, 0.0) if t else 0.0)
            for s, t in zip(segments, treated, strict=True)
        ]
    )
    p = np.clip(p, 0.0, 1.0)
    converted = rng.random(p.size) < p

    ids = products["product_id"].to_list()
    index = {pid: i for i, pid in enumerate(ids)}
    recommended = (
        audience["recommended_products"].fill_null("").to_list()
        if "recommended_products" in audience.columns
        else [""] * audience.height
    )
    rows = np.flatnonzero(converted)
    seconds = rng.integers(0, ((window_end - window_start).days + 1) * 86_400, size=rows.size)
    quantities = rng.integers(1, 4, size=rows.size)
    fallback = rng.integers(0, len(ids), size=rows.size)
    # Responders buy what the campaign featured for them first; without a feature, any product.
    picks = [index.get(recommended[row].split("|")[0], int(fallback[k])) for k, row in enumerate(rows)]
    chosen = products[picks] if picks else products.clear()
    start_ts = datetime.combine(window_start, datetime.min.time())
    orders = pl.DataFrame(
        {
            "order_id": [f"R-{campaign}-{k + 1:06d}" for k in range(rows.size)],
            "line_no": [1] * rows.size,
            "customer_id": [audience["customer_id"][int(r)] for r in rows],
            "ordered_at": [start_ts + timedelta(seconds=int(s)) for s in seconds],
            "product_id": chosen["product_id"],
            "product_name": chosen["product_name"],
            "category": chosen["category"],
            "quantity": quantities,
            "unit_price": chosen["unit_price"].round(2),
            "currency": [CURRENCY] * rows.size,
            "is_cancellation": [False] * rows.size,
        },
        schema_overrides={"ordered_at": pl.Datetime("us"), "quantity": pl.Int64},
    )
    truth = audience.select(
        pl.lit(campaign).alias("campaign_id"), "customer_id", "segment", "group"
    ).with_columns(p_convert=pl.Series(p), converted=pl.Series(converted))
    summary = ResponseSummary(
        campaign_id=campaign,
        orders_file=Path(),
        truth_file=Path(),
        window_start=window_start,
        window_end=window_end,
        n_treatment=int(treated.sum()),
        n_holdout=int((~treated).sum()),
        conversions_treatment=int(converted[treated].sum()),
        conversions_holdout=int(converted[~treated].sum()),
    )
    return orders, truth, summary


def simulate_responses(
    audiences: Sequence[Path],
    data_dir: Path,
    *,
    uplift: Mapping[str, float],
    base_rate: Mapping[str, float] | float = 0.10,
    start: date | None = None,
    days: int | None = None,
    seed: int = 42,
) -> list[ResponseSummary]:
    """Write the response orders of all `audiences` into one file in `data_dir`/orders, planted uplift per segment.

    One file per call, sorted by time, named after the earliest response day: the next ingest loads it as one
    batch, the way a shop's real export of those days would arrive.
    """
    if not audiences:
        raise SegmintError("No audience CSV given; pass the files `segmint campaigns build` wrote.")
    products = catalogue(data_dir)
    # A campaign's send file and holdout file are one audience: simulate it once.
    unique = list(dict.fromkeys(p if not p.is_file() else send_file(p) for p in audiences))
    parts = [
        _simulate_one(path, products, uplift=uplift, base_rate=base_rate, start=start, days=days, seed=seed)
        for path in unique
    ]
    first = min(summary.window_start for _, _, summary in parts)
    orders = pl.concat([o for o, _, _ in parts]).sort("ordered_at", "order_id")
    orders_dir = data_dir / "orders"
    orders_dir.mkdir(parents=True, exist_ok=True)
    parquet = any(orders_dir.glob("*.parquet")) and not any(orders_dir.glob("*.csv"))
    orders_file = orders_dir / f"responses_{first:%Y%m%d}.{'parquet' if parquet else 'csv'}"
    if parquet:
        orders.write_parquet(orders_file)
    else:
        orders.write_csv(orders_file, datetime_format=DATETIME_FORMAT)
    truth_file = data_dir / "truth" / f"responses_{first:%Y%m%d}.csv"
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    pl.concat([t for _, t, _ in parts]).write_csv(truth_file)
    return [replace(summary, orders_file=orders_file, truth_file=truth_file) for _, _, summary in parts]
