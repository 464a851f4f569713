"""Exports not in UTF-8 (Excel's Windows-1252): read with the source's encoding, or held with what to set."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from excel_exports import GERMAN_COLUMNS, german_rows, write_cp1252
from segmint.config import SourceSettings
from segmint.ingest.load import ingest_files, load_file

NOW = datetime(2024, 6, 1, 12, 0, 0)


def german_shop(**kw: object) -> SourceSettings:
    settings: dict[str, object] = {"columns": GERMAN_COLUMNS} | kw
    return SourceSettings(
        name="shop",
        kind="orders",
        path="*.csv",
        timestamp_format="%d.%m.%Y %H:%M",
        decimal_separator=",",
        **settings,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_cp1252_export_loads_with_its_encoding_and_keeps_the_hash_of_its_bytes(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path, gzipped: bool
) -> None:
    path = write_cp1252(tmp_path / "bestellungen.csv", german_rows())
    if gzipped:
        plain = path
        path = tmp_path / "bestellungen.csv.gz"
        path.write_bytes(gzip.compress(plain.read_bytes()))
        plain.unlink()
    result = load_file(duck, german_shop(encoding="cp1252"), path, "r1", now=NOW)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 24, 0), result
    names = {r[0] for r in duck.execute("select product_name from order_lines").fetchall()}
    assert {"Müsli", "Käse", "Grüner Tee", "Weißwein"} <= names
    assert duck.execute("select distinct currency from orders").fetchall() == [("EUR",)]
    assert duck.execute("select sha256 from loaded_files").fetchone() == (
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    # The same bytes again are recognised by that hash.
    again = load_file(duck, german_shop(encoding="cp1252"), path, "r2", now=NOW)
    assert again.status == "skipped"


def test_a_cp1252_export_read_as_utf8_says_to_set_the_encoding(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = german_rows(40)
    umlauts = [r for r in rows if not r.isascii()]
    path = write_cp1252(tmp_path / "bestellungen.csv", [r for r in rows if r.isascii()] + umlauts[:5])
    (result,) = ingest_files(duck, [(german_shop_without_currency(), [path])], "r1", now=NOW)
    assert result.status == "loaded" and result.rows_quarantined == 5, result
    hint = (
        'the file is not UTF-8: set encoding = "cp1252" (the usual encoding of Excel exports in Western '
        "Europe) on source 'shop', or re-save it as UTF-8"
    )
    assert any(hint in w for w in result.warnings), result.warnings
    # Its header's "Währung" cannot match the mapping either: the rejection says why.
    path.write_bytes(path.read_bytes().replace(b"B1000;", b"X1000;"))
    (rejected,) = ingest_files(duck, [(german_shop(columns=GERMAN_COLUMNS), [path])], "r2", now=NOW)
    assert rejected.status == "rejected"
    assert "column 'Währung' (mapped to currency) is missing because " + hint in rejected.message


def german_shop_without_currency() -> SourceSettings:
    return german_shop(columns={k: v for k, v in GERMAN_COLUMNS.items() if k != "currency"})


def test_a_file_mostly_not_utf8_is_rejected_with_the_hint(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [r for r in german_rows() if not r.isascii()]
    path = write_cp1252(tmp_path / "bestellungen.csv", rows)
    (result,) = ingest_files(duck, [(german_shop_without_currency(), [path])], "r1", now=NOW)
    assert result.status == "rejected"
    assert 'set encoding = "cp1252"' in result.message and "source 'shop'" in result.message


def test_bytes_the_encoding_cannot_read_reject_the_file_in_one_sentence(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "bestellungen.csv"
    path.write_bytes(b"Bestellnummer;Datum\r\nB1;01.03.2024 10:00\x81\r\n")  # 0x81 is not in cp1252
    (result,) = ingest_files(duck, [(german_shop(encoding="cp1252"), [path])], "r1", now=NOW)
    assert result.status == "rejected"
    assert "is not valid cp1252 (byte 0x81" in result.message
    assert duck.execute("select count(*) from loaded_files").fetchone() == (0,)


def test_the_encoding_must_be_a_text_codec() -> None:
    assert german_shop(encoding="CP1252").encoding == "CP1252"
    for bad in ("latin-9x", "rot13"):
        with pytest.raises(ValueError, match="is not a text encoding Python knows"):
            german_shop(encoding=bad)


def test_product_names_stand_in_for_product_ids_in_product_features(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from datetime import date

    from segmint.features import build_features

    path = write_cp1252(tmp_path / "bestellungen.csv", german_rows())
    result = load_file(duck, german_shop(encoding="cp1252"), path, "r1", now=NOW)
    assert result.rows_loaded == 24
    assert duck.execute("select count(*) from order_lines where product_id is null").fetchone() == (0,)
    assert duck.execute(
        "select count(*) from order_lines where product_id is distinct from product_name"
    ).fetchone() == (0,)
    build_features(duck, date(2024, 3, 31))
    row = duck.execute(
        "select min(distinct_products), max(distinct_products) from customer_features "
        "where as_of = date '2024-03-31' and not is_prospect"
    ).fetchone()
    assert row is not None and row[0] > 0 and row[1] >= 2
    # The same orders in another file (one more line ending) are repeats, not changes.
    again = write_cp1252(tmp_path / "bestellungen-2.csv", [*german_rows(), ""])
    repeat = load_file(duck, german_shop(encoding="cp1252"), again, "r2", now=NOW)
    assert (repeat.status, repeat.rows_loaded, repeat.rows_duplicate, repeat.rows_updated) == (
        "loaded",
        0,
        24,
        0,
    ), repeat
