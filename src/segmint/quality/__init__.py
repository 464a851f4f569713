"""Data quality: Great Expectations suites, write-audit-publish, the publication gate and alerts.

- suites: the suite files in expectations/ (one per table; key, title, severity, scope per expectation)
- engine: Great Expectations once per process (file context under the output folder, data docs)
- frames: what GX validates (a batch as delivered, or a warehouse table) and the suites' parameters
- audit: the audit step `load_file` calls before merging a batch; holds it on a failed critical check
- night: SQL checks once per night (volume against recent nights, rejected files, batches waiting)
- gate: publish tonight's segments or keep the last good run, and why
- alerts, conclude: the email and webhook for a failed run, or one OK line
- replay, validate: `segmint replay RUN_ID` and `segmint validate`
- results: check outcomes as stored in validation_results
"""
