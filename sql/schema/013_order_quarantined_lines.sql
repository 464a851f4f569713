-- Orders loaded while some of their lines went to quarantine (a bad price, an unknown quantity): their
-- revenue is short until the lines are fixed and the file is loaded again. A later load of the whole
-- order (a corrected export, a replay) clears its row here.
create table if not exists order_quarantined_lines (
    order_id varchar not null,
    source_file varchar not null,
    run_id varchar not null,
    lines_loaded integer not null,
    lines_quarantined integer not null,
    recorded_at timestamp not null
);
