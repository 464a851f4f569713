"""`segmint campaigns build|measure` and `segmint simulate-responses` as a user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from segmint.cli import main
from segmint.warehouse import connect
from shops import ShopShape, write_shop

from .conftest import AS_OF, fill

PLAYBOOK = """
[defaults]
holdout_share = 0.2

[[campaigns]]
name = "regulars"
segments = ["Regulars"]
offer = "10% off"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "segmint.toml"
    path.write_text(
        '[warehouse]\npath = "warehouse.duckdb"\n[campaigns]\nplaybook = "campaigns.toml"\n', encoding="utf-8"
    )
    (tmp_path / "campaigns.toml").write_text(PLAYBOOK, encoding="utf-8")
    with connect(tmp_path / "warehouse.duckdb") as con:
        fill(con)
    return path


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_build_simulate_measure(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = config.parent
    assert run(["campaigns", "build", "--config", str(config)]) == 0  # the latest night with features
    out = capsys.readouterr().out
    audience = folder / "campaigns" / AS_OF.isoformat() / "regulars-20240331.csv"
    assert f"Campaigns for {AS_OF}" in out and "regulars-20240331" in out
    assert audience.is_file()

    assert run(["campaigns", "measure", "--config", str(config)]) == 0
    assert "attribution window open until 2024-04-14" in capsys.readouterr().out

    assert run(["simulate-responses", str(audience), "--data", str(folder), "--uplift", "Regulars=0.3"]) == 0
    assert "regulars-20240331:" in capsys.readouterr().out
    responses = folder / "orders" / "responses_20240401.csv"
    assert responses.read_text().startswith("order_id,line_no,customer_id,ordered_at,product_id")

    # Load the responses as the nightly ingest would, then measure after the window.
    with connect(folder / "warehouse.duckdb") as con:
        con.execute(
            "insert into orders (order_id, customer_id, ordered_at, is_cancellation, revenue, source_file) "
            "select order_id, customer_id, ordered_at, false, quantity * unit_price, 'responses' "
            f"from read_csv('{responses}')"
        )
    assert run(["campaigns", "measure", "--config", str(config), "--as-of", "2024-04-14"]) == 0
    out = capsys.readouterr().out
    assert "regulars-20240331: treatment - holdout" in out and "Regulars" in out


def test_user_mistakes_end_in_one_sentence(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config.parent / "campaigns.toml").write_text('[[campaigns]]\nname = "x"\n', encoding="utf-8")
    assert run(["campaigns", "build", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "campaign 'x': say who it targets" in err and "Traceback" not in err

    assert run(["simulate-responses", "missing.csv", "--data", str(config.parent), "--uplift", "VIP:5"]) == 1
    assert "--uplift 'VIP:5' is not SEGMENT=RATE" in capsys.readouterr().err
    assert run(["simulate-responses", "missing.csv", "--data", str(config.parent)]) == 1
    assert "missing.csv not found; run `segmint campaigns build` first" in capsys.readouterr().err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from segmint.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def small_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date]:
    """A small hand-written shop (tests/shops.py), ingested and with features for its last day: no
    predictions yet, as on a shop's first nights."""
    from segmint import pipeline
    from segmint.config import load_settings

    folder = tmp_path_factory.mktemp("small-shop")
    shape = ShopShape(customers=150, days=200, events=False)
    config = write_shop(folder, shape, extra="[campaigns]\nplaybook = 'campaigns.toml'\n")
    shutil.copy(Path(__file__).parents[2] / "campaigns.example.toml", folder / "campaigns.toml")
    settings = load_settings(config)
    run_id = pipeline.begin_run(settings, "nightly", shape.last_day)
    pipeline.ingest_sources(settings, run_id)
    pipeline.build_features(settings, shape.last_day)
    pipeline.end_run(settings, run_id, "completed")
    return config, shape.last_day


@pytest.mark.parametrize(
    "fmt",
    [
        "csv",
        "klaviyo",
        pytest.param("mailchimp", marks=pytest.mark.slow),
        pytest.param("shopify", marks=pytest.mark.slow),
    ],
)
def test_campaigns_build_writes_upload_files_per_platform(small_shop: tuple[Path, date], fmt: str) -> None:
    config, day = small_shop
    done = _cli("campaigns", "build", "--config", str(config), "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # The example playbook's churn rule has no scores to read yet: a warning, not an empty audience.
    assert "warning: campaign 'win-back-valuable' not built for" in done.stderr
    assert "churn_score, clv_12m" in done.stderr and "no prediction run yet" in done.stderr
    folder = config.parent / "campaigns" / day.isoformat()
    suffix = ".csv" if fmt == "csv" else f".{fmt}.csv"
    sends = sorted(folder.glob(f"*{suffix}"))
    sends = [p for p in sends if "HOLDOUT" not in p.name and (fmt != "csv" or p.suffixes == [".csv"])]
    assert {p.name.split("-2")[0] for p in sends} >= {"at-risk-reminder", "second-purchase"}
    assert not list(folder.glob("win-back-valuable*"))
    header = {
        "csv": "customer_id,email,segment,offer,recommended_products,group,channel,message",
        "klaviyo": "Email,First Name,Last Name,Email Marketing Consent,Segment,Offer,Message",
        "mailchimp": "Email Address,First Name,Last Name,Tags",
        "shopify": "First Name,Last Name,Email,Accepts Email Marketing,",
    }[fmt]
    total_sent = total_held = 0
    for send in sends:
        cid = send.name.removesuffix(suffix)
        holdout = folder / f"{cid}.HOLDOUT-do-not-upload.csv"
        assert f"send to the treatment: {send}" in done.stdout
        assert f"holdout, do not upload: {holdout}" in done.stdout
        assert send.read_text(encoding="utf-8").startswith(header)
        sent = pl.read_csv(send, infer_schema=False)
        held = pl.read_csv(holdout, infer_schema=False)
        assert set(held["group"]) <= {"holdout"}
        if fmt == "csv":
            assert set(sent["group"]) <= {"treatment"}
        email = {"csv": "email", "klaviyo": "Email", "mailchimp": "Email Address", "shopify": "Email"}[fmt]
        assert not set(sent[email]) & set(held["email"]), "nobody is in both files"
        total_sent += sent.height
        total_held += held.height
    assert total_sent > 0 and total_held > 0
    with connect(config.parent / "warehouse.duckdb") as con:
        ledger = con.execute(
            "select sum(n_treatment), sum(n_holdout) from campaigns where as_of = ?", [day]
        ).fetchone()
    assert ledger == (total_sent, total_held)


def test_build_without_a_date_targets_the_last_published_night_not_a_held_one(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import timedelta

    held = AS_OF + timedelta(days=1)
    with connect(config.parent / "warehouse.duckdb") as con:
        # The next night was computed but held: its features exist, its segments were not published.
        con.execute(
            "insert into customer_features by name "
            "select * replace (cast(? as date) as as_of) from customer_features",
            [held],
        )
        con.execute(
            "insert into segment_runs by name select * replace ('seg2' as run_id, cast(? as date) as as_of, "
            "false as published, 'held' as status_reason) from segment_runs",
            [held],
        )
    assert run(["campaigns", "build", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"Campaigns for {AS_OF}" in out and f"Campaigns for {held}" not in out


def test_an_export_without_email_addresses_warns_per_campaign_once(tmp_path: Path) -> None:
    import csv
    import json

    from segmint import pipeline
    from segmint.config import load_settings

    shape = ShopShape(customers=150, days=200, events=False)
    config = write_shop(tmp_path, shape, extra="[campaigns]\nplaybook = 'campaigns.toml'\n")
    shutil.copy(Path(__file__).parents[2] / "campaigns.example.toml", tmp_path / "campaigns.toml")
    customers = tmp_path / "customers" / "customers.csv"
    with customers.open(newline="", encoding="utf-8") as f:
        rows = [r | {"email": ""} for r in csv.DictReader(f)]  # the shop exports no addresses
    with customers.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    settings = load_settings(config)
    run_id = pipeline.begin_run(settings, "nightly", shape.last_day)
    pipeline.ingest_sources(settings, run_id)
    pipeline.build_features(settings, shape.last_day)
    pipeline.end_run(settings, run_id, "completed")

    done = _cli("campaigns", "build", "--config", str(config))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert len(lines) == len(set(lines)), "each warning is printed once"
    empty = [line for line in lines if "audience members have an e-mail address" in line]
    assert empty, done.stderr
    assert any(
        line.startswith("warning: campaign second-purchase: 0 of ")
        and "add an e-mail column to the customers export of source 'crm'" in line
        for line in empty
    ), empty
    assert sum("win-back-valuable" in line for line in lines) == 1

    as_json = _cli("campaigns", "build", "--config", str(config), "--json")
    warnings = json.loads(as_json.stdout)["warnings"]
    assert [w for w in warnings if "audience members have an e-mail address" in w] == [
        line.removeprefix("warning: ") for line in empty
    ]


def test_build_from_a_held_night_warns_why_in_text_and_json(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    folder = config.parent
    with connect(folder / "warehouse.duckdb") as con:
        # The only night was held: nothing is published, so the build's default is that night.
        con.execute("update segment_runs set published = false")
        con.execute(
            "insert into runs (run_id, flow, as_of, started_at, status) "
            "values ('held1', 'nightly', ?, timestamp '2024-04-01 02:00', 'held')",
            [AS_OF],
        )
        con.execute(
            "insert into validation_results (run_id, suite, batch, expectation, severity, success, observed, "
            "validated_at) values ('held1', 'orders', 'source shop (tonight)', 'volume_not_low', 'critical', "
            """false, '{"summary": "0 rows tonight from source ''shop''"}', timestamp '2024-04-01 02:00')"""
        )
    (folder / "rfm.toml").write_text('[[campaigns]]\nname = "at-risk"\nrfm_segments = ["At Risk"]\n')
    argv = ["campaigns", "build", "--config", str(config), "--playbook", str(folder / "rfm.toml")]
    assert run(argv) == 0
    captured = capsys.readouterr()
    # Still built (the last night refreshed is the default before any night is published), but said.
    assert (folder / "campaigns" / AS_OF.isoformat() / "at-risk-20240331.csv").is_file()
    warning = (
        f"the night of {AS_OF} was held by a failed critical check (run held1: orders.volume_not_low: 0 rows "
        "tonight from source 'shop'): these audiences come from data that failed its checks, so do not "
        f"upload them yet; fix the night as `segmint status --config {config}` says, then build again"
    )
    assert captured.err.count("warning: the night of") == 1 and f"warning: {warning}\n" in captured.err
    assert run([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [warning]
    with connect(folder / "warehouse.duckdb") as con:
        # The night was run again and completed (the owner accepted the check): nothing to warn about.
        con.execute(
            "insert into runs (run_id, flow, as_of, started_at, status) "
            "values ('again', 'nightly', ?, timestamp '2024-04-01 09:00', 'completed')",
            [AS_OF],
        )
    assert run([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
