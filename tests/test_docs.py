"""The README and the code agree: every command, option, config key and table in one is in the other.

In the spirit of sqlite-utils' test_docs: a command, flag, `[section] key` or table that is added without
a word in the README fails here, and so does a README line naming one that no longer exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from segmint.cli import app
from segmint.config import Settings, SourceSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    # Typer builds a Click group; its subgroups (`run`, `campaigns`) have commands of their own.
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))
LEAVES = {path: cmd for path, cmd in COMMANDS.items() if not hasattr(cmd, "commands")}


def _long_options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    }


def _sections() -> dict[str, set[str]]:
    sections = {"sources": set(SourceSettings.model_fields)}
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            sections[name] = set(field.annotation.model_fields)
    return sections


SECTIONS = _sections()


def _tables() -> set[str]:
    pattern = re.compile(
        r"create\s+(?:or\s+replace\s+)?(?:table|view)\s+(?:if\s+not\s+exists\s+)?(\w+)", re.I
    )
    return {
        m.group(1) for f in (ROOT / "sql" / "schema").glob("*.sql") for m in pattern.finditer(f.read_text())
    }


def _code() -> Iterator[str]:
    """The README's code: inline spans and the lines of fenced blocks."""
    fenced = re.findall(r"^```[a-z]*\n(.*?)^```", README, re.S | re.M)
    for block in fenced:
        yield from block.splitlines()
    yield from re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", README, flags=re.S | re.M))


def _invocations() -> Iterator[tuple[str, tuple[str, ...], list[str]]]:
    """Each `segmint ...` in the README's code: the text, the command path it names and its flags."""
    for code in _code():
        for match in re.finditer(r"(?:^|[;&|(]\s*|/)segmint((?: [a-z][a-z-]*)*)((?: [^;&#)]*)?)", code):
            words = tuple(match.group(1).split())
            flags = re.findall(r"(?<![\w-])--[a-z][a-z-]*", match.group(2) or "")
            yield match.group(0).strip(), words, flags


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_command_and_option_is_in_the_readme(path: tuple[str, ...]) -> None:
    name = " ".join(("segmint", *path))
    assert name in README, f"{name} is not in the README"
    missing = sorted(opt for opt in _long_options(LEAVES[path]) if opt not in README)
    assert not missing, f"{name}'s options {missing} are not in the README"


def test_every_config_key_is_in_the_readme() -> None:
    missing = [
        f"[{section}] {key}"
        for section, keys in SECTIONS.items()
        for key in sorted(keys)
        if not re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", README)
    ]
    assert not missing, f"config keys not in the README: {missing}"


def test_every_table_is_in_the_readme() -> None:
    missing = sorted(t for t in _tables() if f"`{t}`" not in README)
    assert not missing, f"tables not in the README: {missing}"


def test_every_command_and_option_in_the_readme_exists() -> None:
    unknown = []
    for text, words, flags in _invocations():
        # The longest prefix of the words that is a command; the rest are arguments (a folder, a run id).
        path = max((words[:n] for n in range(len(words) + 1) if words[:n] in COMMANDS), key=len)
        known = _long_options(COMMANDS[path]) | _long_options(COMMANDS[()])
        if words and not path and words[0] not in {"is", "and"}:
            unknown.append(text)
        unknown += [f"{text}: {flag}" for flag in flags if flag not in known]
    assert not unknown, f"the README names commands or options that do not exist: {unknown}"


def test_every_config_key_in_the_readme_exists() -> None:
    unknown = [
        match.group(0)
        for match in re.finditer(r"\[\[?(\w+)\]?\] `?([a-z_]+)`? ?=", README)
        if match.group(2) not in SECTIONS.get(match.group(1), set())
    ]
    unknown += [
        match.group(0)
        for match in re.finditer(r"`\[\[?(\w+)\]?\] ([a-z_]+)`", README)
        if match.group(2) not in SECTIONS.get(match.group(1), set())
    ]
    assert not unknown, f"the README names config keys that do not exist: {unknown}"


def test_every_table_in_the_readme_exists() -> None:
    tables = _tables()
    named = {m.group(1) or m.group(2) for m in re.finditer(r"\btables? `(\w+)`|`(\w+)` table", README)}
    assert not named - tables, f"the README names tables that do not exist: {sorted(named - tables)}"
