"""A shop whose customers export carries birth years, genders, cities and regions, through the real
`segmint run nightly`, `segmint segments` and `segmint report`: each segment's demographic mix is stored
and shown, and the attributes never change the clustering (the same shop without them gets the same
segments)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import shops
from segmint.warehouse import connect

pytestmark = pytest.mark.slow
END = date(2026, 11, 8)
# Written as CRM exports write them: birth dates or years, genders as letters or words, one unknown.
GENDERS = ["F", "female", "M", "male", "", "diverse"]
CITIES = [("Berlin", "BE"), ("Hamburg", "HH"), ("München", "BY"), ("Köln", "NW")]


def run(api_url: str, *argv: str) -> tuple[int, str]:
    """Run the real CLI in a process against the session's Prefect server; its exit code and output."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    command = [sys.executable, "-c", "from segmint.cli import main; main()", *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


def add_demographics(folder: Path) -> int:
    """Rewrite the customers export with birth_year, gender, city and region; returns how many have an age."""
    path = folder / "customers" / "customers.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    aged = 0
    for i, row in enumerate(rows):
        year = 1950 + (i * 7) % 55
        row["birth_year"] = "" if i % 10 == 9 else (f"{year}-03-{1 + i % 28:02d}" if i % 2 else str(year))
        aged += row["birth_year"] != ""
        row["gender"] = GENDERS[i % len(GENDERS)]
        row["city"], row["region"] = CITIES[i % len(CITIES)]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return aged


def test_demographics_are_profiled_and_shown_but_never_clustered(
    tmp_path: Path, prefect_api_url: str
) -> None:
    shape = shops.ShopShape(customers=160, days=200, end=END, events=False, seed=21)
    plain = shops.write_shop(tmp_path / "plain", shape)
    config = shops.write_shop(tmp_path / "shop", shape)
    aged = add_demographics(tmp_path / "shop")
    for folder in (plain, config):
        code, out = run(prefect_api_url, "run", "nightly", "--as-of", str(END), "--config", str(folder))
        assert code == 0, out
        assert "Traceback" not in out

    def segments(folder: Path) -> tuple[list[tuple[str, int]], list[tuple[object, ...]]]:
        with connect(folder / "warehouse.duckdb", read_only=True) as con:
            assigned = con.execute(
                "select customer_id, segment_id from segment_assignments order by customer_id"
            ).fetchall()
            profiles = con.execute(
                "select segment_name, size, median_age, demographics from segment_profiles order by segment_id"
            ).fetchall()
        return assigned, profiles

    plain_assigned, plain_profiles = segments(tmp_path / "plain")
    assigned, profiles = segments(tmp_path / "shop")
    assert assigned == plain_assigned  # the attributes ride along; they are not clustered on
    assert [p[:2] for p in profiles] == [p[:2] for p in plain_profiles]
    assert all(p[2] is None and p[3] is None for p in plain_profiles)  # no attributes: nothing claimed

    with connect(tmp_path / "shop" / "warehouse.duckdb", read_only=True) as con:
        buyers = con.execute(
            "select count(*) from segment_assignments s join customers c using (customer_id) "
            "where c.birth_year is not null"
        ).fetchone()
    assert buyers is not None and 0 < buyers[0] <= aged
    for name, _size, median_age, mix_json in profiles:
        mix = json.loads(mix_json)
        assert 21 <= median_age <= 76, name  # born 1950-2004, as of 2026
        assert 0.8 <= mix["known_share"] <= 1.0
        assert {v["value"] for v in mix["city"]} <= {c for c, _ in CITIES}
        assert all(0 < v["share"] <= 1 for attribute in ("gender", "city", "region") for v in mix[attribute])
        assert sum(v["share"] for v in mix["city"]) <= 1.0 + 1e-9

    code, out = run(prefect_api_url, "segments", "--config", str(config))
    assert code == 0, out
    assert out.count("who: median age") == len(profiles)
    code, out = run(prefect_api_url, "segments", "--json", "--config", str(config))
    assert code == 0, out
    listed = json.loads(out[out.index("{") :])["segments"]
    assert all(s["demographics"]["known_share"] > 0 for s in listed)

    code, out = run(prefect_api_url, "report", "--as-of", str(END), "--config", str(config))
    assert code == 0, out
    html = next((tmp_path / "shop").rglob("report.html")).read_text(encoding="utf-8")
    assert html.count("median age") >= len(profiles)
    plain_html = next((tmp_path / "plain").rglob("report.html")).read_text(encoding="utf-8")
    assert "median age" not in plain_html
