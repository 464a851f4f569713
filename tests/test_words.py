"""Counts read as people write them."""

from __future__ import annotations

from datetime import date

from segmint.quality.night import stale_sentence
from segmint.words import counted


def test_counted_is_singular_for_one() -> None:
    assert counted(1, "day") == "1 day"
    assert counted(0, "day") == "0 days"
    assert counted(1204, "day") == "1,204 days"
    assert counted(2, "batch", "batches") == "2 batches"


def test_a_stale_sentence_says_1_day_not_1_days() -> None:
    sentence = stale_sentence("order", date(2026, 11, 19), date(2026, 11, 20))
    assert "1 day before" in sentence and "1 days" not in sentence
