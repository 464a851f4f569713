"""The audit step of write-audit-publish: validate each typed batch before it is merged, hold it if broken."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from segmint.config import Settings
from segmint.ingest.load import Batch
from segmint.quality.engine import Engine, engine
from segmint.quality.failing import failing_rows
from segmint.quality.frames import BATCH_TABLES, INDEX_COLUMNS, batch_parameters, batch_table
from segmint.quality.results import CheckResult, record

log = logging.getLogger(__name__)
# One worker runs Great Expectations (pure Python, holding the GIL) while DuckDB (which releases it)
# merges the batch on the caller's thread; one worker also keeps the batches' checks in order.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segmint-gx")


@dataclass
class BatchAudit:
    """An `Audit` for load_file: checks each batch with its suites on a worker thread.

    With `force`, results are recorded but the batch is published anyway (an owner's decision on replay).
    """

    settings: Settings
    now: datetime | None = None
    force: bool = False
    results: list[CheckResult] = field(default_factory=list)
    # Importing GX and opening its context take seconds: begun at once, while the first file is read.
    _engine: Future[Engine] = field(init=False, repr=False)
    _validated: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._engine = _WORKER.submit(engine, self.settings.output_dir)

    def __call__(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> BatchVerdict:
        """Take the batch's frames from DuckDB, then validate them on the worker thread."""
        quality = self.settings.quality
        now = self.now or datetime.now(UTC).replace(tzinfo=None)
        frames = []
        failing: list[tuple[str, str]] = []
        for table in BATCH_TABLES[batch.source.kind]:
            # Arrow, not pandas: GX sees it `chunk_rows` rows at a time on the worker thread.
            frame = batch_table(con, table)
            parameters = batch_parameters(con, table, quality, now, len(frame))
            frames.append((table, frame, parameters))
            # Forced, the owner publishes the batch as it is: only rows that could not be typed are kept back.
            if not self.force:
                failing += failing_rows(con, table, frame, parameters)

        def validate() -> list[CheckResult]:
            gx = self._engine.result()
            found: list[CheckResult] = []
            for table, frame, parameters in frames:
                found += gx.validate(
                    table,
                    "batch",
                    frame,
                    parameters,
                    batch=batch.path.name,
                    run_id=batch.run_id,
                    index_columns=INDEX_COLUMNS[table],
                    sample_rows=quality.sample_rows,
                    chunk_rows=quality.chunk_rows,
                    index=False,
                )
            for result in found:
                result.batch = str(batch.path)
            return found

        self._validated = True
        return BatchVerdict(self, batch, _WORKER.submit(validate), failing)

    def finish(self) -> None:
        """Render the data docs index once for every batch checked (each batch's page is rendered at once)."""
        if self._validated:
            self._validated = False
            _WORKER.submit(lambda: self._engine.result().build_index()).result()


@dataclass
class BatchVerdict:
    """One batch's checks under way on the worker thread."""

    audit: BatchAudit
    batch: Batch
    checks: Future[list[CheckResult]]
    failing: list[tuple[str, str]] = field(default_factory=list)

    def failing_rows(self) -> list[tuple[str, str]]:
        """The row-level critical checks as (reason, SQL of the typed rows failing it), to quarantine."""
        return self.failing

    def wait(self) -> str | None:
        """Why the batch is held (its failed critical checks), or None to publish it."""
        blocking = [r for r in self.checks.result() if r.blocking]
        if not blocking:
            return None
        if self.audit.force:
            log.warning(
                "%s: published despite %d failed critical checks (forced)", self.batch.path, len(blocking)
            )
            return None
        return f"{self.batch.path.name} held back: " + "; ".join(r.describe() for r in blocking)

    def record(self, con: duckdb.DuckDBPyConnection) -> None:
        """Store the results in validation_results, in the transaction that publishes or holds the batch."""
        found = self.checks.result()
        record(con, self.batch.run_id, found)
        self.audit.results += found
