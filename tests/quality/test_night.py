"""Night checks: volume by data date against the nights before, freshness, rejected files, batches waiting."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from segmint.config import QualitySettings, Settings, SourceSettings
from segmint.ingest import FileResult
from segmint.ingest.load import Status
from segmint.quality.night import expected_band, night_checks, source_volume

T0 = datetime(2026, 11, 1, 2, 0)


def night(con: duckdb.DuckDBPyConnection, run_id: str, day: int, flow: str = "nightly") -> None:
    """A run started the morning after night `day` and computing that night (as_of)."""
    con.execute(
        "insert into runs by name select ? run_id, ? flow, ? as_of, ? started_at, 'completed' status",
        [run_id, flow, (T0 + timedelta(days=day)).date(), T0 + timedelta(days=day + 1)],
    )


def delivered(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    rows: int,
    held: bool = False,
    day: int | None = None,
    table: str = "events",
) -> None:
    """A file of `rows` rows dated night `day` (default: the run's night) loaded, or held, by the run."""
    path = f"/in/{run_id}-{source}.csv"
    if held:
        con.execute(
            "insert into held_batches values (?, ?, ?, ?, ?, ?, '[]', null, null, 'x', now(), 'held', null, null)",
            [run_id, source, table, path, f"sha-{run_id}-{source}", rows],
        )
        return
    con.execute(
        "insert into loaded_files values (?, ?, ?, ?, ?, 0, now(), ?, 0)",
        [source, path, f"sha-{run_id}-{source}", rows, rows, run_id],
    )
    at = T0 + timedelta(days=day if day is not None else int(run_id.lstrip("n") or 0))
    if table == "events":
        con.execute(
            "insert into events (event_id, occurred_at, event_type, source_file) "
            "select ? || i, ?, 'page_view', ? from range(?) t(i)",
            [path, at, path, rows],
        )
    else:
        con.execute(
            "insert into orders (order_id, ordered_at, is_cancellation, revenue, source_file) "
            "select ? || i, ?, false, 10, ? from range(?) t(i)",
            [path, at, path, rows],
        )


def test_the_band_is_the_configured_share_but_never_inside_three_poisson_deviations() -> None:
    settings = QualitySettings(volume_band=0.5, volume_min_nights=3)
    assert expected_band([1000, 1000], settings) is None  # too few nights to judge
    assert expected_band([900, 1000, 1100], settings) == (500.0, 1500.0)
    low, high = expected_band([4, 5, 6], settings) or (0, 0)
    assert (round(low, 2), round(high, 2)) == (-1.71, 11.71)  # a tiny shop: zero orders is normal


def test_volume_counts_rows_by_data_date_with_empty_nights_whatever_run_loaded_them(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    settings = QualitySettings(volume_nights=7)
    for day in range(10):
        night(duck, f"n{day}", day)
        if day != 4:  # night 4 delivered no events at all
            delivered(duck, f"n{day}", "web", 100 + day, held=day == 6)
        delivered(duck, f"n{day}", "shop", 7)
    night(duck, "replay", 10, flow="replay")
    delivered(duck, "replay", "web", 106, day=6)  # the held night 6, replayed: it counts for its day
    night(duck, "tonight", 11)
    volume = source_volume(duck, "tonight", "web", settings, "events")
    assert volume.tonight == 0
    # The 7 days before night 11, oldest first: day 4 and day 10 delivered nothing.
    assert volume.history == (0, 105, 106, 107, 108, 109, 0)
    assert volume.median == 106


def test_a_backfill_of_an_earlier_night_is_judged_on_that_nights_rows(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    settings = QualitySettings(volume_nights=7)
    for day in range(8):
        night(duck, f"n{day}", day)
        delivered(duck, f"n{day}", "web", 100)
    night(duck, "backfill", 5)  # recomputing night 5 after night 7 ran: no file loads tonight
    volume = source_volume(duck, "backfill", "web", settings, "events")
    assert volume.tonight == 100 and volume.history == (100,) * 5  # the first day bounds the history


def test_a_first_night_has_no_history_to_judge(duck: duckdb.DuckDBPyConnection) -> None:
    night(duck, "n0", 0)
    delivered(duck, "n0", "web", 3)
    volume = source_volume(duck, "n0", "web", QualitySettings(), "events")
    assert volume.tonight == 3 and volume.history == () and volume.low is None


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
        delivered(duck, f"n{day}", "shop", 40, table="orders")
    night(duck, "held-earlier", 5)
    delivered(duck, "held-earlier", "shop", 40, held=True, table="orders")
    night(duck, "tonight", 6)
    delivered(duck, "tonight", "shop", 41, day=6, table="orders")
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


def test_freshness_fails_when_the_newest_order_is_older_than_max_data_age_days(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = Settings(
        config_path=tmp_path / "segmint.toml",
        sources=[SourceSettings(name="shop", kind="orders", path="o/*.csv")],
    )
    night(duck, "n0", 0)
    delivered(duck, "n0", "shop", 5, table="orders")
    night(duck, "late", 10)
    results = {r.key: r for r in night_checks(duck, settings, "late", [])}
    fresh = results["data_fresh"]
    assert not fresh.success and fresh.severity == "critical"
    assert fresh.observed["summary"] == (
        "your newest order is 2026-11-01, 10 days before the night of 2026-11-11: the export may have "
        "stopped; pass --as-of 2026-11-01 to compute that night"
    )
    night(duck, "ok", 3)
    assert {r.key: r for r in night_checks(duck, settings, "ok", [])}["data_fresh"].success


def _quiet_night(duck: duckdb.DuckDBPyConnection, tmp_path: Path, tonight: int) -> dict[str, object]:
    """Seven nights of about 142 orders, then `tonight` orders; the orders volume_not_low result."""
    settings = Settings(
        config_path=tmp_path / "segmint.toml",
        sources=[SourceSettings(name="shop", kind="orders", path="o/*.csv")],
    )
    for day, rows in enumerate((140, 150, 142, 138, 145, 142, 139)):
        night(duck, f"n{day}", day)
        delivered(duck, f"n{day}", "shop", rows, table="orders")
    night(duck, "n7", 7)
    delivered(duck, "n7", "shop", tonight, table="orders")
    results = {r.key: r for r in night_checks(duck, settings, "n7", [])}
    low = results["volume_not_low"]
    return {"success": low.success, "blocking": low.blocking, "summary": low.observed["summary"]}


def test_an_ordinary_quiet_day_warns_but_does_not_hold_the_night(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    low = _quiet_night(duck, tmp_path, 32)  # a weekend dip: 32 orders against a median of 142
    assert low["success"] is False and low["blocking"] is False
    assert low["summary"] == (
        "32 rows tonight from source 'shop'; recent nights' median 142, expected 71 to 213; a quiet day, "
        "not held (only fewer than 14 rows, 10% of the median, hold the night)"
    )


def test_a_missing_or_cut_off_export_still_holds_the_night(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    low = _quiet_night(duck, tmp_path, 9)  # under a tenth of the median: the export was cut off
    assert low["blocking"] is True
    assert (
        low["summary"] == "9 rows tonight from source 'shop'; recent nights' median 142, expected 71 to 213"
    )


def test_an_accepted_night_check_is_recorded_as_a_warning(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = Settings(
        config_path=tmp_path / "segmint.toml",
        sources=[SourceSettings(name="shop", kind="orders", path="o/*.csv")],
    )
    for day in range(5):
        night(duck, f"n{day}", day)
        delivered(duck, f"n{day}", "shop", 140, table="orders")
    night(duck, "n5", 5)
    for accept, blocking in (((), True), (("volume_not_low",), False), (("orders.volume_not_low",), False)):
        low = {r.key: r for r in night_checks(duck, settings, "n5", [], accept)}["volume_not_low"]
        assert not low.success and low.blocking is blocking, accept
    assert low.observed["summary"].endswith("; accepted with --accept orders.volume_not_low")


def _export_ending_before(duck: duckdb.DuckDBPyConnection, tmp_path: Path, last: int, tonight: int) -> dict:
    """One export of 20 orders a day over nights 0..`last`, loaded by the run of night `tonight`."""
    settings = Settings(
        config_path=tmp_path / "segmint.toml",
        sources=[SourceSettings(name="shop", kind="orders", path="o/*.csv")],
    )
    night(duck, "first", tonight)
    duck.execute(
        "insert into loaded_files values ('shop', '/in/orders.csv', 'sha', 0, 0, 0, now(), 'first', 0)"
    )
    duck.execute(
        "insert into orders (order_id, ordered_at, is_cancellation, revenue, source_file) "
        "select 'o' || d || '-' || i, ? + to_days(d::integer), false, 10, '/in/orders.csv' "
        "from range(?) a(d), range(20) b(i)",
        [T0, last + 1],
    )
    return {r.key: r for r in night_checks(duck, settings, "first", [])}


def test_a_night_after_the_data_ends_says_where_it_ends_and_which_night_to_compute(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # A first export downloaded before the night ended: its last day is two days before the night.
    results = _export_ending_before(duck, tmp_path, last=8, tonight=10)
    low = results["volume_not_low"]
    assert low.blocking and results["data_fresh"].success  # within max_data_age_days: only volume fails
    assert low.observed["summary"] == (
        "0 rows tonight from source 'shop' because your data ends 2026-11-09, 2 days before the night of "
        "2026-11-11 (recent nights' median 20, expected 7 to 33): pass --as-of 2026-11-09 to compute the "
        "last night with data"
    )
    assert low.observed["data_ends"] == "2026-11-09"


def test_a_night_after_an_already_computed_last_day_says_the_export_may_be_missing(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    night(duck, "before", 8)  # the data's last day was computed by an earlier night: nothing came since
    low = _export_ending_before(duck, tmp_path, last=8, tonight=10)["volume_not_low"]
    assert low.blocking and "data_ends" not in low.observed
    assert low.observed["summary"].endswith(
        "; the newest data is 2026-11-09, a night already computed: tonight's export may be missing"
    )


def test_data_ending_past_max_data_age_days_is_left_to_the_freshness_check(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    results = _export_ending_before(duck, tmp_path, last=8, tonight=14)
    assert (
        not results["data_fresh"].success
        and "--as-of 2026-11-09" in results["data_fresh"].observed["summary"]
    )
    low = results["volume_not_low"]
    assert "data_ends" not in low.observed and "your data ends" not in low.observed["summary"]
