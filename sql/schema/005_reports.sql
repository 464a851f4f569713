-- Reports: one row per rendered weekly report, and when (and to whom) it was emailed.
-- Grain: report_id. A report can be rendered many times for the same as_of (each night, on demand);
-- the latest rendering of an as_of is the one on disk.

create table if not exists reports (
    report_id varchar not null,
    as_of date not null,               -- the last day of the reported week
    period_start date not null,        -- first day of the week (as_of - 6)
    segment_run_id varchar,            -- the published segment run shown; null when none existed
    path varchar not null,             -- the web report (self-contained HTML)
    email_path varchar,                -- the email as sent (.eml: MIME, charts inline by Content-ID)
    web_bytes bigint not null,
    email_bytes bigint,
    render_seconds double not null,
    rendered_at timestamp not null,
    sent_at timestamp,                 -- null until the email was accepted by the SMTP server
    recipients varchar                 -- comma-separated, as sent
);
