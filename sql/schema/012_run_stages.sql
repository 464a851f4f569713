-- How long each stage of a run took and how much memory the run's process had used by its end: one row
-- per stage, written as the stage ends (the next stage starts, or the run ends).
create table if not exists run_stages (
    run_id varchar not null,
    stage varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null,
    seconds double not null,     -- wall time, from a monotonic clock
    peak_rss_mb double not null  -- the process's peak RSS so far (ru_maxrss): a high-water mark, not this stage's own use
);
