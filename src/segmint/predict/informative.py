"""Which features carry information in this shop: all-null or single-valued columns are left out before fitting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from segmint.features import WEB_FEATURES


def informative(
    frames: Iterable[pl.DataFrame], columns: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kept, dropped): a column is kept when it has at least two distinct non-null values in every frame.

    Tree ensembles bin each column on its distinct values and fail on fewer than two, and a column
    that is constant (or null) in any frame a model is fitted on says nothing about its label there.
    """
    frames = list(frames)
    kept: list[str] = []
    dropped: list[str] = []
    for column in columns:
        if not any(column in f.columns for f in frames):
            continue
        ok = all(_distinct(f, column) >= 2 for f in frames)
        (kept if ok else dropped).append(column)
    return tuple(kept), tuple(dropped)


def _distinct(frame: pl.DataFrame, column: str) -> int:
    if column not in frame.columns:
        return 0
    values = frame.get_column(column).drop_nulls()
    if values.dtype.is_float():
        values = values.drop_nans()
    return values.n_unique()


def describe_dropped(dropped: Sequence[str], *, web_gap: str = "") -> str:
    """The dropped features in plain words, noting why web features are empty (features.web_gap)."""
    names = ", ".join(dropped)
    if web_gap and any(c in WEB_FEATURES for c in dropped):
        return f"{names} ({web_gap})"
    return names
