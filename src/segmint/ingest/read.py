"""Read one source file, whatever its format, into a temp table of text columns plus its row number.

A file is read once: its bytes are copied to a scratch folder while they are hashed (the ledger's sha256 is
the hash of exactly the bytes loaded), and the copy is what DuckDB reads. A CSV file is read as text with
its delimiter and header decided first, from its opening lines, and JSON lines as text lines taken field by
field; no value's type is guessed, so one odd value can only ever be a bad row, never a rejected file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segmint.errors import SourceFileError

RAW = "raw_batch"
ROW = "__row"
# A CSV line that does not parse (more or fewer fields than the header, a stray quote) keeps its place in
# raw_batch as a row whose only values are these two: its text and why it is malformed.
LINE = "__line"
MALFORMED = "__malformed"
# The longest CSV line read as a row; a longer one is a malformed line (DuckDB's own limit is 2 MB).
DEFAULT_MAX_LINE_BYTES = 10_000_000
_REJECTS = "rejects_table = 'batch_rejects', rejects_scan = 'batch_reject_scans'"
# DuckDB's reject kinds in words; anything else keeps DuckDB's own message.
_REJECT_WORDS = {
    "TOO MANY COLUMNS": "more fields than the header",
    "MISSING COLUMNS": "fewer fields than the header",
    "UNQUOTED VALUE": "a quote inside an unquoted field",
    "INVALID ENCODING": "not valid UTF-8",
}
NOT_UTF8 = _REJECT_WORDS["INVALID ENCODING"]
# Delimiters tried when a source names none, in order of preference on a tie.
_DELIMITERS = (",", ";", "\t", "|")
# The opening of a file that decides its delimiter and header.
_SAMPLE_BYTES = 1 << 20
_SAMPLE_RECORDS = 50
# Python's csv module refuses fields over 128 KB by default; the sample may hold longer ones.
csv.field_size_limit(max(csv.field_size_limit(), _SAMPLE_BYTES))


class FileNotReadyError(Exception):
    """The file vanished or changed while it was read: skipped this run, loaded by a later one."""


def sha256_of(path: Path) -> str:
    """The file's sha256, the key of the load ledger."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """A source file as read once: the copy that is loaded, the sha256 of its bytes, the file's stat."""

    source: Path
    copy: Path
    sha256: str
    size: int
    mtime_ns: int


def is_utf8(encoding: str) -> bool:
    """Whether files in this encoding are read as they are (DuckDB reads UTF-8 only)."""
    return codecs.lookup(encoding).name == "utf-8"


def not_utf8_hint(source: str) -> str:
    """What to do about a file that is not UTF-8, for source `source`."""
    return (
        'the file is not UTF-8: set encoding = "cp1252" (the usual encoding of Excel exports in Western '
        f"Europe) on source {source}, or re-save it as UTF-8"
    )


class _Transcoder:
    """Writes the blocks of a file in `encoding` as UTF-8 (gzip looked through: the copy is plain text)."""

    def __init__(self, out: io.BufferedWriter, encoding: str, path: Path, gzipped: bool) -> None:
        self.out, self.encoding, self.path, self.offset = out, encoding, path, 0
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")
        self.inflate = zlib.decompressobj(wbits=31) if gzipped else None

    def write(self, block: bytes, final: bool = False) -> None:
        if self.inflate is not None:
            try:
                block = self.inflate.decompress(block) + (self.inflate.flush() if final else b"")
                while final and self.inflate.unused_data:  # concatenated gzip members
                    rest, self.inflate = self.inflate.unused_data, zlib.decompressobj(wbits=31)
                    block += self.inflate.decompress(rest) + self.inflate.flush()
            except zlib.error:
                raise SourceFileError(
                    self.path, "the gzip stream is truncated or corrupt; re-export or re-download the file"
                ) from None
        try:
            text = self.decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            raise SourceFileError(
                self.path,
                f"it is not valid {self.encoding} (byte 0x{exc.object[exc.start]:02x} at byte "
                f"{self.offset + exc.start:,}); set the source's encoding to the one the file is written in, "
                "or re-save it as UTF-8",
            ) from None
        self.offset += len(block)
        self.out.write(text.encode("utf-8"))


def snapshot(
    path: Path, folder: Path, expect: tuple[int, int] | None = None, *, encoding: str = "utf-8"
) -> Snapshot:
    """Copy `path` into `folder` while hashing it; FileNotReadyError if it vanishes or changes meanwhile.

    `expect` is the (size, mtime_ns) the file had when it was found settled: a file that differs was
    written to since. A text file in another `encoding` than UTF-8 is copied as UTF-8 (uncompressed), so
    that DuckDB can read it; the sha256 is still that of the file's own bytes.
    """
    vanished = f"{path}: the file vanished before it was read; it is skipped this run"
    changing = (
        f"{path}: the file changed while it was being read (still being written?); it is skipped this "
        "run and loaded by the next once it is complete"
    )
    gzipped = path.name.lower().endswith(".gz")
    transcode = not is_utf8(encoding) and file_format(path) != "parquet"
    copy = folder / (path.name[:-3] if transcode and gzipped else path.name)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            before = os.fstat(handle.fileno())
            if expect is not None and (before.st_size, before.st_mtime_ns) != expect:
                raise FileNotReadyError(changing)
            size = 0
            with copy.open("wb") as out:
                writer = _Transcoder(out, encoding, path, gzipped) if transcode else None
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
                    if writer is None:
                        out.write(block)
                    else:
                        writer.write(block)
                    size += len(block)
                if writer is not None:
                    writer.write(b"", final=True)
            # The open handle's stat: still the file read even if it was renamed or deleted meanwhile.
            after = os.fstat(handle.fileno())
    except FileNotFoundError:
        raise FileNotReadyError(vanished) from None
    except IsADirectoryError:
        raise SourceFileError(path, "it is a folder, not a file; fix the source's path glob") from None
    except PermissionError:
        raise SourceFileError(path, "it cannot be opened (permission denied); let segmint read it") from None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != after.st_size:
        raise FileNotReadyError(changing)
    return Snapshot(path, copy, digest.hexdigest(), size, after.st_mtime_ns)


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


@dataclass(frozen=True)
class Dialect:
    """How a CSV file is split: its delimiter and its header's column names (every column is text)."""

    delimiter: str
    columns: tuple[str, ...]


def sample_bytes(data: Path, path: Path) -> tuple[bytes, bool]:
    """The opening bytes of the file (gzip looked through), and whether the file goes on past them."""
    try:
        if data.name.lower().endswith(".gz"):
            with gzip.open(data, "rb") as handle:
                raw = handle.read(_SAMPLE_BYTES)
        else:
            with data.open("rb") as handle:
                raw = handle.read(_SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error):
        raise SourceFileError(
            path, "the gzip stream is truncated or corrupt; re-export or re-download the file"
        ) from None
    return raw, len(raw) == _SAMPLE_BYTES


def _sample(data: Path, path: Path, encoding: str = "utf-8") -> tuple[str, bool]:
    """The opening of the file as text (gzip looked through), and whether the file goes on past it."""
    raw, cut = sample_bytes(data, path)
    return raw.decode(encoding, errors="replace").removeprefix("\ufeff"), cut


def decodes(path: Path, encoding: str) -> tuple[int, int] | None:
    """None when the file's opening decodes in `encoding`, else the (line, byte) of its first bad byte."""
    if file_format(path) == "parquet":
        return None
    raw, cut = sample_bytes(path, path)
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(raw, not cut)
    except UnicodeDecodeError as exc:
        return raw.count(b"\n", 0, exc.start) + 1, exc.start
    return None


def _records(text: str, delimiter: str, cut: bool) -> list[list[str]]:
    """The sample's first records (when the sample is cut, not its last: it may be incomplete)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
            if len(records) > _SAMPLE_RECORDS:
                break
    except csv.Error:
        pass  # a NUL byte or the like: the records before it decide
    if cut and 1 < len(records) <= _SAMPLE_RECORDS:
        records = records[:-1]
    return [r for r in records if r]


def _column_names(header: list[str]) -> tuple[str, ...]:
    """The header's fields as column names: trimmed, unnamed ones numbered, repeated ones suffixed."""
    names: list[str] = []
    for i, field in enumerate(header):
        name = field.strip() or f"column{i}"
        base, n = name, 0
        while name in names or name in (ROW, LINE, MALFORMED):
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return tuple(names)


def decide_dialect(data: Path, path: Path, delimiter: str | None, encoding: str = "utf-8") -> Dialect:
    """The delimiter (the source's, else the one that splits the opening lines most evenly) and header."""
    text, cut = _sample(data, path, encoding)
    if not text.strip():
        raise SourceFileError(path, "the file is empty; re-export it or remove it")
    if delimiter is None:
        candidates = (
            ("\t", *_DELIMITERS) if path.name.lower().removesuffix(".gz").endswith(".tsv") else _DELIMITERS
        )

        def score(candidate: str) -> tuple[bool, float, int]:
            counts = [len(r) for r in _records(text, candidate, cut)]
            if not counts:
                return (False, 0.0, 0)
            even = sum(c == counts[0] for c in counts) / len(counts)
            return (counts[0] > 1, even, counts[0])

        delimiter = max(candidates, key=score)  # max keeps the first of equal scores
    records = _records(text, delimiter, cut)
    if not records:
        raise SourceFileError(path, "the file has no header line; re-export it with a header")
    return Dialect(delimiter, _column_names(records[0]))


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_sql(data: Path, dialect: Dialect, max_line_bytes: int) -> str:
    columns = "{" + ", ".join(f"{_sql_text(c)}: 'VARCHAR'" for c in dialect.columns) + "}"
    # DuckDB wants its read buffer larger than the longest line it accepts.
    buffer = max(32 << 20, 2 * max_line_bytes)
    return (
        f"read_csv({_sql_text(str(data))}, columns = {columns}, header = true, auto_detect = false, "
        f"delim = {_sql_text(dialect.delimiter)}, quote = '\"', escape = '\"', null_padding = false, "
        f"strict_mode = true, max_line_size = {max_line_bytes}, buffer_size = {buffer}, "
        f"store_rejects = true, {_REJECTS})"
    )


def _lines_sql(data: Path, max_line_bytes: int) -> str:
    """The file's lines as one text column (a line with a \\x1f byte or too long is a reject)."""
    buffer = max(32 << 20, 2 * max_line_bytes)
    return (
        f"read_csv({_sql_text(str(data))}, columns = {{'line': 'VARCHAR'}}, header = false, auto_detect = false, "
        f"delim = '\\x1f', quote = '', escape = '', strict_mode = true, null_padding = false, "
        f"max_line_size = {max_line_bytes}, buffer_size = {buffer}, store_rejects = true, {_REJECTS})"
    )


def _scan_sql(data: Path, fmt: str) -> str:
    quoted = _sql_text(str(data))
    if fmt == "parquet":
        return f"(select columns(*)::varchar from read_parquet({quoted}))"
    # Whitespace-separated text (CDNOW): one text column, split by the preset.
    return f"read_csv({quoted}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\\x1f', quote = '')"


def _json_path(key: str) -> str:
    """The JSON path of a top-level field, whatever its name."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_jsonl(con: duckdb.DuckDBPyConnection, data: Path, path: Path, max_line_bytes: int) -> None:
    """raw_batch from JSON lines, each field as its text: a line that is no JSON object is a malformed row.

    DuckDB's read_json guesses each field's type from a sample, and a field of mixed types comes out as
    JSON text ('"O1"' with its quotes); reading every line as text and taking fields by name does not.
    """
    con.execute(
        "create or replace temp table jsonl_lines as select line, "
        "case when json_valid(line) then json_type(line::json) = 'OBJECT' else false end as ok "
        f"from {_lines_sql(data, max_line_bytes)} where trim(line) <> ''"
    )
    row = con.execute(
        "select count(*) filter (where ok), count(*) filter (where not ok) from jsonl_lines"
    ).fetchone()
    good, bad = (int(row[0]), int(row[1])) if row else (0, 0)
    if bad and bad >= good:
        raise SourceFileError(
            path,
            f"{bad} of {good + bad} lines are not JSON objects; check that it is JSON lines, or re-export it",
        )
    # Fields in the order they first appear, from the first lines (as a CSV's header comes first).
    keys: list[str] = []
    for (found,) in con.execute(
        "select json_keys(line::json) from (select line, rowid from jsonl_lines where ok order by rowid limit 10000) "
        "order by rowid"
    ).fetchall():
        keys += [str(k) for k in found if str(k) not in keys]
    if not keys:
        raise SourceFileError(path, "its JSON objects have no fields; re-export it")
    names = _column_names(keys)
    fields = [
        f"case when ok then line::json ->> {_sql_text(_json_path(k))} end as {_quoted(n)}"
        for k, n in zip(keys, names, strict=True)
    ]
    if bad:
        fields += [
            f"case when not ok then line end as {LINE}",
            f"case when not ok then 'not a JSON object' end as {MALFORMED}",
        ]
    con.execute(
        f"create or replace temp table {RAW} as select {', '.join(fields)} from jsonl_lines order by rowid"
    )


def _explain(exc: Exception, data: Path, path: Path) -> str:
    message = str(exc).replace(str(data), str(path))
    text = message.splitlines()[0] if message else type(exc).__name__
    lowered = message.lower()
    if "gzip" in lowered or "zlib" in lowered or "inflate" in lowered or "truncated" in lowered:
        return "the gzip stream is truncated or corrupt; re-export or re-download the file"
    if "no magic bytes" in lowered or "not a parquet file" in lowered:
        return "it is not a valid Parquet file; re-export it"
    return f"it cannot be parsed ({text}); check its format and delimiter"


def read_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    delimiter: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    data: Path | None = None,
    source: str | None = None,
) -> list[str]:
    """Load `path` into temp table raw_batch (all text, in file order); return its columns.

    `data` is the copy to read (a snapshot of `path`); messages always name `path` (and `source`, the
    source's name, in what to set).
    """
    data = data or path
    if not data.is_file():
        raise SourceFileError(path, "the file does not exist; check the source's path glob")
    if data.stat().st_size == 0:
        raise SourceFileError(path, "the file is empty; re-export it or remove it")
    fmt = file_format(path)
    # Rejects of an earlier file must not be taken for this one's (the tables outlive a scan).
    con.execute("drop table if exists batch_rejects; drop table if exists batch_reject_scans")
    try:
        if fmt == "jsonl":
            _read_jsonl(con, data, path, max_line_bytes)
        else:
            scan = (
                _csv_sql(data, decide_dialect(data, path, delimiter), max_line_bytes)
                if fmt == "csv"
                else _scan_sql(data, fmt)
            )
            con.execute(f"create or replace temp table {RAW} as select * from {scan}")
    except duckdb.Error as exc:
        raise SourceFileError(path, _explain(exc, data, path)) from None
    if fmt in ("csv", "jsonl"):
        _place_malformed(con, path, max_line_bytes, header=fmt == "csv", source=source)
    columns = [row[0] for row in con.execute(f"describe {RAW}").fetchall()]
    count = con.execute(f"select count(*) from {RAW}").fetchone()
    if not count or count[0] == 0:
        raise SourceFileError(path, "the file has a header but no rows; re-export it or remove it")
    return columns


def _mostly_malformed(path: Path, bad: int, good: int, first: object, source: str | None) -> SourceFileError:
    """The error for a file with as many malformed lines as parsed ones, naming the first."""
    if first is not None and NOT_UTF8 in str(first):
        return SourceFileError(
            path,
            f"{bad} of {bad + good} rows are malformed (row {first}): "
            + not_utf8_hint(repr(source) if source else "its source"),
        )
    return SourceFileError(
        path,
        f"{bad} of {bad + good} rows are malformed (row {first}); check its delimiter and quoting, or re-export it",
    )


def _place_malformed(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    max_line_bytes: int,
    *,
    header: bool,
    source: str | None = None,
) -> None:
    """Put the CSV lines DuckDB could not parse back into raw_batch at their place in the file.

    DuckDB numbers rejected lines in records (a quoted field spanning lines counts once), so a rejected
    line's data row is line - 1 (line without a header); the parsed rows fill the other places in order. A file with as many bad
    lines as good ones is not a CSV of that shape: rejected whole.
    """
    words = dict(_REJECT_WORDS)
    words["LINE SIZE OVER MAXIMUM"] = (
        f"the line is longer than max_line_bytes ({max_line_bytes:,} bytes; its first 10,000 characters are kept)"
    )
    cases = " ".join(f"when {_sql_text(kind)} then {_sql_text(text)}" for kind, text in words.items())
    con.execute(
        f"""
        create or replace temp table malformed_rows as
        -- A CRLF file's rejected line comes with the line feed of the break before it: not part of the line.
        select line - {int(header)} as row_number, ltrim(any_value(csv_line), chr(10) || chr(13)) as csv_line,
            string_agg(distinct case error_type::varchar {cases} else error_message end, '; ') as reason
        from batch_rejects
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
        raise _mostly_malformed(path, bad, good, first, source)
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


def read_columns(path: Path, *, delimiter: str | None = None, encoding: str = "utf-8") -> list[str]:
    """The columns of `path` from its header (or schema), without loading its rows: for checks and init."""
    fmt = file_format(path)
    if fmt == "whitespace":
        return ["line"]
    if fmt == "csv":
        # The header as a load reads it: the delimiter decided from the opening lines, no type guessed.
        return list(decide_dialect(path, path, delimiter, encoding).columns)
    scans = {
        "parquet": f"read_parquet({_sql_text(str(path))})",
        "jsonl": f"read_json({_sql_text(str(path))}, format = 'newline_delimited')",
    }
    try:
        with duckdb.connect() as con:
            return [str(row[0]) for row in con.execute(f"describe select * from {scans[fmt]}").fetchall()]
    except duckdb.Error as exc:
        raise SourceFileError(path, _explain(exc, path, path)) from None


def read_sample(
    path: Path, *, delimiter: str | None = None, limit: int = 5000, encoding: str = "utf-8"
) -> dict[str, list[str]]:
    """Up to `limit` opening values of each column, as text (empty values left out): for init's guesses."""
    fmt = file_format(path)
    if fmt == "csv":
        dialect = decide_dialect(path, path, delimiter, encoding)
        text, cut = _sample(path, path, encoding)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter, quotechar='"')
        values: dict[str, list[str]] = {c: [] for c in dialect.columns}
        rows: list[list[str]] = []
        try:
            for record in reader:
                rows.append(record)
                if len(rows) > limit:
                    break
        except csv.Error:
            pass  # the records before the odd one decide
        if cut and len(rows) > 1:
            rows = rows[:-1]  # the sample's last line may be cut short
        for record in rows[1:]:
            for column, value in zip(dialect.columns, record, strict=False):
                if value.strip():
                    values[column].append(value.strip())
        return values
    if fmt == "whitespace":
        return {"line": []}
    scans = {
        "parquet": f"read_parquet({_sql_text(str(path))})",
        "jsonl": f"read_json({_sql_text(str(path))}, format = 'newline_delimited')",
    }
    try:
        with duckdb.connect() as con:
            relation = con.sql(f"select * from {scans[fmt]} limit {int(limit)}")
            columns = [str(c) for c in relation.columns]
            rows_ = relation.fetchall()
    except duckdb.Error as exc:
        raise SourceFileError(path, _explain(exc, path, path)) from None
    return {
        c: [str(r[i]).strip() for r in rows_ if r[i] is not None and str(r[i]).strip()]
        for i, c in enumerate(columns)
    }
