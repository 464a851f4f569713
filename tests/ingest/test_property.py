"""Property: any CSV file, however broken its values, bytes, quoting or line endings, is loaded or
rejected with one sentence, never a traceback, and rows read = loaded + quarantined + duplicate + held."""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmint.config import SourceSettings
from segmint.errors import SourceFileError
from segmint.ingest.load import load_file
from segmint.warehouse import connect

NOW = datetime(2024, 6, 1, 12, 0, 0)
COLUMNS = (
    "order_id",
    "line_no",
    "customer_id",
    "ordered_at",
    "product_id",
    "product_name",
    "quantity",
    "unit_price",
    "currency",
    "is_cancellation",
)
GOOD = {
    "order_id": st.sampled_from(["O1", "O2", "O3", "A-7", "17850"]),
    "line_no": st.sampled_from(["1", "2", "3"]),
    "customer_id": st.sampled_from(["C1", "C2", "17850.0", ""]),
    "ordered_at": st.sampled_from(["2024-05-01 10:00:00", "2024-05-02T08:30:00Z", "2024-05-03"]),
    "product_id": st.sampled_from(["P1", "P2", "85123A"]),
    "product_name": st.sampled_from(["Pen", "Ink, blue", 'A "quoted" name', "Café"]),
    "quantity": st.sampled_from(["1", "2", "-1", "6.0"]),
    "unit_price": st.sampled_from(["1.50", "0", "4", "12.3456"]),
    "currency": st.sampled_from(["EUR", "eur", ""]),
    "is_cancellation": st.sampled_from(["false", "true", ""]),
}
BAD = st.one_of(
    st.sampled_from(
        [
            "",
            "2.5",
            "1e2",
            "0x10",
            "9" * 40,
            "-" + "9" * 25,
            "99999999999999.9999",
            "1e400",
            "NaN",
            "inf",
            "1,5",
            "1 000",
            "null",
            "1900-01-01",
            "2024-13-45 25:61:61",
            "9999-12-31 23:59:59",
            "0001-01-01",
            "\u221e",
            "'",
            "\\",
            "=cmd|' /C calc'!A0",
        ]
    ),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


# Numbers at the edges of what a quantity (integer) and an amount (decimal(18, 4)) hold.
EDGES = st.sampled_from(
    [
        "2147483647",
        "2147483648",
        "1000000",
        "60000000000000",
        "99999999999999",
        "99999999999999.9999",
        "100000000000000",
        "-99999999999999",
        "1e13",
        "0.00001",
        "9" * 19,
    ]
)
NUMERIC = {"quantity", "unit_price", "line_no"}


def value(column: str) -> st.SearchStrategy[str]:
    """A good value, an edge number for numeric columns, or anything at all."""
    edges = [EDGES] if column in NUMERIC else []
    return st.one_of(GOOD[column], GOOD[column], *edges, *edges, BAD)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV orders file with random bad values, bytes, quoting, field counts and line endings."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=3))
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        fields = [draw(value(c)) for c in COLUMNS]
        shape = draw(st.sampled_from(["same"] * 8 + ["short", "long"]))
        if shape == "short":
            fields = fields[:-1]
        elif shape == "long":
            fields.append("extra")
        quoted = [
            '"' + f.replace('"', '""') + '"' if draw(st.integers(0, 4)) == 0 or delimiter in f else f
            for f in fields
        ]
        if draw(st.integers(0, 9)) == 0:  # a stray quote or an unclosed quoted field
            quoted[draw(st.integers(0, len(quoted) - 1))] += draw(st.sampled_from(['"', '"x', 'x"y']))
        rows.append(delimiter.join(quoted).encode("utf-8"))
    if draw(st.booleans()):  # bytes that are not UTF-8 in some line
        at = draw(st.integers(0, len(rows) - 1))
        rows[at] += draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b"\xe2\x82"]))
    header = delimiter.join(COLUMNS).encode()
    lines = [header, *rows]
    ends = itertools.cycle(e.encode() for e in endings)
    body = b"".join(line + next(ends) for line in lines)
    if draw(st.booleans()):
        body = body.rstrip(b"\r\n")  # no newline after the last line
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body


FOLDER = Path(tempfile.mkdtemp(prefix="segmint-property-"))
CON = connect(FOLDER / "warehouse.duckdb")
SOURCE = SourceSettings(name="shop", kind="orders", path="*.csv")
_names = itertools.count()


def check_file(content: bytes) -> None:
    """Load one generated file: rejected with one sentence, or loaded with every row accounted for."""
    path = FOLDER / f"orders_{next(_names):05d}.csv"
    path.write_bytes(content)
    # The same bytes drawn again (or replayed by Hypothesis) load again, their rows now repeats or updates.
    CON.execute("delete from loaded_files where sha256 = ?", [hashlib.sha256(content).hexdigest()])
    try:
        result = load_file(CON, SOURCE, path, "run-1", now=NOW)
    except SourceFileError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message
        assert "Traceback" not in message
        assert CON.execute("select count(*) from loaded_files where path = ?", [str(path)]).fetchone() == (0,)
        return
    assert result.status == "loaded"
    assert result.rows_read == (
        result.rows_loaded + result.rows_quarantined + result.rows_duplicate + result.rows_held
    )
    stored = CON.execute("select count(*) from quarantine where source_file = ?", [str(path)]).fetchone()
    assert stored == (result.rows_quarantined,)
    # Every quarantined row says why, in one line.
    reasons = CON.execute("select reason from quarantine where source_file = ?", [str(path)]).fetchall()
    assert all(reason and "\n" not in reason for (reason,) in reasons)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=csv_files())
def test_every_csv_file_is_loaded_or_rejected_and_every_row_is_accounted_for(content: bytes) -> None:
    check_file(content)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=csv_files())
def test_many_more_csv_files_are_loaded_or_rejected_and_every_row_is_accounted_for(content: bytes) -> None:
    check_file(content)
