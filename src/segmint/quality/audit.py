"""The audit step of write-audit-publish: validate each typed batch before it is merged, hold it if broken."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from segmint.config import Settings
from segmint.ingest.load import Batch
from segmint.quality.engine import engine
from segmint.quality.frames import BATCH_TABLES, INDEX_COLUMNS, batch_frame, batch_parameters
from segmint.quality.results import CheckResult, record

log = logging.getLogger(__name__)


@dataclass
class BatchAudit:
    """An `Audit` for load_file: runs the batch's suites, records the results, returns a hold reason.

    With `force`, results are recorded but the batch is published anyway (an owner's decision on replay).
    """

    settings: Settings
    now: datetime | None = None
    force: bool = False
    results: list[CheckResult] = field(default_factory=list)

    def __call__(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> str | None:
        """Validate the batch; None to publish it, or why it is held."""
        quality = self.settings.quality
        now = self.now or datetime.now(UTC).replace(tzinfo=None)
        gx = engine(self.settings.output_dir)
        found: list[CheckResult] = []
        for table in BATCH_TABLES[batch.source.kind]:
            frame = batch_frame(con, table)
            found += gx.validate(
                table,
                "batch",
                frame,
                batch_parameters(con, table, quality, now, len(frame)),
                batch=batch.path.name,
                run_id=batch.run_id,
                index_columns=INDEX_COLUMNS[table],
                sample_rows=quality.sample_rows,
            )
        for result in found:
            result.batch = str(batch.path)
        # Recorded inside the load transaction: the results commit with the merge or the hold.
        record(con, batch.run_id, found)
        self.results += found
        blocking = [r for r in found if r.blocking]
        if not blocking:
            return None
        if self.force:
            log.warning("%s: published despite %d failed critical checks (forced)", batch.path, len(blocking))
            return None
        return f"{batch.path.name} held back: " + "; ".join(r.describe() for r in blocking)
