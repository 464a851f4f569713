-- Data quality: every check's outcome, batches held back by write-audit-publish (with a copy of their
-- rows, so nothing is lost and a replay needs no source file), publication decisions and alerts sent.

-- One row per check per batch per run: Great Expectations results and the SQL checks alike.
create table if not exists validation_results (
    run_id varchar not null,
    suite varchar not null,               -- the table's suite: orders, order_lines, customers, events, customer_features
    batch varchar not null,               -- the file validated, 'night' for night checks, 'warehouse' or 'as_of YYYY-MM-DD'
    expectation varchar not null,         -- the expectation's key in the suite (meta.key)
    title varchar,                        -- what the expectation says, in a sentence
    severity varchar not null,            -- critical (blocks) | warning (reported)
    success boolean not null,
    unexpected_count bigint,              -- failing rows (null for table-level expectations)
    element_count bigint,                 -- rows checked
    observed varchar,                     -- JSON: observed value, bounds used, or why a check was skipped
    sample varchar,                       -- JSON list: up to 10 failing rows, their ids and values
    validated_at timestamp not null
);

-- A batch that failed a critical check: not merged, kept until it is replayed or replaced.
create table if not exists held_batches (
    run_id varchar not null,              -- the run that held it
    source varchar not null,
    kind varchar not null,                -- orders | events | customers
    path varchar not null,
    sha256 varchar not null,
    rows_read bigint not null,            -- every row is kept in held_rows: rows_read = rows_held
    columns varchar not null,             -- JSON list of the file's columns, in order
    min_at timestamp,                     -- time range of the batch's rows, to recognise a replacement file
    max_at timestamp,
    reason varchar not null,              -- the failed critical checks, one line
    held_at timestamp not null,
    status varchar not null,              -- held | replayed | superseded
    resolved_by varchar,                  -- the run that replayed it or loaded its replacement
    resolved_at timestamp
);

-- The rows of held batches exactly as read (text), deleted once the batch is published.
create table if not exists held_rows (
    sha256 varchar not null,
    row_number bigint not null,
    raw_record varchar not null           -- JSON object: column -> text
);

-- Why tonight's segments were or were not published.
create table if not exists publication_decisions (
    run_id varchar not null,              -- the pipeline run
    as_of date not null,
    segment_run_id varchar,               -- the segmentation judged (null when none was computed)
    published boolean not null,
    reasons varchar not null,             -- JSON list of sentences; empty when published
    kept_run_id varchar,                  -- the published segmentation that stays current when not published
    decided_at timestamp not null
);

-- Every alert delivery attempt series: one row per channel per run.
create table if not exists alerts_sent (
    run_id varchar not null,
    channel varchar not null,             -- email | webhook
    target varchar not null,              -- recipients, or the webhook host (never the secret URL)
    subject varchar not null,
    success boolean not null,
    attempts integer not null,
    error varchar,
    sent_at timestamp not null
);

-- Row accounting per file: every row read is loaded, quarantined or held (a superseded batch's rows
-- stay in held_rows). A replayed batch appears once, through its loaded_files row.
create or replace view file_accounting as
select source, path, sha256, run_id, 'loaded' as status, rows_read, rows_loaded, rows_quarantined,
    0::bigint as rows_held
from loaded_files
union all
select source, path, sha256, run_id, status, rows_read, 0, 0, rows_read
from held_batches
where status in ('held', 'superseded');
