"""Shop shapes an owner meets on day one, through the whole job with the real commands (no generator):
each night completes, or stops with one plain sentence; a stage that cannot run says why in the run's
message and the report; nothing crashes on a missing, empty or constant feature."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from e2e.wholejob import CHURN_SKIPPED, CLV_SKIPPED, PLAYBOOK, Job, assert_no_traceback, says_why
from shops import ShopShape, write_shop

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]
END = date(2026, 11, 8)
PLAYBOOK_SETTING = f"[campaigns]\nplaybook = '{PLAYBOOK}'\n"

SHAPES = {
    # A shop with a year of orders and a clickstream: every model has enough history.
    "a_year_with_clickstream": ShopShape(customers=400, days=400, end=END, events=True, seed=3),
    "orders_only": ShopShape(customers=200, days=400, end=END, events=False, seed=4),
    "tiny": ShopShape(customers=30, days=60, end=END, events=True, seed=5),
    "single_product": ShopShape(customers=150, days=200, end=END, events=False, products=1, seed=6),
    "everyone_bought_once": ShopShape(
        customers=150, days=200, end=END, events=False, one_order_each=True, seed=8
    ),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_shop_shape_through_the_whole_job(
    name: str,
    tmp_path: Path,
    whole_job: Callable[[Path, date], Job],
    report_in_browser: Callable[[Path, str], dict[str, Any]],
) -> None:
    shape = SHAPES[name]
    job = whole_job(write_shop(tmp_path, shape, extra=PLAYBOOK_SETTING), shape.last_day)

    assert_no_traceback(job)
    for step, done in job.steps.items():
        assert done.returncode == 0, f"{step} exited {done.returncode}:\n{job.output(step)[-3000:]}"
    row = job.one("select status, message from runs where flow = 'nightly' order by started_at desc")
    assert row is not None and row[0] == "completed", row
    message = str(row[1])
    published = job.one("select count(*) from segment_runs where published")
    # Either segments are published, or the run says why not in words.
    assert (published and published[0] >= 1) or "segments not computed: " in message, message
    predictions = job.one(
        "select coalesce(message, '') from prediction_runs order by created_at desc limit 1"
    )
    scored = job.one("select count(churn_score), count(clv_12m) from customer_predictions")
    assert predictions is not None and scored is not None
    assert scored[0] > 0 or says_why(predictions[0], CHURN_SKIPPED), predictions[0]
    assert scored[1] > 0 or says_why(predictions[0], CLV_SKIPPED), predictions[0]
    # The next-order check judges the dates customers were given: none given, nothing judged.
    judged_unused = job.one(
        "select count(*) from clv_validation v where v.next_order_auc is not null and not exists "
        "(select 1 from customer_predictions p where p.run_id = v.run_id and p.next_order_date is not null)"
    )
    assert judged_unused == (0,), predictions[0]

    report = job.warehouse.parent / "reports" / shape.last_day.isoformat() / "report.html"
    shown = report_in_browser(report, f"shape-{name}")
    seen = shown["seen"]
    assert seen.console_errors == [] and seen.exceptions == [] and seen.log_errors == []
    assert all(visible for _, visible in shown["sections"]), shown["sections"]


def test_daily_exports_that_repeat_the_two_days_before_run_night_after_night(
    tmp_path: Path, whole_job: Callable[[Path, date], Job]
) -> None:
    shape = ShopShape(customers=120, days=90, end=END, events=True, seed=11)
    nights = [END - timedelta(days=k) for k in (3, 2, 1, 0)]
    config = write_shop(tmp_path, shape, daily_exports=True, through=nights[0], extra=PLAYBOOK_SETTING)
    jobs = []
    for night in nights:
        write_shop(tmp_path, shape, daily_exports=True, through=night, extra=PLAYBOOK_SETTING)
        jobs.append(whole_job(config, night))
    for job in jobs:
        assert_no_traceback(job)
        assert job.steps["nightly"].returncode == 0, job.output("nightly")[-3000:]
    last = jobs[-1]
    held = last.one("select count(*) from held_batches")
    dupes = last.one(
        "select count(*) from (select order_id from orders group by order_id having count(*) > 1)"
    )
    repeated = last.one("select sum(rows_duplicate) from loaded_files")
    assert held == (0,) and dupes == (0,)
    assert repeated is not None and repeated[0] > 0  # the overlap was seen, counted, and not loaded twice
    statuses = last.one("select list(status order by started_at) from runs where flow = 'nightly'")
    assert statuses is not None and statuses[0] == ["completed"] * 4
