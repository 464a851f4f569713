"""Presets: how each known export layout maps onto segmint's canonical columns, as SQL over text columns.

A preset turns the raw text table into canonical text columns; typing and validation happen afterwards,
the same way for every preset, in load.py. A `[sources.columns]` mapping (canonical = "Source column")
overrides or extends any preset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from segmint.config import SourceKind, SourceSettings
from segmint.errors import ConfigError, SourceFileError

# Canonical text columns per kind: (required, optional).
CANONICAL: dict[SourceKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "orders": (
        ("order_id", "ordered_at", "quantity", "unit_price"),
        (
            "line_no",
            "customer_id",
            "product_id",
            "product_name",
            "category",
            "currency",
            "is_cancellation",
            "is_voided",
            "country",
            "email",
            "line_revenue",
            "refunded_amount",
            "marketing_consent",
        ),
    ),
    "events": (
        ("occurred_at", "event_type"),
        ("event_id", "customer_id", "session_id", "product_id", "price", "category"),
    ),
    "customers": (
        ("customer_id",),
        (
            "email",
            "country",
            "first_seen_at",
            "marketing_consent",
            # Demographics and a phone number: optional, most exports have none (README, "Demographics").
            "birth_year",
            "age_band",
            "gender",
            "city",
            "region",
            "phone",
        ),
    ),
    # A review or survey answer. The customer is found by customer_id or else by e-mail against the
    # customers; rating is on the source's scale (stars 1-5 or NPS 0-10, [[sources]] scale).
    "feedback": (
        ("submitted_at", "rating"),
        ("feedback_id", "customer_id", "email", "order_id", "product_id", "text"),
    ),
}

Mapping_ = dict[str, str]  # canonical column -> SQL expression over raw_batch


def q(column: str) -> str:
    """Quote a raw column name for SQL."""
    return '"' + column.replace('"', '""') + '"'


def _first_present(columns: list[str], *candidates: str) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def _by_name(columns: list[str], kind: SourceKind) -> Mapping_:
    """Canonical columns present under their own name (case-insensitive)."""
    required, optional = CANONICAL[kind]
    mapping = {}
    for name in (*required, *optional):
        found = _first_present(columns, name)
        if found is not None:
            mapping[name] = q(found)
    return mapping


def _online_retail(columns: list[str], kind: SourceKind) -> Mapping_:
    # Both header variants: Online Retail (InvoiceNo/UnitPrice/CustomerID) and II (Invoice/Price/Customer ID).
    pick = {
        "order_id": ("InvoiceNo", "Invoice"),
        "product_id": ("StockCode",),
        "product_name": ("Description",),
        "quantity": ("Quantity",),
        "ordered_at": ("InvoiceDate",),
        "unit_price": ("UnitPrice", "Price"),
        "customer_id": ("CustomerID", "Customer ID"),
        "country": ("Country",),
    }
    mapping: Mapping_ = {}
    for canonical, candidates in pick.items():
        found = _first_present(columns, *candidates)
        if found is not None:
            mapping[canonical] = q(found)
    if "order_id" in mapping:
        mapping["is_cancellation"] = (
            f"case when upper({mapping['order_id']}) like 'C%' then 'true' else 'false' end"
        )
    mapping["currency"] = "'GBP'"
    return mapping


def _cdnow(columns: list[str], kind: SourceKind) -> Mapping_:
    # CDNOW_master: customer_id date number_of_cds dollar_value; CDNOW_sample has master and sample ids first.
    parts = f"regexp_split_to_array(trim({q(columns[0])}), '\\s+')"
    n = f"len({parts})"
    customer = f"{parts}[1]"
    date = f"case when {n} >= 5 then {parts}[3] else {parts}[2] end"
    cds = f"case when {n} >= 5 then {parts}[4] else {parts}[3] end"
    value = f"case when {n} >= 5 then {parts}[5] else {parts}[4] end"
    # One row is one order; CDNOW has no order id, so the customer, day and rank within the day make one.
    occurrence = f"row_number() over (partition by {customer}, {date} order by rowid)"
    return {
        "order_id": f"{customer} || '-' || {date} || '-' || {occurrence}",
        "customer_id": customer,
        "ordered_at": date,
        "quantity": cds,
        # The file records only the order's total; price per CD keeps quantity x price = total.
        "unit_price": f"cast(try_cast({value} as double) / nullif(try_cast({cds} as double), 0) as varchar)",
        "line_revenue": value,
        "product_id": "'cd'",
        "product_name": "'CDs'",
        "category": "'music'",
        "currency": "'USD'",
        "is_cancellation": "'false'",
        "__skip": f"{parts}[1] = 'customer_id'",  # the header line of CDNOW_master
    }


def _rees46(columns: list[str], kind: SourceKind) -> Mapping_:
    mapping = {
        "occurred_at": q("event_time"),
        "event_type": q("event_type"),
        "product_id": q("product_id"),
        "price": q("price"),
        "customer_id": q("user_id"),
        "session_id": q("user_session"),
    }
    if _first_present(columns, "category_code"):
        mapping["category"] = q("category_code")
    return mapping


def _shopify_orders(columns: list[str], kind: SourceKind) -> Mapping_:
    # Order fields are filled on an order's first line only; carry them to its other lines.
    def order_field(name: str) -> str:
        return f"first_value(nullif(trim({q(name)}), '') ignore nulls) over (partition by {q('Name')} order by rowid)"

    def optional(name: str) -> str | None:
        found = _first_present(columns, name)
        return order_field(found) if found else None

    mapping = {
        "order_id": q("Name"),
        "line_no": f"cast(row_number() over (partition by {q('Name')} order by rowid) as varchar)",
        "email": order_field("Email"),
        "customer_id": f"lower({order_field('Email')})",
        "ordered_at": order_field("Created at"),
        "product_name": q("Lineitem name"),
        "quantity": q("Lineitem quantity"),
        "unit_price": q("Lineitem price"),
        "product_id": f"coalesce(nullif(trim({q('Lineitem sku')}), ''), {q('Lineitem name')})",
    }
    # A cancelled Shopify order, or one whose payment was voided, is voided as a whole: it never happened
    # (worth nothing), rather than a cancellation record that takes its value off the customer's earlier
    # orders. Exports without "Cancelled at" still say so in "Financial Status".
    void_when = []
    if cancelled := _first_present(columns, "Cancelled at"):
        void_when.append(f"{order_field(cancelled)} is not null")
    if status := _first_present(columns, "Financial Status"):
        void_when.append(f"lower({order_field(status)}) = 'voided'")
    if void_when:
        voided = f"case when coalesce({' or '.join(void_when)}, false) then 'true' else 'false' end"
        mapping |= {"is_cancellation": voided, "is_voided": voided}
    for canonical, column in (
        ("currency", "Currency"),
        ("country", "Billing Country"),
        ("refunded_amount", "Refunded Amount"),
        ("marketing_consent", "Accepts Marketing"),
    ):
        expression = optional(column)
        if expression:
            mapping[canonical] = expression
    return mapping


def _pick(columns: list[str], pick: Mapping[str, tuple[str, ...]]) -> Mapping_:
    mapping: Mapping_ = {}
    for canonical, candidates in pick.items():
        found = _first_present(columns, *candidates)
        if found is not None:
            mapping[canonical] = q(found)
    return mapping


def _judgeme(columns: list[str], kind: SourceKind) -> Mapping_:
    # Judge.me's review CSV (export and import share it): title, body, rating, review_date, source,
    # curated, reviewer_name, reviewer_email, product_id, product_handle, reply, reply_date, picture_urls,
    # ip_address, location. It has no review id: load.py numbers identical rows, as for events.
    mapping = _pick(
        columns,
        {
            "submitted_at": ("review_date",),
            "rating": ("rating",),
            "email": ("reviewer_email",),
            "product_id": ("product_id", "product_handle"),
        },
    )
    title, body = _first_present(columns, "title"), _first_present(columns, "body")
    parts = [f"nullif(trim({q(c)}), '')" for c in (title, body) if c]
    if parts:
        mapping["text"] = f"concat_ws(' - ', {', '.join(parts)})" if len(parts) > 1 else parts[0]
    return mapping


def _nps_survey(columns: list[str], kind: SourceKind) -> Mapping_:
    # An NPS survey's response export: Delighted's CSV (Response ID, Score, Comment, Email, Created
    # plus person properties) and the like; Typeform names the time "Submit Date (UTC)" and the id "#".
    return _pick(
        columns,
        {
            "feedback_id": ("Response ID", "Response Id", "#", "Token"),
            "submitted_at": (
                "Created",
                "Created At",
                "Response Timestamp",
                "Submit Date (UTC)",
                "Submitted At",
            ),
            "rating": ("Score", "NPS", "NPS Score"),
            "email": ("Email", "E-mail", "Person Email"),
            "customer_id": ("Customer ID", "Customer Id", "Person Properties: customer_id"),
            "order_id": ("Order ID", "Order Id", "Person Properties: order_id"),
            "text": ("Comment", "Reason", "Feedback"),
        },
    )


def _canonical(columns: list[str], kind: SourceKind) -> Mapping_:
    return {}


PRESET_MAPPERS: dict[str, Callable[[list[str], SourceKind], Mapping_]] = {
    "canonical": _canonical,
    "online_retail": _online_retail,
    "cdnow": _cdnow,
    "rees46": _rees46,
    "shopify_orders": _shopify_orders,
    "judgeme": _judgeme,
    "nps_survey": _nps_survey,
}
PRESET_KINDS: dict[str, tuple[SourceKind, ...]] = {
    "canonical": ("orders", "events", "customers", "feedback"),
    "online_retail": ("orders",),
    "cdnow": ("orders",),
    "rees46": ("events",),
    "shopify_orders": ("orders",),
    "judgeme": ("feedback",),
    "nps_survey": ("feedback",),
}
PRESET_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    # Raw columns a preset needs, as alternatives (any one of each tuple).
    "online_retail": (
        ("InvoiceNo", "Invoice"),
        ("StockCode",),
        ("Quantity",),
        ("InvoiceDate",),
        ("UnitPrice", "Price"),
        ("CustomerID", "Customer ID"),
    ),
    "rees46": (
        ("event_time",),
        ("event_type",),
        ("product_id",),
        ("price",),
        ("user_id",),
        ("user_session",),
    ),
    "shopify_orders": (
        ("Name",),
        ("Created at",),
        ("Lineitem quantity",),
        ("Lineitem price",),
        ("Lineitem name",),
    ),
    "judgeme": (("review_date",), ("rating",), ("reviewer_email",)),
    "nps_survey": (
        ("Score", "NPS", "NPS Score"),
        ("Created", "Created At", "Response Timestamp", "Submit Date (UTC)", "Submitted At"),
    ),
}


def check_source(source: SourceSettings) -> None:
    """Fail with one sentence when a preset does not fit the source's kind."""
    if source.kind not in PRESET_KINDS[source.preset]:
        allowed = " or ".join(PRESET_KINDS[source.preset])
        raise ConfigError(
            f"Source '{source.name}': preset '{source.preset}' reads {allowed} files, not {source.kind}; "
            "fix its kind or preset."
        )


def canonical_mapping(source: SourceSettings, columns: list[str], path: Path) -> Mapping[str, str]:
    """Map the file's raw columns to canonical text columns, or reject the file naming what is missing."""
    check_source(source)
    for alternatives in PRESET_COLUMNS.get(source.preset, ()):
        if _first_present(columns, *alternatives) is None:
            raise SourceFileError(
                path,
                f"required column {' or '.join(repr(a) for a in alternatives)} is missing for preset "
                f"'{source.preset}' (found {', '.join(columns[:8])}); check the export or the delimiter",
            )
    mapping = _by_name(columns, source.kind)
    mapping.update(PRESET_MAPPERS[source.preset](columns, source.kind))
    for canonical, raw in source.columns.items():
        found = _first_present(columns, raw)
        if found is None:
            if any("\ufffd" in c for c in columns):
                # "Währung" in Windows-1252 read as UTF-8 is "W\ufffdhrung": the mapping cannot match it.
                from segmint.ingest.read import not_utf8_hint

                raise SourceFileError(
                    path,
                    f"column {raw!r} (mapped to {canonical}) is missing because {not_utf8_hint(repr(source.name))}",
                )
            raise SourceFileError(
                path,
                f"column {raw!r} (mapped to {canonical}) is missing; fix [sources.columns] or the export",
            )
        mapping[canonical] = q(found)
    required, _ = CANONICAL[source.kind]
    missing = [name for name in required if name not in mapping]
    if missing:
        raise SourceFileError(
            path,
            f"required column {', '.join(missing)} is missing (found {', '.join(columns[:8])}); "
            "check the delimiter, or map it under [sources.columns]",
        )
    return mapping


def fitting_presets(kind: SourceKind, columns: list[str]) -> list[str]:
    """The presets that can read a file of `kind` with these raw columns, the most specific first."""
    fits = [
        preset
        for preset, needs in PRESET_COLUMNS.items()
        if kind in PRESET_KINDS[preset] and all(_first_present(columns, *a) is not None for a in needs)
    ]
    if kind == "orders" and columns == ["line"]:
        fits.append("cdnow")  # a whitespace-separated text file: CDNOW's layout
    required, _ = CANONICAL[kind]
    if all(name in columns for name in required):
        fits.append("canonical")
    return fits
