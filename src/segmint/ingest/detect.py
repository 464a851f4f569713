"""Guesses for an export no preset reads: which header holds which canonical column (by synonym), how its
dates are written and which decimal separator its numbers use. `segmint init` writes them into segmint.toml
as a [sources.columns] mapping, timestamp_format and decimal_separator, where the owner can check them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segmint.config import SourceKind
from segmint.ingest.load import FAMILIES, family_formats
from segmint.ingest.presets import CANONICAL
from segmint.ingest.read import decodes

# Header spellings per canonical column, compared lowercased with everything but letters and digits
# removed ("Order ID", "order_id" and "OrderID" are one spelling), the most telling first. A header is
# given to one column only, the first that names it in canonical order (required columns first).
_CUSTOMER = (
    "customerid",
    "customerno",
    "customernumber",
    "customercode",
    "clientid",
    "clientnumber",
    "userid",
    "buyerid",
    "accountid",
    "memberid",
    "shopperid",
    "visitorid",
    # German, French, Spanish
    "kundennummer",
    "kundennr",
    "kundenid",
    "numeroclient",
    "idclient",
    "idcliente",
    "numerocliente",
    "customer",
    "client",
    "user",
    "buyer",
    "kunde",
    "cliente",
)
_EMAIL = (
    "email",
    "emailaddress",
    "customeremail",
    "buyeremail",
    "useremail",
    "mail",
    "contactemail",
    "emailadresse",
    "courriel",
    "correo",
    "correoelectronico",
)
# Spellings of a product's code; "Product", "Item" or "Artikel" alone name it in orders (see _PRODUCT_NAME).
_PRODUCT_ID = (
    "productid",
    "sku",
    "stockcode",
    "productcode",
    "productsku",
    "itemid",
    "itemcode",
    "itemsku",
    "articleid",
    "articlenumber",
    "articleno",
    "variantid",
    "lineitemsku",
    "ean",
    "artikelnummer",
    "artikelnr",
    "artikelid",
    "produktnummer",
    "produktid",
    "referenz",
    "reference",
    "refproduit",
    "codeproduit",
    "codigo",
    "codigoproducto",
    "referencia",
)
# Events have no product name: there a bare "Product" is the product's id.
_PRODUCT = (*_PRODUCT_ID, "product", "item", "article")
_PRODUCT_NAME = (
    "productname",
    "itemname",
    "articlename",
    "producttitle",
    "lineitemname",
    "itemdescription",
    "productdescription",
    "artikelname",
    "artikelbezeichnung",
    "produktname",
    "produktbezeichnung",
    "bezeichnung",
    "nomproduit",
    "nomdeproduit",
    "libelle",
    "designation",
    "nombreproducto",
    "nombredelproducto",
    "product",
    "item",
    "article",
    "artikel",
    "produkt",
    "produit",
    "producto",
    "articulo",
    "description",
    "beschreibung",
    "descripcion",
    "title",
)
_CATEGORY = (
    "category",
    "productcategory",
    "categoryname",
    "categorycode",
    "department",
    "producttype",
    "kategorie",
    "warengruppe",
    "categorie",
    "categoria",
)
_COUNTRY = (
    "country",
    "billingcountry",
    "shippingcountry",
    "countrycode",
    "customercountry",
    "land",
    "pays",
    "pais",
)
_CONSENT = ("marketingconsent", "acceptsmarketing", "emailoptin", "optin", "newsletter", "subscribed")

SYNONYMS: dict[SourceKind, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": (
            "orderid",
            "ordernumber",
            "orderno",
            "ordernr",
            "ordercode",
            "orderref",
            "orderreference",
            "invoiceno",
            "invoicenumber",
            "invoiceid",
            "invoice",
            "transactionid",
            "receiptno",
            "receiptnumber",
            "bestellnummer",
            "bestellnr",
            "auftragsnummer",
            "auftragsnr",
            "rechnungsnummer",
            "numerocommande",
            "numcommande",
            "nocommande",
            "numeropedido",
            "numpedido",
            "order",
            "bestellung",
            "auftrag",
            "commande",
            "pedido",
        ),
        "ordered_at": (
            "orderedat",
            "orderdate",
            "orderdatetime",
            "ordertime",
            "orderplacedat",
            "placedat",
            "createdat",
            "created",
            "creationdate",
            "invoicedate",
            "purchasedate",
            "purchasedat",
            "transactiondate",
            "saledate",
            "bestelldatum",
            "auftragsdatum",
            "rechnungsdatum",
            "datecommande",
            "fechapedido",
            "fechadepedido",
            "datetime",
            "timestamp",
            "date",
            "time",
            "datum",
            "fecha",
        ),
        "quantity": (
            "quantity",
            "qty",
            "quantityordered",
            "orderedquantity",
            "itemquantity",
            "lineitemquantity",
            "units",
            "pieces",
            "numberofitems",
            "menge",
            "anzahl",
            "stuck",
            "stuckzahl",
            "quantite",
            "cantidad",
            "count",
        ),
        "unit_price": (
            "unitprice",
            "priceperunit",
            "priceeach",
            "itemprice",
            "lineitemprice",
            "saleprice",
            "sellingprice",
            "unitcost",
            "itemcost",  # WooCommerce's order export: what the customer paid per item
            "einzelpreis",
            "stuckpreis",
            "prixunitaire",
            "preciounitario",
            "price",
            "preis",
            "prix",
            "precio",
        ),
        "customer_id": _CUSTOMER,
        "email": _EMAIL,
        "product_id": _PRODUCT_ID,
        "product_name": _PRODUCT_NAME,
        "category": _CATEGORY,
        "currency": ("currency", "currencycode", "curr", "cur", "wahrung", "devise", "moneda", "divisa"),
        "country": _COUNTRY,
        "line_no": ("lineno", "linenumber", "lineid", "orderline", "position"),
        "line_revenue": ("linerevenue", "linetotal", "lineamount", "lineitemtotal", "linesubtotal"),
        "refunded_amount": ("refundedamount", "refundamount", "refunded", "refund"),
        "marketing_consent": _CONSENT,
        "is_cancellation": ("iscancellation", "iscancelled", "iscanceled", "cancelled", "canceled"),
        "is_voided": ("isvoided", "voided"),
    },
    "events": {
        "occurred_at": (
            "occurredat",
            "eventtime",
            "eventtimestamp",
            "eventdate",
            "eventdatetime",
            "timestamp",
            "datetime",
            "createdat",
            "time",
            "date",
            "ts",
        ),
        "event_type": ("eventtype", "eventname", "event", "action", "type"),
        "event_id": ("eventid", "hitid"),
        "customer_id": _CUSTOMER,
        "session_id": ("sessionid", "usersession", "session", "visitid", "visit"),
        "product_id": _PRODUCT,
        "price": ("price", "unitprice", "itemprice", "productprice", "value"),
        "category": _CATEGORY,
    },
    "customers": {
        "customer_id": _CUSTOMER,
        "email": _EMAIL,
        "country": _COUNTRY,
        "first_seen_at": (
            "firstseenat",
            "firstseen",
            "signupdate",
            "signedupat",
            "registeredat",
            "registrationdate",
            "createdat",
            "created",
            "joined",
            "since",
        ),
        "marketing_consent": _CONSENT,
        "birth_year": (
            "birthyear",
            "yearofbirth",
            "yob",
            "birthdate",
            "dateofbirth",
            "dob",
            "birthday",
            "geburtsjahr",
            "geburtsdatum",
            "anneedenaissance",
            "datedenaissance",
            "fechadenacimiento",
        ),
        "age_band": ("ageband", "agegroup", "agerange", "agebracket", "altersgruppe"),
        "gender": ("gender", "sex", "geschlecht", "genre", "sexe", "genero", "sexo"),
        "city": (
            "city",
            "town",
            "billingcity",
            "shippingcity",
            "defaultaddresscity",
            "stadt",
            "ort",
            "ville",
            "ciudad",
        ),
        "region": (
            "region",
            "state",
            "province",
            "county",
            "provincecode",
            "defaultaddressprovincecode",
            "bundesland",
            "provincia",
        ),
        "phone": ("phone", "phonenumber", "mobile", "mobilephone", "telephone", "tel", "telefon", "telefono"),
    },
    "feedback": {
        "feedback_id": ("feedbackid", "reviewid", "responseid", "surveyresponseid"),
        "submitted_at": ("submittedat", "reviewdate", "createdat", "created", "date", "submitdateutc"),
        "rating": ("rating", "stars", "score", "npsscore", "nps"),
        "customer_id": _CUSTOMER,
        "email": (*_EMAIL, "revieweremail"),
        "order_id": ("orderid", "ordernumber", "order"),
        "product_id": _PRODUCT,
        "text": ("text", "body", "comment", "review", "feedback"),
    },
}

# Columns whose values are numbers, per kind: their separators are guessed from the sample.
NUMBER_COLUMNS: dict[SourceKind, tuple[str, ...]] = {
    "orders": ("quantity", "unit_price", "line_revenue", "refunded_amount"),
    "events": ("price",),
    "customers": (),
    "feedback": (),
}
# The column that dates a row of each kind.
TIME_COLUMNS: dict[SourceKind, str] = {
    "orders": "ordered_at",
    "events": "occurred_at",
    "customers": "first_seen_at",
    "feedback": "submitted_at",
}


def detect_encoding(path: Path) -> str:
    """ "utf-8" when the file's opening is valid UTF-8, else "cp1252" (what Excel writes in Western
    Europe; it reads nearly every byte, and umlauts and accents come out right)."""
    if decodes(path, "utf-8") is None:
        return "utf-8"
    return "cp1252" if decodes(path, "cp1252") is None else "latin-1"


def normalised(header: str) -> str:
    """A header as synonyms are written: lowercased, accents dropped ("Währung" is "wahrung", "Stück"
    is "stuck"), only letters and digits."""
    folded = unicodedata.normalize("NFKD", header.casefold())
    return re.sub(r"[^0-9a-z]", "", folded)


def detect_columns(kind: SourceKind, headers: Iterable[str]) -> dict[str, str]:
    """canonical column -> header, for the canonical columns a header names (by synonym)."""
    by_spelling: dict[str, str] = {}
    for name in headers:
        by_spelling.setdefault(normalised(name), name)
    found: dict[str, str] = {}
    used: set[str] = set()
    # A header spelling a canonical name ("Order ID", "unit_price") is that column, whatever the synonyms.
    for canonical in SYNONYMS[kind]:
        exact = by_spelling.get(normalised(canonical))
        if exact is not None and exact not in used:
            found[canonical] = exact
            used.add(exact)
    for canonical, spellings in SYNONYMS[kind].items():
        if canonical in found:
            continue
        for spelling in spellings:
            header = by_spelling.get(spelling)
            if header is not None and header not in used:
                found[canonical] = header
                used.add(header)
                break
    if kind == "orders" and "customer_id" not in found and "email" in found:
        # No customer number: the address is the customer (as the Shopify preset does).
        found["customer_id"] = found["email"]
    return found


# Headers that name the product without saying whether they hold its code or its name.
_BARE_PRODUCT = frozenset(
    ("product", "item", "article", "artikel", "produkt", "produit", "producto", "articulo")
)
_CODE = re.compile(r"[A-Za-z0-9._/#-]*[0-9][A-Za-z0-9._/#-]*")


def settle_product(columns: dict[str, str], sample: Mapping[str, list[str]], given: set[str]) -> None:
    """A bare "Product" or "Item" header found as product_name holds codes ("TEA-1", "85123A") when
    every sampled value is one word with a digit: then it is the product_id."""
    header = columns.get("product_name")
    if header is None or "product_name" in given or "product_id" in columns:
        return
    values = sample.get(header, [])
    if normalised(header) in _BARE_PRODUCT and values and all(_CODE.fullmatch(v) for v in values):
        columns["product_id"] = columns.pop("product_name")


def missing_required(kind: SourceKind, mapping: Mapping[str, str]) -> list[str]:
    """The required canonical columns of `kind` that the mapping leaves out."""
    required, _ = CANONICAL[kind]
    return [name for name in required if name not in mapping]


@dataclass(frozen=True)
class DateLayout:
    """How a column's dates are written: `fmt` to write as timestamp_format (None: the loader reads them
    as they are), or, when day-first and month-first both fit, the two formats to choose from."""

    fmt: str | None = None
    day_first: str | None = None
    month_first: str | None = None
    example: str | None = None

    @property
    def ambiguous(self) -> bool:
        """Day-first and month-first both read every sampled value."""
        return self.day_first is not None and self.month_first is not None


def _parses(con: duckdb.DuckDBPyConnection, values: list[str], sql: str) -> int:
    row = con.execute(
        f"select count({sql.format(x='x')}) from (select unnest($values) as x)", {"values": values}
    ).fetchone()
    return int(row[0]) if row else 0


def _single_format(con: duckdb.DuckDBPyConnection, values: list[str], day_first: bool) -> str | None:
    # The one format that reads every value, so every later file is read the same way.
    for fmt in family_formats(day_first):
        if _parses(con, values, f"try_strptime({{x}}, '{fmt}')") == len(values):
            return fmt
    return None


def date_layout(values: Iterable[str]) -> DateLayout:
    """How these sampled dates are written, tried the way the loader tries them (load.FAMILIES)."""
    distinct = sorted(set(values))
    if not distinct:
        return DateLayout()
    with duckdb.connect() as con:
        parsed = {name: _parses(con, distinct, sql) for name, sql in FAMILIES.items()}
        best = max(parsed.values())
        if best == 0 or parsed["iso"] == best or parsed["compact"] == best:
            return DateLayout()  # ISO (any zone) or compact: read as they are; unreadable: the load says so
        day = _single_format(con, distinct, True) if parsed["day_first"] == best else None
        month = _single_format(con, distinct, False) if parsed["month_first"] == best else None
        if parsed["day_first"] == parsed["month_first"] == best:
            example = next((v for v in distinct if _parses(con, [v], FAMILIES["day_first"])), distinct[0])
            return DateLayout(day_first=day or "%d/%m/%Y", month_first=month or "%m/%d/%Y", example=example)
        # The example shown is one that only the chosen order reads (a day above 12).
        chosen, other = ("day_first", "month_first") if day else ("month_first", "day_first")
        example = next(
            (
                v
                for v in distinct
                if _parses(con, [v], FAMILIES[chosen]) and not _parses(con, [v], FAMILIES[other])
            ),
            distinct[0],
        )
    return DateLayout(fmt=day or month, example=example)


_COMMA_DECIMAL = re.compile(r"[+-]?(\d+,\d{1,2}|\d+,\d{4,}|\d{1,3}(\.\d{3})+,\d+|,\d+)")
_DOT_DECIMAL = re.compile(r"[+-]?(\d+\.\d{1,2}|\d+\.\d{4,}|\d{1,3}(,\d{3})+\.\d+|\.\d+)")
_DOT_THOUSANDS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


@dataclass(frozen=True)
class Separators:
    """The decimal and thousands separators the sampled numbers use (None: no thousands separator)."""

    decimal: str = "."
    thousands: str | None = None
    example: str | None = None


def separators(values: Iterable[str]) -> Separators:
    """ "12,50" and "1.234,56" mean a decimal comma; "1,234.56" a thousands comma; else plain numbers."""
    sample = [v.strip().replace("\u00a0", "") for v in values if v and v.strip()]
    comma = next((v for v in sample if _COMMA_DECIMAL.fullmatch(v)), None)
    dot = next((v for v in sample if _DOT_DECIMAL.fullmatch(v)), None)
    if comma is not None and dot is None:
        dotted = any(_DOT_THOUSANDS.fullmatch(v) and "." in v for v in sample)
        return Separators(",", "." if dotted else None, comma)
    if comma is None:
        grouped = next((v for v in sample if _COMMA_THOUSANDS.fullmatch(v) and "," in v), None)
        if grouped is not None:
            return Separators(".", ",", grouped)
    return Separators()
