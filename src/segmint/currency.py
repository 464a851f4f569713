"""The shop's base currency and the exchange rates that convert other currencies into it."""

from __future__ import annotations

import duckdb

from segmint.config import ShopSettings
from segmint.errors import ConfigError

# Symbols owners read at a glance; any other currency is shown by its ISO code.
CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "INR": "₹"}


def currency_prefix(currency: str | None) -> str:
    """What goes before an amount: its symbol (£), else its code and a space (CHF ), else nothing."""
    if not currency:
        return ""
    return CURRENCY_SYMBOLS.get(currency.upper()) or f"{currency.upper()} "


def base_currency(con: duckdb.DuckDBPyConnection) -> str | None:
    """The base currency every amount in the warehouse is stored in, or None before any is known."""
    row = con.execute(
        "select currency from base_currency order by decided_at desc, rowid desc limit 1"
    ).fetchone()
    return str(row[0]) if row else None


def record_base_currency(con: duckdb.DuckDBPyConnection, currency: str, decided_from: str) -> None:
    """Record the base currency in force from now on (nothing when it is already the one in force)."""
    if base_currency(con) != currency:
        con.execute(
            "insert into base_currency (currency, decided_from, decided_at) "
            "values (?, ?, current_localtimestamp())",
            [currency, decided_from],
        )


def sync_shop(con: duckdb.DuckDBPyConnection, shop: ShopSettings) -> None:
    """Record [shop] currency and load [shop] exchange_rates into the warehouse (rates replace the old)."""
    if shop.currency:
        record_base_currency(con, shop.currency, "config")
    path = shop.exchange_rates
    if path is None:
        return
    if not path.is_file():
        raise ConfigError(f"[shop] exchange_rates: {path} does not exist; fix the path or remove the key.")
    quoted = "'" + str(path).replace("'", "''") + "'"
    try:
        con.execute(
            f"create or replace temp table rates_read as select * from read_csv({quoted}, all_varchar = true, header = true)"
        )
        columns = {str(r[0]).lower(): str(r[0]) for r in con.execute("describe rates_read").fetchall()}
    except duckdb.Error as exc:
        raise ConfigError(
            f"[shop] exchange_rates: {path} cannot be read ({exc}); check it is a CSV."
        ) from None
    missing = [c for c in ("date", "currency", "rate") if c not in columns]
    if missing:
        raise ConfigError(
            f"[shop] exchange_rates: {path} lacks the column {', '.join(missing)}; "
            "it needs date, currency, rate (base units per 1 unit of currency)."
        )
    d, c, r = (f'"{columns[k]}"' for k in ("date", "currency", "rate"))
    bad = con.execute(
        f"select {d}, {c}, {r} from rates_read where try_cast({d} as date) is null "
        f"or nullif(trim({c}), '') is null or coalesce(try_cast({r} as decimal(18, 8)), 0) <= 0 limit 1"
    ).fetchone()
    if bad:
        raise ConfigError(
            f"[shop] exchange_rates: {path} has a row ({bad[0]}, {bad[1]}, {bad[2]}) that is not a date, "
            "a currency and a positive rate; fix that row."
        )
    con.execute("delete from exchange_rates")
    con.execute(
        "insert into exchange_rates (day, currency, rate, source_file, loaded_at) "
        f"select try_cast({d} as date), upper(trim({c})), "
        f"try_cast({r} as decimal(18, 8)), ?, current_localtimestamp() from rates_read",
        [str(path)],
    )
