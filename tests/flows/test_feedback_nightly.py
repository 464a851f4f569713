"""A shop with a review app through the real `segmint run nightly` (Prefect) and `segmint campaigns build`:
the reviews load, the features and segment profiles carry satisfaction, the report shows it per segment,
and a detractor rule builds an audience of exactly the unhappy reviewers."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import shops
from segmint.warehouse import connect

pytestmark = pytest.mark.slow
END = date(2026, 11, 8)
JUDGEME = ["title", "body", "rating", "review_date", "source", "curated", "reviewer_name", "reviewer_email",
           "product_id", "product_handle", "reply", "reply_date", "picture_urls", "ip_address", "location"]  # fmt: skip
PLAYBOOK = """
[[campaigns]]
name = "detractor-service-follow-up"
rule = "is_detractor and days_since_feedback <= 30"
channel = "email"
offer = "a personal follow-up from our service team"
message = "Someone from our team will contact you personally."
"""


def run(api_url: str, *argv: str) -> tuple[int, str]:
    """Run the real CLI in a process against the session's Prefect server; its exit code and output."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    command = [sys.executable, "-c", "from segmint.cli import main; main()", *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


def write_reviews(folder: Path) -> dict[str, int]:
    """A Judge.me export: every third registered customer reviews once or twice in the last 25 days;
    returns each reviewer's latest rating (1-5 stars)."""
    with (folder / "customers" / "customers.csv").open(encoding="utf-8") as f:
        people = [(r["customer_id"], r["email"]) for r in csv.DictReader(f)]
    rows, latest = [], {}
    for i, (customer, email) in enumerate(people[::3]):
        ratings = [5, 4] if i % 4 == 0 else [(i % 5) + 1]
        for j, rating in enumerate(ratings):
            at = datetime.combine(END, datetime.min.time()) - timedelta(days=25 - 10 * j - i % 7, hours=3)
            rows.append({"title": f"Review {i}-{j}", "body": "Solid, arrived fine." if rating > 2 else "Broken.",
                         "rating": rating, "review_date": f"{at:%Y-%m-%d %H:%M:%S} UTC", "source": "email",
                         "curated": "ok", "reviewer_name": customer, "reviewer_email": email.upper(),
                         "product_id": "P01", "product_handle": "espresso-beans", "reply": "", "reply_date": "",
                         "picture_urls": "", "ip_address": "203.0.113.1", "location": "DE"})  # fmt: skip
            latest[customer] = rating
    (folder / "reviews").mkdir()
    with (folder / "reviews" / "judgeme-export.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=JUDGEME)
        writer.writeheader()
        writer.writerows(rows)
    return latest


def test_a_review_app_shop_through_the_nightly(tmp_path: Path, prefect_api_url: str) -> None:
    shape = shops.ShopShape(customers=160, days=200, end=END, events=False, seed=12)
    (tmp_path / "campaigns.toml").write_text(PLAYBOOK, encoding="utf-8")
    config = shops.write_shop(tmp_path, shape, extra="[campaigns]\nplaybook = 'campaigns.toml'\n")
    latest = write_reviews(tmp_path)
    with config.open("a", encoding="utf-8") as f:
        f.write(
            "\n[[sources]]\nname = 'reviews'\nkind = 'feedback'\npath = 'reviews/*.csv'\npreset = 'judgeme'\n"
        )

    code, out = run(prefect_api_url, "run", "nightly", "--as-of", str(END), "--config", str(config))
    assert code == 0, out
    assert "Traceback" not in out
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
        loaded = con.execute(
            "select rows_read, rows_loaded, rows_quarantined from loaded_files where source = 'reviews'"
        )
        assert loaded.fetchall() == [
            (len(latest) + sum(1 for i in range(len(latest)) if i % 4 == 0),) * 2 + (0,)
        ]
        got = dict(
            con.execute(
                "select customer_id, rating_last from customer_features where as_of = ? and rating_last is not null",
                [END],
            ).fetchall()
        )
        assert got == latest
        detractors = {c for c, r in latest.items() if r <= 2}
        flagged = con.execute(
            "select customer_id from customer_features where as_of = ? and is_detractor", [END]
        )
        assert {r[0] for r in flagged.fetchall()} == detractors
        run_id = con.execute(
            "select run_id from segment_runs where published order by as_of desc limit 1"
        ).fetchone()
        assert run_id is not None, out
        shares = con.execute(
            "select sum(feedback_share * size) / sum(size), count(mean_rating_mean) from segment_profiles where run_id = ?",
            [run_id[0]],
        ).fetchone()
        assert shares is not None and abs(shares[0] - len(latest) / 160) < 0.05 and shares[1] >= 1
        passed = con.execute(
            "select count(*) filter (where not success and severity = 'critical') from validation_results "
            "where suite like 'feedback%'"
        ).fetchone()
        assert passed == (0,)

    report = (tmp_path / "reports" / END.isoformat() / "report.html").read_text(encoding="utf-8")
    assert '<section id="satisfaction">' in report and "1-5 stars" in report

    code, out = run(prefect_api_url, "segments", "--config", str(config))
    assert code == 0 and "mean rating" in out and "detractors" in out, out

    code, out = run(prefect_api_url, "campaigns", "build", "--as-of", str(END), "--config", str(config))
    assert code == 0, out
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
        audience = con.execute("select customer_id from campaign_audiences").fetchall()
    assert {r[0] for r in audience} <= detractors and audience, out
