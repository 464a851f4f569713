"""`segmint init`: a new shop's folder (segmint.toml, campaigns.toml, .env) from the example files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from segmint.config import PRESETS, SourceKind
from segmint.errors import ConfigError
from segmint.ingest.detect import (
    NUMBER_COLUMNS,
    TIME_COLUMNS,
    DateLayout,
    Separators,
    date_layout,
    detect_columns,
    detect_encoding,
    missing_required,
    separators,
    settle_product,
)
from segmint.ingest.presets import CANONICAL, PRESET_KINDS, fitting_presets
from segmint.ingest.read import read_columns, read_sample
from segmint.resources import template_path

GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Export:
    """One export the shop sends: its kind, its file or glob (as given), the preset that reads it, and for
    a layout no preset knows, the column mapping and reading options init found (with a note on each)."""

    kind: SourceKind
    path: str
    preset: str
    columns: dict[str, str] = field(default_factory=dict)
    timestamp_format: str | None = None
    decimal_separator: str = "."
    thousands_separator: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # option -> the comment written above it
    encoding: str = "utf-8"
    given: tuple[str, ...] = ()  # the canonical columns the owner gave with --map
    unmapped: tuple[str, ...] = ()  # the export's headers no canonical column reads

    @property
    def name(self) -> str:
        """The source's name in segmint.toml."""
        return {"orders": "shop", "events": "web", "customers": "customers", "feedback": "reviews"}[self.kind]


@dataclass
class Scaffold:
    """What `segmint init` writes: the folder, its exports, the timezone and the owner's address."""

    folder: Path
    exports: list[Export] = field(default_factory=list)
    timezone: str = "UTC"
    email: str | None = None


def local_timezone() -> str:
    """This machine's IANA timezone name (from TZ, /etc/timezone or /etc/localtime), else UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    etc = Path("/etc/timezone")
    if etc.is_file():
        candidates.append(etc.read_text(encoding="utf-8").strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return "UTC"


def absolute(pattern: str) -> Path:
    """A path or glob given on the command line, relative to the current folder as in any shell."""
    return Path(os.path.normpath(Path.cwd() / Path(pattern).expanduser()))


def matched_files(pattern: str) -> list[Path]:
    """The files a path or glob matches."""
    path = absolute(pattern)
    if not GLOB_CHARS.search(str(path)):
        return [path] if path.is_file() else []
    anchor = Path(path.anchor)
    return sorted(p for p in anchor.glob(str(path.relative_to(anchor))) if p.is_file())


def config_path_of(folder: Path, pattern: str) -> str:
    """How segmint.toml names an export: relative to its folder when inside it, else absolute."""
    path = absolute(pattern)
    try:
        return path.relative_to(absolute(str(folder))).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class ColumnMap:
    """One --map flag: `[kind.]canonical=Header` (without a kind, every export with that header)."""

    kind: SourceKind | None
    canonical: str
    header: str

    @property
    def flag(self) -> str:
        """The flag as typed."""
        return f"--map {self.kind + '.' if self.kind else ''}{self.canonical}={self.header}"


def parse_maps(flags: list[str]) -> list[ColumnMap]:
    """The --map flags, each checked to name a canonical column segmint reads; one sentence when not."""
    kinds: tuple[SourceKind, ...] = ("orders", "events", "customers")
    maps = []
    for flag in flags:
        target, sep, header = flag.partition("=")
        kind_text, dot, canonical = target.strip().rpartition(".")
        kind = kind_text if dot else None
        if not sep or not canonical or not header.strip() or (kind is not None and kind not in kinds):
            raise ConfigError(
                f"--map {flag!r} is not canonical=Header; write it as --map unit_price='Unit Price' "
                "(or orders.unit_price='Unit Price' for one kind of export)."
            )
        known = {c for k in kinds if kind in (None, k) for c in (*CANONICAL[k][0], *CANONICAL[k][1])}
        if canonical not in known:
            raise ConfigError(
                f"--map {flag!r}: {canonical!r} is not a column segmint reads; use one of "
                f"{', '.join(sorted(known))}."
            )
        maps.append(ColumnMap(kind, canonical, header.strip()))  # type: ignore[arg-type]
    return maps


@dataclass
class Draft:
    """An export as init first reads it: the preset or the columns found, and its sampled dates and numbers.

    For a layout no preset reads, `columns` is the whole mapping (found by name, then the --map flags);
    for a preset, only the --map flags that override it.
    """

    kind: SourceKind
    path: str
    file: Path
    preset: str
    headers: list[str]
    columns: dict[str, str]
    mapped: bool  # read through a column mapping, not a preset
    sample: dict[str, list[str]] = field(default_factory=dict)
    encoding: str = "utf-8"
    given: set[str] = field(default_factory=set)  # canonical columns given with --map

    @property
    def unmapped(self) -> list[str]:
        """The export's headers that no canonical column reads (for a mapping; a preset knows its own)."""
        used = set(self.columns.values())
        return [h for h in self.headers if h not in used] if self.mapped else []

    @property
    def missing(self) -> list[str]:
        """Required canonical columns no header was found for (none for a preset: it knows them)."""
        return missing_required(self.kind, self.columns) if self.mapped else []

    def dates(self) -> DateLayout:
        """How the dates of the export's time column are written."""
        header = self.columns.get(TIME_COLUMNS[self.kind])
        return date_layout(self.sample.get(header, [])) if self.mapped and header else DateLayout()

    def numbers(self) -> Separators:
        """The separators its amounts use."""
        if not self.mapped:
            return Separators()
        headers = [self.columns[c] for c in NUMBER_COLUMNS[self.kind] if c in self.columns]
        return separators(v for h in headers for v in self.sample.get(h, []))


def _header_of(headers: list[str], wanted: str) -> str | None:
    lowered = {h.lower(): h for h in headers}
    return lowered.get(wanted.strip().lower())


def draft(
    folder: Path, kind: SourceKind, pattern: str, preset: str | None, maps: list[ColumnMap] | None = None
) -> Draft:
    """Read an export given to init: its files exist, then a preset that fits or the columns found by name."""
    files = matched_files(pattern)
    if not files:
        raise ConfigError(f"No file matches the {kind} export {pattern!r}; give the path of an export file.")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    if preset is not None and kind not in PRESET_KINDS[preset]:
        raise ConfigError(
            f"Preset '{preset}' reads {' or '.join(PRESET_KINDS[preset])} files, not {kind}; pick another."
        )
    newest = files[-1]
    encoding = detect_encoding(newest)
    headers = read_columns(newest, encoding=encoding)
    if preset is None:
        fits = [p for p in fitting_presets(kind, headers) if p != "canonical"]
        preset = fits[0] if fits else None
    mapped = preset in (None, "canonical")
    columns = detect_columns(kind, headers) if mapped else {}
    given: set[str] = set()
    for flag in maps or []:
        if flag.kind not in (None, kind) or flag.canonical not in {*CANONICAL[kind][0], *CANONICAL[kind][1]}:
            continue
        header = _header_of(headers, flag.header)
        if header is not None:
            # A header given to one column is no longer another's guess.
            for other in [c for c, h in columns.items() if h == header and c not in given]:
                del columns[other]
            columns[flag.canonical] = header
            given.add(flag.canonical)
        elif flag.kind == kind:
            raise ConfigError(
                f"{flag.flag}: {newest.name} has no column {flag.header!r}; its columns are "
                f"{', '.join(headers)}."
            )
    sample = read_sample(newest, encoding=encoding) if mapped else {}
    if mapped:
        settle_product(columns, sample, given)
    return Draft(
        kind,
        config_path_of(folder, pattern),
        newest,
        preset or "canonical",
        headers,
        columns,
        mapped,
        sample,
        encoding,
        given,
    )


def unused_maps(drafts: list[Draft], maps: list[ColumnMap]) -> str | None:
    """The sentence for a --map flag that named a header no export has, else None."""
    for flag in maps:
        if not any(d.columns.get(flag.canonical) == _header_of(d.headers, flag.header) for d in drafts):
            files = "; ".join(f"{d.file.name}: {', '.join(d.headers)}" for d in drafts)
            return f"{flag.flag}: no export has a column {flag.header!r} for it ({files})."
    return None


def missing_sentence(d: Draft) -> str:
    """One sentence naming the required columns not found and the --map flags that give them."""
    flags = " ".join(f"--map {c}=<header>" for c in d.missing)
    return (
        f"{d.file.name} has no column init recognises as {' or '.join(d.missing)} (required for {d.kind}); "
        f"pass {flags}, naming one of its columns: {', '.join(d.headers)}."
    )


def ambiguous_sentence(d: Draft, layout: DateLayout) -> str:
    """One sentence saying the dates fit both orders and how to choose."""
    return (
        f"{d.file.name}: dates such as {layout.example!r} fit both day-first and month-first; pass "
        f"--timestamp-format '{layout.day_first}' (day first) or '{layout.month_first}' (month first)."
    )


def _reads_all(fmt: str, values: list[str]) -> bool:
    import duckdb

    with duckdb.connect() as con:
        row = con.execute(
            "select count(*) = count(try_strptime(x, $fmt)) from (select unnest($values) as x)",
            {"fmt": fmt, "values": values},
        ).fetchone()
    return bool(row and row[0])


def finish(d: Draft, timestamp_format: str | None = None) -> Export:
    """The export as written: a preset as it is; a mapping with its dates' format and its separators.

    `timestamp_format` is the owner's choice (--timestamp-format or the answer to init's question); it is
    needed when the sampled dates fit both day-first and month-first, and must read them.
    """
    encoding_note = {
        "encoding": (
            f"{d.file.name} is not UTF-8: read as {d.encoding} (cp1252 is what Excel writes in Western "
            "Europe; found by init in the export)."
        )
    }
    if not d.mapped:
        notes_ = encoding_note if d.encoding != "utf-8" else {}
        return Export(d.kind, d.path, d.preset, dict(d.columns), notes=notes_, encoding=d.encoding)
    if d.missing:
        raise ConfigError(missing_sentence(d))
    notes: dict[str, str] = encoding_note if d.encoding != "utf-8" else {}
    layout = d.dates()
    time_header = d.columns.get(TIME_COLUMNS[d.kind], "")
    values = d.sample.get(time_header, [])
    fmt = layout.fmt
    if timestamp_format is not None and (layout.ambiguous or layout.fmt or not values):
        if values and not _reads_all(timestamp_format, sorted(set(values))):
            raise ConfigError(
                f"--timestamp-format {timestamp_format!r} does not read the dates of {d.file.name} such as "
                f"{layout.example or values[0]!r}; pass a format that does (strftime codes, e.g. '%d/%m/%Y %H:%M')."
            )
        fmt = timestamp_format
        example = layout.example or (values[0] if values else "")
        notes["timestamp_format"] = (
            f"Dates such as {example!r} fit both day-first and month-first: read as the owner told init."
            if layout.ambiguous
            else f"Dates such as {example!r}: the format the owner gave init."
        )
    elif layout.ambiguous:
        raise ConfigError(ambiguous_sentence(d, layout))
    elif fmt:
        notes["timestamp_format"] = (
            f"Dates such as {layout.example!r} are {'day' if fmt.startswith('%d') else 'month'} first "
            "(found by init in the export); every later file is read the same way."
        )
    numbers = d.numbers()
    if numbers.decimal != "." or numbers.thousands:
        comma = "decimal comma" if numbers.decimal == "," else "decimal point"
        grouped = f" and {numbers.thousands!r} between thousands" if numbers.thousands else ""
        notes["decimal_separator"] = (
            f"Amounts such as {numbers.example!r} use a {comma}{grouped} (found by init in the export)."
        )
    required, optional = CANONICAL[d.kind]
    columns = {c: d.columns[c] for c in (*required, *optional) if c in d.columns}
    given = tuple(c for c in columns if c in d.given)
    if len(given) == len(columns):
        how = "as given with --map"
    elif given:
        how = "found by init by name, except those marked as given with --map"
    else:
        how = "found by init by name"
    notes["columns"] = f"segmint's column = the header in {d.file.name}, {how}; fix any that is wrong."
    if d.unmapped:
        notes["unmapped"] = f"Not read (no segmint column): {', '.join(d.unmapped)}."
    return Export(
        d.kind,
        d.path,
        "canonical",
        {c: d.columns[c] for c in (*required, *optional) if c in d.columns},
        fmt,
        numbers.decimal,
        numbers.thousands,
        notes,
        d.encoding,
        given,
        tuple(d.unmapped),
    )


def export(folder: Path, kind: SourceKind, pattern: str, preset: str | None) -> Export:
    """Check an export given to init and read it without questions (see `draft` and `finish`)."""
    return finish(draft(folder, kind, pattern, preset))


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment(text: str | None) -> str:
    return f"# {text}\n" if text else ""


def _source_block(e: Export) -> str:
    """One [[sources]] block, with its reading options and column mapping when it has them."""
    block = (
        f"[[sources]]\nname = {_toml_string(e.name)}\nkind = {_toml_string(e.kind)}\n"
        f"path = {_toml_string(e.path)}\npreset = {_toml_string(e.preset)}\n"
    )
    if e.encoding != "utf-8":
        block += _comment(e.notes.get("encoding")) + f"encoding = {_toml_string(e.encoding)}\n"
    if e.timestamp_format:
        block += _comment(e.notes.get("timestamp_format"))
        block += f"timestamp_format = {_toml_string(e.timestamp_format)}\n"
    if e.decimal_separator != "." or e.thousands_separator:
        block += _comment(e.notes.get("decimal_separator"))
        block += f"decimal_separator = {_toml_string(e.decimal_separator)}\n"
        if e.thousands_separator:
            block += f"thousands_separator = {_toml_string(e.thousands_separator)}\n"
    if e.columns:
        block += _comment(e.notes.get("columns")) + _comment(e.notes.get("unmapped"))
        block += "[sources.columns]\n"
        block += "".join(
            f"{c} = {_toml_string(h)}"
            + ("  # given with --map\n" if c in e.given and len(e.given) < len(e.columns) else "\n")
            for c, h in e.columns.items()
        )
    return block


def render_config(scaffold: Scaffold) -> str:
    """segmint.example.toml with the shop's exports, timezone and address filled in."""
    text = template_path("segmint.example.toml").read_text(encoding="utf-8")
    blocks = "\n".join(_source_block(e) for e in scaffold.exports)
    # The example's [[sources]] blocks run from the first one to the comment on per-source options.
    first = re.search(r"(?m)^\[\[sources\]\]", text)
    end = text.find("# Per source, optional")
    if first is None or end < first.start():
        raise RuntimeError(
            "segmint.example.toml lost its [[sources]] blocks; segmint init cannot fill them in"
        )
    start = first.start()
    text = text[:start] + blocks + "\n" + text[end:]
    text = re.sub(r'(?m)^timezone = "[^"]*"', f"timezone = {_toml_string(scaffold.timezone)}", text, count=1)
    addresses = f"[{_toml_string(scaffold.email)}]" if scaffold.email else "[]"
    text = re.sub(r"(?m)^recipients = \[[^\]]*\]", f"recipients = {addresses}", text, count=1)
    text = re.sub(r"(?m)^report_recipients = \[[^\]]*\]", f"report_recipients = {addresses}", text, count=1)
    header = "# Written by `segmint init`; check it with `segmint doctor`.\n"
    return header + _as_written(text)


def _as_written(text: str) -> str:
    """An example file's text as init writes it: not telling to copy it (it is the copy)."""
    text = re.sub(
        r"(?m)^(# segmint settings)\. Copy to segmint\.toml; r", r"\1 for this shop; r", text, count=1
    )
    text = re.sub(
        r"(?m)^(# segmint campaign playbook)\. Copy to campaigns\.toml \(or point \[campaigns\] playbook "
        r"in segmint\.toml at it\)\.",
        r"\1 of this shop ([campaigns] playbook in segmint.toml names it).",
        text,
        count=1,
    )
    return re.sub(
        r"(?m)^(playbook = \S+?)(\s+)# copy campaigns\.example\.toml", r"\1\2# the shop's playbook", text
    )


def write(scaffold: Scaffold, *, force: bool = False) -> list[Path]:
    """Write segmint.toml, campaigns.toml and .env into the folder; an existing file needs `force`."""
    folder = scaffold.folder
    targets = {
        folder / "segmint.toml": render_config(scaffold),
        folder / "campaigns.toml": _as_written(
            template_path("campaigns.example.toml").read_text(encoding="utf-8")
        ),
        folder / ".env": template_path(".env.example").read_text(encoding="utf-8"),
    }
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise ConfigError(
            f"{existing[0]} already exists; edit it, or pass --force to replace "
            f"{', '.join(p.name for p in existing)}."
        )
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
    (folder / ".env").chmod(0o600)  # it holds the SMTP password
    return list(targets)
