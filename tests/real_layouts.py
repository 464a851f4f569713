"""Real datasets rewritten in another real layout, for tests that load them the way a shop would export them."""

from __future__ import annotations

from pathlib import Path

REAL = Path(__file__).resolve().parent / "data" / "real"


def cdnow_sample_as_master(folder: Path) -> Path:
    """The 2,357-customer CDNOW sample in the master file's layout (customer_id date number_of_cds
    dollar_value), the sample id as the customer id: what a shop exporting CDNOW's layout would send."""
    lines = ["customer_id date number_of_cds dollar_value"]
    for raw in (REAL / "cdnow" / "CDNOW_sample.txt").read_text().splitlines():
        _, sample_id, day, cds, value = raw.split()
        lines.append(f"{sample_id} {day} {cds} {value}")
    path = folder / "CDNOW_sample_master_layout.txt"
    path.write_text("\n".join(lines) + "\n")
    return path
