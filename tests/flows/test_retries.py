"""Errors the owner must fix fail the nightly at once; an I/O failure is still retried."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prefect.states import Failed

from segmint.cli import load_flow_module
from segmint.errors import ConfigError, SourceFileError
from segmint.prefect_env import retry_unless_user_error


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConfigError("Source 'shop': no file matches 'x/*.csv'"), False),
        (SourceFileError("orders.csv", "the file is empty"), False),
        (FileNotFoundError("orders.csv"), False),
        (PermissionError("warehouse.duckdb"), False),
        (OSError("No space left on device"), True),
        (TimeoutError("the network share did not answer"), True),
    ],
)
def test_retry_condition(error: Exception, retried: bool) -> None:
    state = Failed(data=error, message=f"Task run encountered unexpected exception: {error!r}")
    assert retry_unless_user_error(None, None, state) is retried


def test_the_ingest_task_of_the_nightly_uses_it() -> None:
    nightly = load_flow_module("nightly")
    assert nightly.ingest.retries == 2
    assert nightly.ingest.retry_condition_fn is retry_unless_user_error


@pytest.mark.usefixtures("prefect_server")
def test_a_source_without_files_fails_the_nightly_at_once(tmp_path: Path) -> None:
    config = tmp_path / "segmint.toml"
    config.write_text(
        "[warehouse]\npath = 'wh.duckdb'\n[[sources]]\nname = 'shop'\nkind = 'orders'\npath = 'incoming/*.csv'\n",
        encoding="utf-8",
    )
    nightly = load_flow_module("nightly").nightly
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"Source 'shop': no file matches 'incoming/\*\.csv'"):
        nightly(config=str(config), as_of="2024-05-02")
    # Retried, it would wait 10 s and then 60 s before failing.
    assert time.monotonic() - started < 10
