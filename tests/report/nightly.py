"""The nightly job's stages in order, as flows/nightly.py runs them, without Prefect: real ingest, checks,
features, segmentation, publication gate, predictions and the report, on a real warehouse file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from segmint import pipeline
from segmint.config import Settings, load_settings


def run_night(config: Path, day: date) -> tuple[Settings, pipeline.NightlyOutcome]:
    """One night of the shop at `config`; returns its settings and what the night did (report included)."""
    settings = load_settings(config)
    with pipeline.run_writer(settings):
        run_id = pipeline.begin_run(settings, "nightly", day)
        outcome = pipeline.NightlyOutcome(run_id=run_id, as_of=day)
        outcome.files = pipeline.ingest_sources(settings, run_id)
        outcome.messages += [f.message for f in outcome.files if f.status in ("rejected", "held")]
        outcome.checks = pipeline.check_night(settings, run_id, outcome.files)
        outcome.features = pipeline.build_features(settings, day)
        outcome.checks += pipeline.check_features(settings, run_id, day)
        segmented = pipeline.segment_or_reason(settings, run_id, day)
        if isinstance(segmented, str):
            outcome.messages.append(segmented)
        else:
            outcome.messages += segmented.messages
            outcome.segments = pipeline.publication_gate(settings, run_id, day, segmented.run_id)
            pipeline.publish_segments(settings, segmented.run_id, outcome.segments)
        outcome.quality = pipeline.conclude_quality(settings, run_id, day, outcome.segments)
        outcome.messages.append(outcome.quality.line)
        if not outcome.quality.data_failed:
            outcome.predictions = pipeline.predict(settings, run_id, day)
            if outcome.predictions is not None:
                outcome.messages += outcome.predictions.messages
        elif settings.predict.enabled:
            outcome.messages.append(
                "predictions not refreshed: tonight's data failed a critical check; the last good run stays in force"
            )
        outcome.status = "completed" if outcome.quality.ok else "held"
        outcome.report_path = pipeline.render_report(
            settings, day, run_id=run_id, status=outcome.status, message="; ".join(outcome.messages)
        )
    return settings, outcome
