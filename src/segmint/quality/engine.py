"""Great Expectations, once per process: a file context under the output folder, the suites, data docs.

GX's SQL datasource cannot read DuckDB, so every batch is validated as a pandas frame taken from DuckDB,
through a Checkpoint per suite and scope whose UpdateDataDocsAction renders the result's page at once.
"""

from __future__ import annotations

import gc
import logging
import shutil
import threading
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmint.quality.results import CheckResult, plain
from segmint.quality.suites import SEVERITIES, Expect, Scope, Severity, Suite, load_suites

if TYPE_CHECKING:
    import pandas as pd
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
        from great_expectations.checkpoint.actions import UpdateDataDocsAction
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
        update_docs = UpdateDataDocsAction(name="update_data_docs", site_names=[DOCS_SITE])
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
                self._checkpoints[name] = self.context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=name,
                        validation_definitions=[definition],
                        actions=[update_docs],
                        result_format=_result_format(10),
                    )
                )

    def validate(
        self,
        table: str,
        scope: Scope,
        frame: pd.DataFrame,
        parameters: dict[str, Any],
        *,
        batch: str,
        run_id: str,
        index_columns: list[str],
        sample_rows: int = 10,
    ) -> list[CheckResult]:
        """Validate a frame against a table's suite for one scope; one result per expectation."""
        from great_expectations.core.run_identifier import RunIdentifier

        suite = self.suites[table]
        checkpoint = self._checkpoints[suite.gx_name(scope)]
        result_format = _result_format(sample_rows)
        if checkpoint.result_format != result_format:
            checkpoint.result_format = result_format
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checked = checkpoint.run(
                batch_parameters={"dataframe": _vectorised(frame)},
                expectation_parameters=parameters,
                run_id=RunIdentifier(run_name=f"{run_id} {batch}", run_time=datetime.now(UTC)),
            )
        (outcome,) = checked.run_results.values()
        # GX leaves its metrics (filtered copies of the frame) in reference cycles that Python's collector
        # reaches only now and then: without this, loading 50 million-row files peaked 1.5 GB higher.
        gc.collect()
        by_key = {e.key: e for e in suite.for_scope(scope)}
        results = []
        for item in outcome.results:
            config = item.expectation_config
            meta = (config.meta if config is not None else None) or {}
            expect = by_key[str(meta.get("key"))]
            raw: dict[str, Any] = dict(item.result or {})
            observed: dict[str, Any] = {k: raw[k] for k in _OBSERVED_KEYS if k in raw}
            observed["kwargs"] = {
                k: parameters.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v
                for k, v in expect.kwargs.items()
            }
            exception = dict(item.exception_info or {})
            if exception.get("raised_exception"):
                # A broken expectation must not pass silently: it fails, with GX's message.
                observed["error"] = str(exception.get("exception_message"))
            results.append(
                CheckResult(
                    suite=table,
                    batch=batch,
                    key=expect.key,
                    title=expect.title,
                    # GX's own field, as the suite file sets it (suites.py checks it is one of ours).
                    severity=_severity(config, expect),
                    success=bool(item.success) and not observed.get("error"),
                    unexpected_count=raw.get("unexpected_count"),
                    element_count=raw.get("element_count"),
                    observed=observed,
                    sample=_sample(
                        frame, expect, index_columns, raw.get("partial_unexpected_index_list"), sample_rows
                    ),
                )
            )
        return results

    def build_docs(self, run_id: str | None = None, *, keep_days: int = 30) -> Path:
        """Drop results older than keep_days from the docs and refresh the index (all pages when run_id is None).

        Each validation's page was rendered when its Checkpoint ran (UpdateDataDocsAction); here the
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


def engine(output_dir: Path) -> Engine:
    """The process's Great Expectations engine for an output folder (created on first use)."""
    key = output_dir.resolve()
    with _lock:
        if key not in _engines:
            _engines[key] = Engine(key)
        return _engines[key]
