-- Core warehouse: what ingest loads, what it rejects, and the ledger of files and runs.
-- No primary-key constraints: DuckDB keeps an in-memory index per key, which costs gigabytes at
-- tens of millions of events; ingest guarantees uniqueness with anti-joins and tests check it.

create table if not exists orders (
    order_id varchar not null,
    customer_id varchar,               -- null for guest checkouts
    ordered_at timestamp not null,
    is_cancellation boolean not null,
    revenue decimal(18, 4) not null,   -- sum of line_revenue: negative for cancellations
    currency varchar,
    source_file varchar not null,
    country varchar,
    refunded_amount decimal(18, 4)
);

create table if not exists order_lines (
    order_id varchar not null,
    line_no integer not null,
    product_id varchar,
    product_name varchar,
    category varchar,
    quantity integer not null,
    unit_price decimal(18, 4) not null,
    line_revenue decimal(18, 4) not null
);

create table if not exists customers (
    customer_id varchar not null,
    email varchar,
    country varchar,
    first_seen_at timestamp,
    marketing_consent boolean,         -- null when the source has no consent column
    source_file varchar
);

create table if not exists events (
    event_id varchar not null,
    occurred_at timestamp not null,
    customer_id varchar,               -- null for anonymous browsing
    session_id varchar,
    event_type varchar not null,       -- page_view | product_view | add_to_cart | remove_from_cart | checkout | purchase
    product_id varchar,
    price decimal(18, 4),
    source_file varchar not null,
    category varchar
);

create table if not exists quarantine (
    run_id varchar,
    source varchar not null,
    source_file varchar not null,
    row_number bigint,
    raw_record varchar,                -- the row as read, JSON text
    reason varchar not null,
    quarantined_at timestamp not null
);

create table if not exists loaded_files (
    source varchar not null,
    path varchar not null,
    sha256 varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,  -- includes rows_duplicate
    loaded_at timestamp not null,
    run_id varchar,
    rows_duplicate bigint not null default 0
);

create table if not exists runs (
    run_id varchar not null,
    flow varchar not null,
    as_of date,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,           -- running | completed | failed | held
    code_version varchar,
    message varchar
);
