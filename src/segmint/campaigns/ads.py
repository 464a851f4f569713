"""Ad-platform audience files of a campaign: the treatment's e-mail addresses and phone numbers, normalised
and SHA-256 hashed as Google Customer Match and Meta custom audiences document for customer lists.

Google Customer Match (support.google.com/google-ads/answer/7659867, 7475964): a CSV with the English
headers "Email" and "Phone"; before hashing, e-mail addresses are trimmed and lower-cased and phone numbers
written in E.164 ("+" and the country code, digits only). Meta custom audiences (customer list format,
facebook.com/business/help/2082575038703844): headers "email" and "phone"; the phone hashed is the same
number with its country code but without the "+". Neither asks for dots in a Gmail address to be removed
for customer lists (that is Google's enhanced conversions), so segmint does not: the same address hashes
the same way on both platforms.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

GOOGLE_COLUMNS = ("Email", "Phone")
META_COLUMNS = ("email", "phone")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Punctuation people write phone numbers with; anything else (letters) makes a number unusable.
_PUNCTUATION = re.compile(r"[\s().\-/]")
# E.164 allows at most 15 digits; the shortest real numbers with their country code have 7.
_E164_DIGITS = (7, 15)
# Country calling codes by ISO 3166 alpha-2 code and by English name, for national numbers ("030 1234567"):
# the customer's country first, else [campaigns] phone_calling_code.
CALLING_CODES: dict[str, str] = {
    "AT": "43", "AU": "61", "BE": "32", "BG": "359", "BR": "55", "CA": "1", "CH": "41", "CN": "86",
    "CY": "357", "CZ": "420", "DE": "49", "DK": "45", "EE": "372", "ES": "34", "FI": "358", "FR": "33",
    "GB": "44", "GR": "30", "HR": "385", "HU": "36", "IE": "353", "IN": "91", "IS": "354", "IT": "39",
    "JP": "81", "LI": "423", "LT": "370", "LU": "352", "LV": "371", "MT": "356", "MX": "52", "NL": "31",
    "NO": "47", "NZ": "64", "PL": "48", "PT": "351", "RO": "40", "SE": "46", "SG": "65", "SI": "386",
    "SK": "421", "TR": "90", "UA": "380", "US": "1", "ZA": "27",
}  # fmt: skip
_NAMES = {
    "austria": "AT", "australia": "AU", "belgium": "BE", "brazil": "BR", "canada": "CA", "switzerland": "CH",
    "china": "CN", "czech republic": "CZ", "czechia": "CZ", "germany": "DE", "deutschland": "DE",
    "denmark": "DK", "spain": "ES", "finland": "FI", "france": "FR", "united kingdom": "GB", "uk": "GB",
    "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "greece": "GR", "ireland": "IE", "eire": "IE", "iceland": "IS", "italy": "IT", "japan": "JP",
    "netherlands": "NL", "norway": "NO", "new zealand": "NZ", "poland": "PL", "portugal": "PT",
    "sweden": "SE", "united states": "US", "usa": "US", "united states of america": "US", "österreich": "AT",
    "schweiz": "CH", "lithuania": "LT", "luxembourg": "LU", "malta": "MT", "cyprus": "CY",
}  # fmt: skip
# Italy (and San Marino, the Vatican) keep the leading 0 of a national number in E.164.
_KEEPS_ZERO = {"39", "378"}


def sha256_hex(value: str) -> str:
    """The lower-case hex SHA-256 of the UTF-8 text, as both platforms take hashed identifiers."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(email: str | None) -> str | None:
    """The address trimmed and lower-cased, or None when it is no address."""
    if email is None:
        return None
    text = email.strip().lower()
    return text if _EMAIL.match(text) else None


def calling_code(country: str | None, default: str | None = None) -> str | None:
    """The calling code (digits) of a country given as a two-letter code or an English name, else `default`."""
    if country:
        text = country.strip()
        code = CALLING_CODES.get(text.upper()) or CALLING_CODES.get(_NAMES.get(text.lower(), ""))
        if code:
            return code
    return default.lstrip("+") if default else None


def e164(phone: str | None, code: str | None) -> str | None:
    """The number in E.164 ("+49301234567"), or None when it cannot be: letters in it, no country code for
    a national number, or too few or too many digits. `code` is the calling code for national numbers."""
    if phone is None or not phone.strip():
        return None
    text = phone.strip().replace("(0)", "")  # "+49 (0)30 ...": the trunk 0 written beside the country code
    text = _PUNCTUATION.sub("", text)
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif code is None:
        return None
    else:
        national = text
        if code == "1" and len(national) == 11 and national.startswith("1"):
            national = national[1:]  # the North American trunk 1
        elif code not in _KEEPS_ZERO:
            national = national.removeprefix("0")
        digits = code + national
    low, high = _E164_DIGITS
    if not digits.isdigit() or not low <= len(digits) <= high or digits.startswith("0"):
        return None
    return "+" + digits


@dataclass(frozen=True)
class AdAudience:
    """A campaign's ad audience files and what went into them."""

    google_path: Path
    meta_path: Path
    customers: int  # rows written: consenting treatment members with an address or a usable phone
    phone_unusable: int  # phones given that could not be written in E.164 (left out of the Phone column)
    no_consent: int  # treatment members left out because they have not said yes to marketing


def ad_audience_paths(out_dir: Path, campaign_id: str) -> tuple[Path, Path]:
    """The Google Customer Match and the Meta custom audience file of a campaign build."""
    return (
        out_dir / f"{campaign_id}.google-customer-match.csv",
        out_dir / f"{campaign_id}.meta-custom-audience.csv",
    )


def write_ad_audiences(
    treatment: pl.DataFrame, out_dir: Path, campaign_id: str, default_code: str | None
) -> AdAudience:
    """Write the hashed ad audiences of the treatment (customer_id, email, phone, country, consent).

    Only members whose marketing consent is yes go in: uploading a list hands personal data to the ad
    platform, which needs the customer's consent even where e-mailing one's own customers may not.
    """
    consenting = treatment.filter(pl.col("consent").fill_null(False))
    emails, phones, unusable = [], [], 0
    for row in consenting.iter_rows(named=True):
        email = normalise_email(row["email"])
        phone = e164(row["phone"], calling_code(row["country"], default_code))
        if row["phone"] and row["phone"].strip() and phone is None:
            unusable += 1
        if email is None and phone is None:
            continue
        emails.append(sha256_hex(email) if email else "")
        phones.append(phone)
    google = pl.DataFrame(
        {"Email": emails, "Phone": [sha256_hex(p) if p else "" for p in phones]},
        schema={c: pl.String for c in GOOGLE_COLUMNS},
    )
    meta = pl.DataFrame(
        {"email": emails, "phone": [sha256_hex(p[1:]) if p else "" for p in phones]},
        schema={c: pl.String for c in META_COLUMNS},
    )
    google_path, meta_path = ad_audience_paths(out_dir, campaign_id)
    google.write_csv(google_path)
    meta.write_csv(meta_path)
    return AdAudience(
        google_path=google_path,
        meta_path=meta_path,
        customers=google.height,
        phone_unusable=unusable,
        no_consent=treatment.height - consenting.height,
    )
