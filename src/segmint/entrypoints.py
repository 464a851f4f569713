"""The two flows under importable names, for deployments on a work pool: a worker's flow run imports
`segmint.entrypoints.nightly` from the installed package, so no machine needs a clone or a flows/ copy.

The flows themselves stay in the analyst-editable flows/ folder (the wheel carries a copy); this module
loads them from wherever segmint is installed, as `segmint run` and `segmint serve` do.
"""

from __future__ import annotations

from segmint.resources import load_flow_module

nightly = load_flow_module("nightly").nightly
weekly_report = load_flow_module("weekly_report").weekly_report
