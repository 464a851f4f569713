"""Great Expectations, once per process: a file context under the output folder, the suites, data docs.

GX's SQL datasource cannot read DuckDB, so every batch is validated as a pandas frame taken from DuckDB,
through a Checkpoint per suite and scope; each result's page is rendered at once, the docs index when asked.
"""

from __future__ import annotations

import gc
import logging
import shutil
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmint.quality import chunks
from segmint.quality.results import CheckResult, plain
from segmint.quality.suites import SEVERITIES, Expect, Scope, Severity, Suite, load_suites

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from great_expectations.data_context.data_context.file_data_context import FileDataContext

log = logging.getLogger(__name__)

DATASOURCE = "segmint"
DOCS_SITE = "segmint"
# Table-level expectations report an observed value instead of failing rows.
_OBSERVED_KEYS = ("observed_value", "element_count", "missing_count")
_lock = threading.Lock()
_engines: dict[Path, Engine] = {}


class Engine:
    """One Great Expectations file context with segmint's suites registered for both scopes."""

    def __init__(self, output_dir: Path) -> None:
        import great_expectations as gx
        from great_expectations.core import ExpectationSuite
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        from segmint.quality.docs import (
            OfflineFilesystemStoreBackend,
            SharedJinjaIndexPageView,
            SharedJinjaPageView,
            install_assets,
        )

        # GX fingerprints every frame under this many bytes by hashing all its rows (most of a second
        # per million rows); nothing reads the fingerprint, and the checks never depended on it.
        pandas_execution_engine.HASH_THRESHOLD = 0

        self.root = output_dir / "gx"
        self.docs_dir = output_dir / "docs"
        output_dir.mkdir(parents=True, exist_ok=True)
        self.context: FileDataContext = gx.get_context(mode="file", project_root_dir=str(output_dir))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.context.variables.analytics_enabled = False
        sites = dict(self.context.variables.data_docs_sites or {})
        sites.pop("local_site", None)
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            # GX's filesystem store, writing pages that load bundled assets instead of CDNs (docs.py).
            "store_backend": {
                "module_name": OfflineFilesystemStoreBackend.__module__,
                "class_name": OfflineFilesystemStoreBackend.__name__,
                "base_directory": str(self.docs_dir),
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": _view(SharedJinjaIndexPageView),
            },
            # Validation pages only: GX's suite pages cannot render suite parameters ({"$PARAMETER": ...}
            # in `mostly`) and log a traceback per expectation; segmint profiles nothing.
            "site_section_builders": {
                "expectations": "None",
                "profiling": "None",
                "validations": {"view": _view(SharedJinjaPageView)},
            },
        }
        self.context.variables.data_docs_sites = sites
        self.context.variables.save()
        install_assets(self.docs_dir)
        source = self.context.data_sources.add_or_update_pandas(DATASOURCE)
        self.suites: dict[str, Suite] = load_suites()
        self._checkpoints: dict[str, Any] = {}
        # Per suite and scope with whole-table expectations, the suite without them: chunks after the first
        # need not compute what SQL computes on the whole table (chunks.py).
        self._row_definitions: dict[str, Any] = {}
        for suite in self.suites.values():
            for scope in ("batch", "table"):
                if not suite.for_scope(scope):
                    continue
                name = suite.gx_name(scope)
                gx_suite = self.context.suites.add_or_update(ExpectationSuite(**suite.gx_json(scope)))
                asset = next(
                    (a for a in source.assets if a.name == name), None
                ) or source.add_dataframe_asset(name)
                batch = next((b for b in asset.batch_definitions if b.name == "frame"), None)
                batch = batch or asset.add_batch_definition_whole_dataframe("frame")
                definition = self.context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
                )
                rows_only = [
                    dict(e.config) for e in suite.for_scope(scope) if e.type not in chunks.WHOLE_TABLE
                ]
                if len(rows_only) < len(suite.for_scope(scope)):
                    rows_suite = self.context.suites.add_or_update(
                        ExpectationSuite(
                            name=f"{name}.rows", expectations=rows_only, meta={"segmint_rows_of": name}
                        )
                    )
                    self._row_definitions[name] = self.context.validation_definitions.add_or_update(
                        gx.ValidationDefinition(name=f"{name}.rows", data=batch, suite=rows_suite)
                    )
                self._checkpoints[name] = self.context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=name,
                        validation_definitions=[definition],
                        # Each result's page is rendered after its run (_render), the index when asked.
                        actions=[],
                        result_format=_result_format(10),
                    )
                )

    def validate(
        self,
        table: str,
        scope: Scope,
        frame: pd.DataFrame | pa.Table,
        parameters: dict[str, Any],
        *,
        batch: str,
        run_id: str,
        index_columns: list[str],
        sample_rows: int = 10,
        chunk_rows: int | None = None,
        index: bool = True,
    ) -> list[CheckResult]:
        """Validate a frame against a table's suite for one scope; one result per expectation.

        Past `chunk_rows` rows (`[quality] chunk_rows`), GX sees the rows in chunks of that size and the
        results are combined as if it had seen them whole (chunks.py). The result's page is rendered at
        once; the docs index too unless `index` is False (then build_index() renders it, once for many).
        """
        import pyarrow as pa

        from segmint.quality.frames import arrow_frame

        if chunk_rows is not None and len(frame) > chunk_rows:
            return self._validate_chunks(
                table, scope, frame, parameters, batch, run_id, index_columns, sample_rows, chunk_rows, index
            )
        whole = arrow_frame(frame) if isinstance(frame, pa.Table) else frame
        suite = self.suites[table]
        checkpoint = self._checkpoints[suite.gx_name(scope)]
        self._set_result_format(checkpoint, sample_rows)
        with warnings.catch_warnings(), _collected():
            warnings.simplefilter("ignore")
            checked = checkpoint.run(
                batch_parameters={"dataframe": _vectorised(whole)},
                expectation_parameters=parameters,
                run_id=_run_identifier(run_id, batch),
            )
        ((key, outcome),) = checked.run_results.items()
        self._render(key, index)
        by_key = {e.key: e for e in suite.for_scope(scope)}
        results = []
        for item in outcome.results:
            expect = by_key[_key(item)]
            raw = dict(item.result or {})
            sample = _sample(
                whole, expect, index_columns, raw.get("partial_unexpected_index_list"), sample_rows
            )
            results.append(_check_result(table, batch, expect, item, parameters, sample))
        return results

    def _validate_chunks(
        self,
        table: str,
        scope: Scope,
        rows: pd.DataFrame | pa.Table,
        parameters: dict[str, Any],
        batch: str,
        run_id: str,
        index_columns: list[str],
        sample_rows: int,
        chunk_rows: int,
        index: bool = True,
    ) -> list[CheckResult]:
        """GX on `chunk_rows` rows at a time; one combined result per expectation, stored and rendered once."""
        import pyarrow as pa

        from segmint.quality.frames import arrow_frame

        suite = self.suites[table]
        checkpoint = self._checkpoints[suite.gx_name(scope)]
        (definition,) = checkpoint.validation_definitions
        self._set_result_format(checkpoint, sample_rows)
        expects = suite.for_scope(scope)
        by_key = {e.key: e for e in expects}
        whole = chunks.whole_table_facts(rows, expects, parameters, sample_rows)
        tallies = {e.key: chunks.Tally() for e in expects}
        identifier = _run_identifier(run_id, batch)
        outcome: Any = None
        rows_only = self._row_definitions.get(suite.gx_name(scope))
        for offset in range(0, len(rows), chunk_rows):
            piece = (
                rows.slice(offset, chunk_rows)
                if isinstance(rows, pa.Table)
                else rows.iloc[offset : offset + chunk_rows]
            )
            chunk = arrow_frame(piece) if isinstance(piece, pa.Table) else piece.reset_index(drop=True)
            with warnings.catch_warnings(), _collected():
                warnings.simplefilter("ignore")
                # The validation definition alone (no docs page per chunk); the combined result gets one below.
                # The first chunk gives a result for every expectation; later ones skip the whole-table ones.
                run = definition if offset == 0 or rows_only is None else rows_only
                checked = run.run(
                    checkpoint_id=checkpoint.id,
                    batch_parameters={"dataframe": _vectorised(chunk)},
                    expectation_parameters=parameters,
                    result_format=checkpoint.result_format,
                    run_id=identifier,
                )
            if run is definition:
                outcome = checked
            else:
                self._forget(run, checked, identifier)
            for item in checked.results:
                key = _key(item)
                tally = tallies[key]
                raw = dict(item.result or {})
                tally.add(raw, bool(item.success), dict(item.exception_info or {}), offset, sample_rows)
                if len(tally.sample) < sample_rows and by_key[key].type not in chunks.WHOLE_TABLE:
                    positions = raw.get("partial_unexpected_index_list")
                    room = sample_rows - len(tally.sample)
                    tally.sample += _sample(chunk, by_key[key], index_columns, positions, room)
            for key, facts in whole.items():
                # Duplicates SQL found: their first rows, whichever chunks they are in.
                tally = tallies[key]
                if by_key[key].type in chunks.UNIQUE and len(tally.sample) < sample_rows:
                    room = sample_rows - len(tally.sample)
                    positions = chunks.duplicate_rows(chunk, facts)
                    tally.sample += _sample(chunk, by_key[key], index_columns, positions, room)
            del chunk, piece
        for item in outcome.results:
            key = _key(item)
            _combine(item, by_key[key], tallies[key], whole.get(key), parameters)
        _restate(outcome, chunk_rows, len(rows))
        self._publish(definition, outcome, identifier, index)
        return [
            _check_result(table, batch, by_key[_key(item)], item, parameters, tallies[_key(item)].sample)
            for item in outcome.results
        ]

    def _forget(self, definition: Any, checked: Any, identifier: Any) -> None:
        """Drop a later chunk's stored result: only the combined one belongs in the store and the docs."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=definition.suite.name),
            run_id=identifier,
            batch_identifier=checked.batch_id,
        )
        store: Any = self.context.validation_results_store  # untyped in GX
        if store.has_key(key):
            store.remove_key(key)

    def _publish(self, definition: Any, outcome: Any, identifier: Any, index: bool) -> None:
        """Store the combined result over the last chunk's and render its page, as after Checkpoint.run."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        suite_id = ExpectationSuiteIdentifier(name=definition.suite.name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=identifier, batch_identifier=outcome.batch_id
        )
        store: Any = self.context.validation_results_store  # untyped in GX
        store.store_validation_results(
            suite_validation_result=outcome,
            suite_validation_result_identifier=key,
            expectation_suite_identifier=suite_id,
        )
        self._render(key, index)

    def _render(self, key: Any, index: bool) -> None:
        """Render a stored result's page (and the docs index when `index`), as UpdateDataDocsAction did.

        The index lists every result kept (docs_keep_days of nights): rendering it after each of a
        night's batches cost more than validating the batch, once the docs held a few weeks.
        """
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        suite = ExpectationSuiteIdentifier(name=key.expectation_suite_identifier.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.context.build_data_docs(
                site_names=[DOCS_SITE], resource_identifiers=[key, suite], build_index=index
            )

    def build_index(self) -> None:
        """Render the docs index (the pages are rendered as results come): after validate(index=False)."""
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        # Naming only suites (whose pages are not built, see site_section_builders) renders just the index.
        identifiers = [ExpectationSuiteIdentifier(name=n) for n in self._checkpoints]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=identifiers)

    @staticmethod
    def _set_result_format(checkpoint: Any, sample_rows: int) -> None:
        result_format = _result_format(sample_rows)
        if checkpoint.result_format != result_format:
            # Saved, or GX refuses to run a Checkpoint changed since it was stored ([quality] sample_rows).
            checkpoint.result_format = result_format
            checkpoint.save()

    def build_docs(self, run_id: str | None = None, *, keep_days: int = 30) -> Path:
        """Drop results older than keep_days from the docs and refresh the index (all pages when run_id is None).

        Each validation's page was rendered when its Checkpoint ran (_render); here the
        run's suite pages and the index are rebuilt, so the index lists exactly the results kept.
        """
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        store: Any = self.context.validation_results_store  # untyped in GX
        cutoff = datetime.now(UTC) - timedelta(days=keep_days)
        for key in store.list_keys():
            if not isinstance(key, ValidationResultIdentifier):
                continue
            run_time = key.run_id.run_time
            if run_time.tzinfo is None:
                run_time = run_time.replace(tzinfo=UTC)
            if run_time < cutoff:
                store.remove_key(key)
                self._remove_page(key)
        # The index (and the run's pages again when run_id is None); no identifiers means every page, so a
        # run's call names the suites, whose pages are not built (see site_section_builders).
        identifiers = (
            None if run_id is None else [ExpectationSuiteIdentifier(name=n) for n in self._checkpoints]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=identifiers)
        return self.docs_dir / "index.html"

    def _remove_page(self, key: Any) -> None:
        suite = key.expectation_suite_identifier.name
        page = self.docs_dir / "validations" / suite / str(key.run_id.run_name)
        if page.is_dir():
            shutil.rmtree(page / key.run_id.run_time.strftime("%Y%m%dT%H%M%S.%fZ"), ignore_errors=True)


def _view(cls: type) -> dict[str, str]:
    """A GX view's class as site configuration names it."""
    return {"module_name": cls.__module__, "class_name": cls.__name__}


def _result_format(sample_rows: int) -> dict[str, Any]:
    # GX looks up `unexpected_index_column_names` row by row for every failing row (minutes for a broken
    # million-row batch); the first failing rows' positions are enough to name them here.
    return {
        "result_format": "SUMMARY",
        "partial_unexpected_count": sample_rows,
        "return_unexpected_index_query": False,
    }


def _run_identifier(run_id: str, batch: str) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=f"{run_id} {batch}", run_time=datetime.now(UTC))


def _key(item: Any) -> str:
    """segmint's key of a GX expectation result (in its meta)."""
    config = item.expectation_config
    meta = (config.meta if config is not None else None) or {}
    return str(meta.get("key"))


def _check_result(
    table: str,
    batch: str,
    expect: Expect,
    item: Any,
    parameters: dict[str, Any],
    sample: list[dict[str, Any]],
) -> CheckResult:
    """segmint's record of one GX expectation result."""
    raw: dict[str, Any] = dict(item.result or {})
    observed: dict[str, Any] = {k: raw[k] for k in _OBSERVED_KEYS if k in raw}
    observed["kwargs"] = chunks.resolved(expect.kwargs, parameters)
    exception = dict(item.exception_info or {})
    if exception.get("raised_exception"):
        # A broken expectation must not pass silently: it fails, with GX's message.
        observed["error"] = str(exception.get("exception_message"))
    return CheckResult(
        suite=table,
        batch=batch,
        key=expect.key,
        title=expect.title,
        # GX's own field, as the suite file sets it (suites.py checks it is one of ours).
        severity=_severity(item.expectation_config, expect),
        success=bool(item.success) and not observed.get("error"),
        unexpected_count=raw.get("unexpected_count"),
        element_count=raw.get("element_count"),
        observed=observed,
        sample=sample,
    )


def _combine(
    item: Any,
    expect: Expect,
    tally: chunks.Tally,
    facts: chunks.WholeFacts | None,
    parameters: dict[str, Any],
) -> None:
    """Turn the last chunk's GX result for an expectation into the whole table's."""
    kwargs = chunks.resolved(expect.kwargs, parameters)
    if tally.exception is not None:
        item.exception_info, item.success = tally.exception, False
        return
    if expect.type in chunks.WHOLE_TABLE and facts is None:
        item.success = False
        item.exception_info = {
            "raised_exception": True,
            "exception_message": f"{expect.type} could not be computed on the whole table",
            "exception_traceback": None,
        }
    elif facts is not None and expect.type in chunks.UNIQUE:
        considered = int(facts.element_count or 0) - int(facts.missing_count or 0)
        unexpected = int(facts.unexpected_count or 0)
        item.success = chunks.mostly_success(considered, unexpected, kwargs.get("mostly"))
        values = [
            tuple(s.get(c) for c in facts.columns) if len(facts.columns) > 1 else s.get(facts.columns[0])
            for s in tally.sample
        ]
        item.result = chunks.map_result(
            int(facts.element_count or 0), facts.missing_count, unexpected, values, []
        )
    elif facts is not None:  # median, row count
        item.success = chunks.between(facts.observed_value, kwargs.get("min_value"), kwargs.get("max_value"))
        item.result = {"observed_value": facts.observed_value}
    elif expect.type in chunks.SAME_EVERY_CHUNK:
        item.success, item.result = tally.first_success, dict(tally.first or {})
    elif tally.map_like:
        item.success, item.result = tally.combined(kwargs.get("mostly"))
    else:
        item.success = False
        item.exception_info = {
            "raised_exception": True,
            "exception_message": f"{expect.type} cannot be combined over chunks; raise [quality] chunk_rows",
            "exception_traceback": None,
        }


def _restate(outcome: Any, chunk_rows: int, rows: int) -> None:
    """The suite result's success and statistics from its combined expectation results."""
    results = outcome.results
    passed = sum(bool(r.success) for r in results)
    outcome.success = passed == len(results)
    outcome.statistics = {
        "evaluated_expectations": len(results),
        "successful_expectations": passed,
        "unsuccessful_expectations": len(results) - passed,
        "success_percent": passed / len(results) * 100 if results else None,
    }
    outcome.meta["segmint_chunks"] = {"rows": rows, "chunk_rows": chunk_rows}


def _severity(config: Any, expect: Expect) -> Severity:
    """The severity GX reports for a result (its own field), else the suite file's."""
    value = getattr(getattr(config, "severity", None), "value", None)
    return value if value in SEVERITIES else expect.severity  # type: ignore[return-value]


def _sample(
    frame: pd.DataFrame, expect: Expect, index_columns: list[str], positions: list[Any] | None, rows: int
) -> list[dict[str, Any]]:
    """The failing rows GX pointed at: the checked columns' values and the row's ids."""
    kwargs = expect.kwargs
    checked = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    checked += list(kwargs.get("column_list") or [])
    columns = [c for c in dict.fromkeys([*checked, *index_columns]) if c in frame.columns]
    return [{c: plain(frame.at[position, c]) for c in columns} for position in (positions or [])[:rows]]


def _vectorised(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with nullable integer columns as floats, which GX's between checks compare vectorised.

    GX compares pandas' nullable Int columns (a column of integers with a gap) value by value in
    Python: seconds for a million-row batch with one unreadable quantity. Floats hold the same values
    (up to 2**53) and NaN for the gaps, which GX skips as it skips NA. Samples come from the original.
    """
    import numpy as np
    import pandas as pd

    floats = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(
            column
        ):
            values = column.to_numpy(dtype="float64", na_value=np.nan)
            if np.nanmax(np.abs(values), initial=0) <= _EXACT_FLOAT:
                floats[name] = pd.Series(values, index=frame.index)
    return frame.assign(**floats) if floats else frame


_EXACT_FLOAT = 2**53


@contextmanager
def _collected() -> Iterator[None]:
    """Free the reference cycles a validation leaves, walking only the objects made during it.

    GX leaves its metrics (filtered copies of the frame) in reference cycles that Python's collector
    reaches only now and then: without a collection after each validation, loading 50 million-row files
    peaked 1.5 GB higher. A full collection walks every object of the process, most of them the modules
    of GX, pandas and Prefect (0.6 s a validation on a busy 2-core machine): the objects alive before the
    validation are frozen meanwhile (none of them is its garbage), so the collection walks only the new.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()


def engine(output_dir: Path) -> Engine:
    """The process's Great Expectations engine for an output folder (created on first use)."""
    key = output_dir.resolve()
    with _lock:
        if key not in _engines:
            _engines[key] = Engine(key)
        return _engines[key]
