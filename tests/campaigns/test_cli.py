"""`segmint campaigns build|measure` and `segmint simulate-responses` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmint.cli import main
from segmint.warehouse import connect

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
