"""Audience files a shop can upload: per campaign a send file (treatment only) in a platform's import
layout, and the holdout in a file of its own whose name says not to upload it.

Every cell is neutralised against CSV (formula) injection: a value starting with = + - @, a tab or a
carriage return gets a leading single quote, so a spreadsheet shows it as text instead of running it
(OWASP, "CSV Injection").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

import polars as pl

ExportFormat = Literal["csv", "klaviyo", "mailchimp", "shopify"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
HOLDOUT_SUFFIX = ".HOLDOUT-do-not-upload.csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Klaviyo list import: the first column is Email; First Name and Last Name are Klaviyo properties; the
# Email Marketing Consent column takes Subscribed (blank = never subscribed). Other columns become custom
# profile properties, which a Klaviyo template can use ({{ person|lookup:'Message' }}).
KLAVIYO_COLUMNS = (
    "Email",
    "First Name",
    "Last Name",
    "Email Marketing Consent",
    "Segment",
    "Offer",
    "Message",
)
# Mailchimp contact import: Email Address is required; Tags is a comma-separated list of tags.
MAILCHIMP_COLUMNS = ("Email Address", "First Name", "Last Name", "Tags")
# Shopify's customer import template (customer_template.csv), header for header.
SHOPIFY_COLUMNS = (
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Tags",
    "Note",
    "Tax Exempt",
)


def neutralise(value: str | None) -> str | None:
    """The value, with a leading single quote when a spreadsheet would read it as a formula."""
    if value and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(value: str | None) -> str | None:
    """The value as it was before `neutralise`."""
    if value and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def safe_cells(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell of `frame` neutralised against formula injection."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    starts = r"^[=+\-@\t\r]"  # FORMULA_STARTS as a regex
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(starts)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def _tags(*values: pl.Expr) -> pl.Expr:
    # A comma separates tags on both platforms, so a comma inside a segment name would split it.
    return pl.concat_str([v.fill_null("").str.replace_all(",", " ") for v in values], separator=",")


def _blank() -> pl.Expr:
    return pl.lit("", dtype=pl.String)


def _klaviyo(rows: pl.DataFrame, campaign: str) -> pl.DataFrame:
    return rows.select(
        pl.col("email").alias("Email"),
        pl.col("first_name").fill_null("").alias("First Name"),
        pl.col("last_name").fill_null("").alias("Last Name"),
        pl.when(pl.col("consent"))
        .then(pl.lit("Subscribed"))
        .otherwise(_blank())
        .alias("Email Marketing Consent"),
        pl.col("segment").alias("Segment"),
        pl.col("offer").alias("Offer"),
        pl.col("message").alias("Message"),
    )


def _mailchimp(rows: pl.DataFrame, campaign: str) -> pl.DataFrame:
    return rows.select(
        pl.col("email").alias("Email Address"),
        pl.col("first_name").fill_null("").alias("First Name"),
        pl.col("last_name").fill_null("").alias("Last Name"),
        _tags(pl.col("segment"), pl.lit(campaign)).alias("Tags"),
    )


def _shopify(rows: pl.DataFrame, campaign: str) -> pl.DataFrame:
    # Shopify wants a two-letter country code; names such as "United Kingdom" are left out.
    country = pl.col("country").fill_null("").str.strip_chars()
    values = {
        "First Name": pl.col("first_name").fill_null(""),
        "Last Name": pl.col("last_name").fill_null(""),
        "Email": pl.col("email"),
        "Accepts Email Marketing": pl.when(pl.col("consent")).then(pl.lit("yes")).otherwise(pl.lit("no")),
        "Default Address Country Code": pl.when(country.str.contains("^[A-Za-z]{2}$"))
        .then(country.str.to_uppercase())
        .otherwise(_blank()),
        "Tags": _tags(pl.col("segment"), pl.lit(campaign)),
    }
    return rows.select((values.get(c, _blank())).alias(c) for c in SHOPIFY_COLUMNS)


LAYOUTS: dict[str, Callable[[pl.DataFrame, str], pl.DataFrame]] = {
    "klaviyo": _klaviyo,
    "mailchimp": _mailchimp,
    "shopify": _shopify,
}


def _with_variant(rows: pl.DataFrame, variant: pl.Series) -> pl.DataFrame:
    """A platform layout with each member's offer variant: a Variant property (Klaviyo) or one more tag."""
    if "Tags" in rows.columns:
        tag = variant.fill_null("").str.replace_all(",", " ")
        return rows.with_columns(pl.concat_str([pl.col("Tags"), pl.lit(tag)], separator=","))
    return rows.with_columns(variant.alias("Variant"))


def send_path(out_dir: Path, campaign_id: str, fmt: str) -> Path:
    """The send file's path: <campaign id>.csv for segmint's own layout, <campaign id>.<format>.csv else."""
    return out_dir / (f"{campaign_id}.csv" if fmt == "csv" else f"{campaign_id}.{fmt}.csv")


def holdout_path(out_dir: Path, campaign_id: str) -> Path:
    """The holdout's file: named so that nobody uploads it by mistake."""
    return out_dir / f"{campaign_id}{HOLDOUT_SUFFIX}"


def write_audience(
    audience: pl.DataFrame,
    contacts: pl.DataFrame,
    columns: tuple[str, ...],
    out_dir: Path,
    campaign_id: str,
    campaign: str,
    fmt: str,
) -> tuple[Path, Path]:
    """Write the treatment rows in `fmt` and the holdout rows (segmint's columns); return both paths.

    `audience` has segmint's audience columns (`columns`) and a `group`; `contacts` adds first_name,
    last_name, consent and country per customer_id for the platform layouts.
    """
    treatment = audience.filter(pl.col("group") == "treatment")
    holdout = audience.filter(pl.col("group") == "holdout")
    send = send_path(out_dir, campaign_id, fmt)
    if fmt == "csv":
        rows = treatment.select(columns)
    else:
        joined = treatment.join(contacts, on="customer_id", how="left", maintain_order="left")
        rows = LAYOUTS[fmt](joined, campaign)
        if "variant" in columns:
            rows = _with_variant(rows, joined["variant"])
    safe_cells(rows).write_csv(send)
    kept = holdout_path(out_dir, campaign_id)
    safe_cells(holdout.select(columns)).write_csv(kept)
    return send, kept
