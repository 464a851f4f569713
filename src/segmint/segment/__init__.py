"""Segmentation: cluster customer features into stable, named, explained segments with history."""

from segmint.segment.history import current_run, segment_migration
from segmint.segment.publish import (
    GateCheck,
    Publication,
    decide_publication,
    gate_reasons,
    hold_run,
    publish_run,
)
from segmint.segment.run import SegmentationResult, TooFewCustomersError, segment_customers

__all__ = [
    "GateCheck",
    "Publication",
    "SegmentationResult",
    "TooFewCustomersError",
    "current_run",
    "decide_publication",
    "gate_reasons",
    "hold_run",
    "publish_run",
    "segment_customers",
    "segment_migration",
]
