"""Counts in plain words: "1 day", "3 days", "1 warning"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` with its noun, singular for exactly one: 1 day, 2 days, 1,204 days."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"
