"""Ad audiences: e-mails and phones normalised and hashed as the ad platforms document, consent respected."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import polars as pl

from segmint.campaigns.ads import calling_code, e164, normalise_email, sha256_hex, write_ad_audiences


def test_hashes_are_lower_case_hex_sha256_of_the_normalised_address() -> None:
    assert sha256_hex("test@example.com") == (
        "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
    )
    assert normalise_email("  Test@Example.COM ") == "test@example.com"
    assert normalise_email("first.last@gmail.com") == "first.last@gmail.com"  # dots kept for customer lists
    assert normalise_email("not an address") is None and normalise_email(None) is None


def test_phones_are_written_in_e164_or_left_out() -> None:
    assert e164("+49 (0)30 1234567", None) == "+49301234567"
    assert e164("030 1234567", "49") == "+49301234567"
    assert e164("0049 30 1234567", None) == "+49301234567"
    assert e164("(415) 555-2671", "1") == "+14155552671"
    assert e164("06 12 34 56 78", calling_code("FR")) == "+33612345678"
    assert e164("030 1234567", None) is None  # a national number without a country code
    assert e164("call me", "49") is None and e164("", "49") is None
    assert calling_code("Germany") == "49" and calling_code(None, "+44") == "44"


def test_only_consenting_members_go_in_and_unusable_phones_are_counted(tmp_path: Path) -> None:
    treatment = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "email": [" A@Shop.example ", "b@shop.example", None, "d@shop.example"],
            "phone": ["030 1234567", "call me", "+44 20 7946 0958", None],
            "country": ["DE", "DE", "GB", None],
            "consent": [True, True, True, False],
        }
    )
    audience = write_ad_audiences(treatment, tmp_path, "CAMP1", None)
    assert (audience.customers, audience.phone_unusable, audience.no_consent) == (3, 1, 1)
    with audience.google_path.open(newline="") as f:
        google = list(csv.DictReader(f))
    with audience.meta_path.open(newline="") as f:
        meta = list(csv.DictReader(f))
    sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    assert google[0] == {"Email": sha("a@shop.example"), "Phone": sha("+49301234567")}
    assert meta[0] == {"email": sha("a@shop.example"), "phone": sha("49301234567")}  # Meta: no "+"
    assert google[1] == {"Email": sha("b@shop.example"), "Phone": ""}
    assert google[2] == {"Email": "", "Phone": sha("+442079460958")}
    assert sha("d@shop.example") not in {r["Email"] for r in google}  # no consent, not uploaded
