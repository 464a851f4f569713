"""`segmint init`: a new shop's folder (segmint.toml, campaigns.toml, .env) from the example files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from segmint.config import PRESETS, SourceKind
from segmint.errors import ConfigError
from segmint.ingest.presets import PRESET_KINDS, fitting_presets
from segmint.ingest.read import read_columns
from segmint.resources import template_path

GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Export:
    """One export the shop sends: its kind, its file or glob (as given) and the preset that reads it."""

    kind: SourceKind
    path: str
    preset: str

    @property
    def name(self) -> str:
        """The source's name in segmint.toml."""
        return {"orders": "shop", "events": "web", "customers": "customers"}[self.kind]


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


def guess_preset(kind: SourceKind, files: list[Path]) -> str | None:
    """The preset that reads the newest file's columns, or None when none fits."""
    columns = read_columns(files[-1])
    fits = fitting_presets(kind, columns)
    return fits[0] if fits else None


def export(folder: Path, kind: SourceKind, pattern: str, preset: str | None) -> Export:
    """Check an export given to init: its files exist and a preset fits; one sentence when not."""
    files = matched_files(pattern)
    if not files:
        raise ConfigError(f"No file matches the {kind} export {pattern!r}; give the path of an export file.")
    if preset is None:
        preset = guess_preset(kind, files)
        if preset is None:
            raise ConfigError(
                f"No preset reads {files[-1]} as {kind}; pass --preset (one of {', '.join(PRESETS)}) "
                "or map its columns in segmint.toml afterwards."
            )
    elif preset not in PRESETS:
        raise ConfigError(f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    elif kind not in PRESET_KINDS[preset]:
        raise ConfigError(
            f"Preset '{preset}' reads {' or '.join(PRESET_KINDS[preset])} files, not {kind}; pick another."
        )
    return Export(kind, config_path_of(folder, pattern), preset)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(scaffold: Scaffold) -> str:
    """segmint.example.toml with the shop's exports, timezone and address filled in."""
    text = template_path("segmint.example.toml").read_text(encoding="utf-8")
    blocks = "\n".join(
        f"[[sources]]\nname = {_toml_string(e.name)}\nkind = {_toml_string(e.kind)}\n"
        f"path = {_toml_string(e.path)}\npreset = {_toml_string(e.preset)}\n"
        for e in scaffold.exports
    )
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
    return header + text


def write(scaffold: Scaffold, *, force: bool = False) -> list[Path]:
    """Write segmint.toml, campaigns.toml and .env into the folder; an existing file needs `force`."""
    folder = scaffold.folder
    targets = {
        folder / "segmint.toml": render_config(scaffold),
        folder / "campaigns.toml": template_path("campaigns.example.toml").read_text(encoding="utf-8"),
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
