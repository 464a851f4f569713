"""Hand-written exports as German Excel saves them: Windows-1252 text, semicolons, decimal commas."""

from __future__ import annotations

from pathlib import Path

GERMAN_HEADER = "Bestellnummer;Kunde;Datum;Artikel;Menge;Preis;Währung;E-Mail"
# Product names with and without umlauts: only some lines carry a byte that is not UTF-8.
ARTICLES = ("Müsli", "Kaffee", "Käse", "Brot", "Grüner Tee", "Honig", "Weißwein", "Butter")
GERMAN_COLUMNS = {
    "order_id": "Bestellnummer",
    "customer_id": "Kunde",
    "ordered_at": "Datum",
    "product_name": "Artikel",
    "quantity": "Menge",
    "unit_price": "Preis",
    "currency": "Währung",
    "email": "E-Mail",
}


def german_rows(orders: int = 12) -> list[str]:
    """Order lines as an Excel export writes them: two lines per order, dd.mm.yyyy dates."""
    rows = []
    for i in range(orders):
        for j in range(2):
            article = ARTICLES[(i + j * 3) % len(ARTICLES)]
            rows.append(
                f"B{1000 + i};K{i % 5};{1 + 2 * i % 28:02d}.03.2024 10:{j:02d};{article};{1 + j};"
                f"{2 + i % 7},{50 if j else 99};EUR;kunde{i % 5}@beispiel.de"
            )
    return rows


def write_cp1252(path: Path, rows: list[str], header: str = GERMAN_HEADER) -> Path:
    """The export as Windows-1252 bytes, with Windows line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("cp1252"))
    return path
