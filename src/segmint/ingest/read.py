"""Read one source file, whatever its format, into a temp table of text columns plus its row number."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from segmint.errors import SourceFileError

RAW = "raw_batch"
ROW = "__row"


def sha256_of(path: Path) -> str:
    """The file's sha256, the key of the load ledger."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_format(path: Path) -> str:
    """csv, parquet, jsonl or whitespace (.txt), from the extension; .gz is looked through."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    formats = {
        ".csv": "csv",
        ".tsv": "csv",
        ".parquet": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
    }
    formats |= {".json": "jsonl", ".txt": "whitespace", ".dat": "whitespace"}
    if last not in formats:
        raise SourceFileError(
            path,
            f"unknown file type {last or '(none)'!r}; use .csv, .parquet, .jsonl or .txt (gzip ok)",
        )
    return formats[last]


def _scan_sql(path: Path, fmt: str, delimiter: str | None) -> str:
    quoted = "'" + str(path).replace("'", "''") + "'"
    if fmt == "csv":
        delim = f", delim = '{delimiter}'" if delimiter else ""
        return (
            f"read_csv({quoted}, all_varchar = true, header = true, auto_detect = true{delim}, "
            "null_padding = false, strict_mode = true)"
        )
    if fmt == "parquet":
        return f"(select columns(*)::varchar from read_parquet({quoted}))"
    if fmt == "jsonl":
        return f"(select columns(*)::varchar from read_json({quoted}, format = 'newline_delimited'))"
    # Whitespace-separated text (CDNOW): one text column, split by the preset.
    return f"read_csv({quoted}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\\x1f', quote = '')"


def _explain(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lowered = str(exc).lower()
    if "gzip" in lowered or "zlib" in lowered or "inflate" in lowered or "truncated" in lowered:
        return "the gzip stream is truncated or corrupt; re-export or re-download the file"
    if "no magic bytes" in lowered or "not a parquet file" in lowered:
        return "it is not a valid Parquet file; re-export it"
    return f"it cannot be parsed ({text}); check its format and delimiter"


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, *, delimiter: str | None = None) -> list[str]:
    """Load `path` into temp table raw_batch (all text, in file order); return its columns."""
    if not path.is_file():
        raise SourceFileError(path, "the file does not exist; check the source's path glob")
    if path.stat().st_size == 0:
        raise SourceFileError(path, "the file is empty; re-export it or remove it")
    fmt = file_format(path)
    try:
        con.execute(f"create or replace temp table {RAW} as select * from {_scan_sql(path, fmt, delimiter)}")
    except duckdb.Error as exc:
        raise SourceFileError(path, _explain(exc)) from None
    columns = [row[0] for row in con.execute(f"describe {RAW}").fetchall()]
    count = con.execute(f"select count(*) from {RAW}").fetchone()
    if not count or count[0] == 0:
        raise SourceFileError(path, "the file has a header but no rows; re-export it or remove it")
    return columns
