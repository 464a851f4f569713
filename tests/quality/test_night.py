"""Night checks: volume against the trailing median of recent nights, rejected files, batches waiting."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from segmint.config import QualitySettings, Settings, SourceSettings
from segmint.ingest import FileResult
from segmint.ingest.load import Status
from segmint.quality.night import expected_band, night_checks, source_volume

T0 = datetime(2026, 11, 1, 2, 0)


def night(con: duckdb.DuckDBPyConnection, run_id: str, day: int, flow: str = "nightly") -> None:
    con.execute(
        "insert into runs values (?, ?, null, ?, null, 'completed', null, null)",
        [run_id, flow, T0 + timedelta(days=day)],
    )


def delivered(
    con: duckdb.DuckDBPyConnection, run_id: str, source: str, rows: int, held: bool = False
) -> None:
    if held:
        con.execute(
            "insert into held_batches values (?, ?, 'events', ?, ?, ?, '[]', null, null, 'x', now(), 'held', null, null)",
            [run_id, source, f"/in/{run_id}.csv", f"sha-{run_id}-{source}", rows],
        )
    else:
        con.execute(
            "insert into loaded_files values (?, ?, ?, ?, ?, 0, now(), ?, 0)",
            [source, f"/in/{run_id}.csv", f"sha-{run_id}-{source}", rows, rows, run_id],
        )


def test_the_band_is_the_configured_share_but_never_inside_three_poisson_deviations() -> None:
    settings = QualitySettings(volume_band=0.5, volume_min_nights=3)
    assert expected_band([1000, 1000], settings) is None  # too few nights to judge
    assert expected_band([900, 1000, 1100], settings) == (500.0, 1500.0)
    low, high = expected_band([4, 5, 6], settings) or (0, 0)
    assert (round(low, 2), round(high, 2)) == (-1.71, 11.71)  # a tiny shop: zero orders is normal


def test_volume_counts_loaded_and_held_rows_per_night_with_empty_nights(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    settings = QualitySettings(volume_nights=7)
    for day in range(10):
        night(duck, f"n{day}", day)
        if day != 4:  # night 4 delivered no events at all
            delivered(duck, f"n{day}", "web", 100 + day, held=day == 6)
        delivered(duck, f"n{day}", "shop", 7)
    night(duck, "replay", 10, flow="replay")  # replays are not nights
    delivered(duck, "replay", "web", 5000)
    night(duck, "tonight", 11)
    volume = source_volume(duck, "tonight", "web", settings)
    assert volume.tonight == 0
    assert volume.history == (103, 0, 105, 106, 107, 108, 109)  # the last 7 nights, oldest first
    assert volume.median == 106
    assert volume.low == pytest.approx(53.0) and volume.high == pytest.approx(159.0)


def files(*statuses: Status) -> list[FileResult]:
    return [
        FileResult("web", Path(f"/in/e{i}.csv"), s, message=f"problem {i}") for i, s in enumerate(statuses)
    ]


def test_night_checks_name_a_missing_night_rejected_files_and_batches_waiting(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = Settings(
        config_path=tmp_path / "segmint.toml",
        sources=[
            SourceSettings(name="web", kind="events", path="e/*.csv"),
            SourceSettings(name="shop", kind="orders", path="o/*.csv"),
        ],
    )
    for day in range(5):
        night(duck, f"n{day}", day)
        delivered(duck, f"n{day}", "web", 500)
        delivered(duck, f"n{day}", "shop", 40)
    night(duck, "held-earlier", 5)
    delivered(duck, "held-earlier", "shop", 40, held=True)
    night(duck, "tonight", 6)
    delivered(duck, "tonight", "shop", 41)
    results = {
        (r.suite, r.key): r for r in night_checks(duck, settings, "tonight", files("rejected", "loaded"))
    }
    failed = {k for k, r in results.items() if not r.success}
    assert failed == {
        ("events", "volume_not_low"),
        ("events", "files_readable"),
        ("orders", "no_batch_waiting"),
    }
    low = results[("events", "volume_not_low")]
    assert low.severity == "critical"
    assert low.observed["summary"] == (
        "0 rows tonight from source 'web'; recent nights' median 500, expected 250 to 750"
    )
    assert results[("events", "files_readable")].sample == [{"file": "/in/e0.csv", "problem": "problem 0"}]
    waiting = results[("orders", "no_batch_waiting")].sample
    assert (
        waiting[0]["held_by_run"] == "held-earlier" and waiting[0]["replay"] == "segmint replay held-earlier"
    )
    assert results[("orders", "volume_not_low")].success  # 41 against a median of 40
