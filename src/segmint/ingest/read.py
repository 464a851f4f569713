"""Read one source file, whatever its format, into a temp table of text columns plus its row number."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from segmint.errors import SourceFileError

RAW = "raw_batch"
ROW = "__row"
# A CSV line that does not parse (more or fewer fields than the header, a stray quote) keeps its place in
# raw_batch as a row whose only values are these two: its text and why it is malformed.
LINE = "__line"
MALFORMED = "__malformed"
_REJECTS = "rejects_table = 'batch_rejects', rejects_scan = 'batch_reject_scans'"
# DuckDB's reject kinds in words; anything else keeps DuckDB's own message.
_REJECT_WORDS = {
    "TOO MANY COLUMNS": "more fields than the header",
    "MISSING COLUMNS": "fewer fields than the header",
    "UNQUOTED VALUE": "a quote inside an unquoted field",
    "INVALID ENCODING": "not valid UTF-8",
    "LINE SIZE OVER MAXIMUM": "the line is too long",
}


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
            f"null_padding = false, strict_mode = true, store_rejects = true, {_REJECTS})"
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
    if fmt == "csv":
        _place_malformed(con, path)
    columns = [row[0] for row in con.execute(f"describe {RAW}").fetchall()]
    count = con.execute(f"select count(*) from {RAW}").fetchone()
    if not count or count[0] == 0:
        raise SourceFileError(path, "the file has a header but no rows; re-export it or remove it")
    return columns


def _place_malformed(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Put the CSV lines DuckDB could not parse back into raw_batch at their place in the file.

    DuckDB numbers rejected lines in records (a quoted field spanning lines counts once), so a rejected
    line's data row is line - 1; the parsed rows fill the other places in order. A file with as many bad
    lines as good ones is not a CSV of that shape: rejected whole.
    """
    words = " ".join(f"when '{kind}' then '{text}'" for kind, text in _REJECT_WORDS.items())
    con.execute(
        f"""
        create or replace temp table malformed_rows as
        select line - 1 as row_number, any_value(csv_line) as csv_line,
            string_agg(distinct case error_type::varchar {words} else error_message end, '; ') as reason
        from batch_rejects where scan_id = (select max(scan_id) from batch_reject_scans)
        group by line
        """
    )
    row = con.execute(
        f"select (select count(*) from malformed_rows), (select count(*) from {RAW}), "
        "(select arg_min(row_number || ': ' || reason, row_number) from malformed_rows)"
    ).fetchone()
    bad, good, first = (int(row[0]), int(row[1]), row[2]) if row else (0, 0, None)
    if not bad:
        return
    if bad >= good:
        raise SourceFileError(
            path,
            f"{bad} of {bad + good} rows are malformed (row {first}); check its delimiter and quoting, "
            "or re-export it",
        )
    # Parsed row k (in file order) sits at k plus the number of bad rows before it: gap = the number of
    # parsed rows before the j-th bad row, and parsed rows past a gap shift by that bad row's j.
    con.execute(
        f"""
        create or replace temp table {RAW} as
        with parsed as (select *, row_number() over (order by rowid) as k from {RAW}),
        bad as (select row_number, row_number() over (order by row_number) as j, csv_line, reason from malformed_rows),
        gaps as (select row_number - j as gap, max(j) as shift from bad group by all),
        placed as (
            select p.* exclude (k), p.k + coalesce(g.shift, 0) as position
            from parsed p asof left join gaps g on p.k > g.gap
            union all by name
            select row_number as position, csv_line as {LINE}, reason as {MALFORMED} from bad
        )
        select * exclude (position) from placed order by position
        """
    )


def read_columns(path: Path, *, delimiter: str | None = None) -> list[str]:
    """The columns of `path` from its header (or schema), without loading its rows: for checks and init."""
    fmt = file_format(path)
    if fmt == "whitespace":
        return ["line"]
    quoted = "'" + str(path).replace("'", "''") + "'"
    delim = f", delim = '{delimiter}'" if delimiter else ""
    scans = {
        "csv": f"read_csv({quoted}, all_varchar = true, header = true, auto_detect = true{delim})",
        "parquet": f"read_parquet({quoted})",
        "jsonl": f"read_json({quoted}, format = 'newline_delimited')",
    }
    try:
        with duckdb.connect() as con:
            return [str(row[0]) for row in con.execute(f"describe select * from {scans[fmt]}").fetchall()]
    except duckdb.Error as exc:
        raise SourceFileError(path, _explain(exc)) from None
