-- Overlapping exports, changed orders and currencies.
-- A row identical to one already loaded is skipped and counted in loaded_files.rows_duplicate (no longer
-- quarantined); a row whose key was loaded before with other content replaces the stored version, which
-- is kept in a *_history table with the run and time it was replaced. Orders in another currency than the
-- shop's base currency are converted; the amounts as exported stay beside the converted ones.

-- Beside orders (not new columns of it, so every writer of orders and order_lines keeps its column list):
-- per order the md5 of its content as exported (header fields and every line), to recognise an identical
-- repeat by one comparison joined on the file's order ids, and its amount and currency as exported. Orders
-- loaded before 007 have no row here until a file repeats them (then it is computed from the stored rows).
create table if not exists order_originals (
    order_id varchar not null,
    content_hash varchar not null,
    original_currency varchar,          -- the currency as exported (null: none given, the base currency)
    original_revenue decimal(18, 4),    -- revenue in original_currency
    original_refunded_amount decimal(18, 4),
    exchange_rate decimal(18, 8)        -- base units per 1 original unit; 1 when no conversion was needed
);

-- The lines of converted orders as exported (orders that needed no conversion have none: stored = original).
create table if not exists order_line_originals (
    order_id varchar not null,
    line_no integer not null,
    original_unit_price decimal(18, 4),
    original_line_revenue decimal(18, 4)
);

-- Before 007 every repeated key was quarantined and counted in rows_quarantined and in rows_duplicate;
-- from now on rows_duplicate counts rows skipped as identical, disjoint from rows_quarantined. The old
-- repeats stay where they went (the quarantine table), so their files count them as quarantined only.
update loaded_files set rows_duplicate = 0;

create table if not exists orders_history (
    order_id varchar not null,
    customer_id varchar,
    ordered_at timestamp,
    is_cancellation boolean,
    is_voided boolean,
    revenue decimal(18, 4),
    currency varchar,
    country varchar,
    refunded_amount decimal(18, 4),
    source_file varchar,
    content_hash varchar,
    original_currency varchar,
    original_revenue decimal(18, 4),
    exchange_rate decimal(18, 8),
    replaced_by_run varchar not null,   -- the run whose file replaced this version
    replaced_by_file varchar not null,
    replaced_at timestamp not null
);

create table if not exists order_lines_history (
    order_id varchar not null,
    line_no integer,
    product_id varchar,
    product_name varchar,
    category varchar,
    quantity integer,
    unit_price decimal(18, 4),
    line_revenue decimal(18, 4),
    original_unit_price decimal(18, 4),
    original_line_revenue decimal(18, 4),
    replaced_by_run varchar not null,
    replaced_by_file varchar not null,
    replaced_at timestamp not null
);

create table if not exists events_history (
    event_id varchar not null,
    occurred_at timestamp,
    customer_id varchar,
    session_id varchar,
    event_type varchar,
    product_id varchar,
    price decimal(18, 4),
    category varchar,
    source_file varchar,
    replaced_by_run varchar not null,
    replaced_by_file varchar not null,
    replaced_at timestamp not null
);

create table if not exists customers_history (
    customer_id varchar not null,
    email varchar,
    country varchar,
    first_seen_at timestamp,
    marketing_consent boolean,
    source_file varchar,
    replaced_by_run varchar not null,
    replaced_by_file varchar not null,
    replaced_at timestamp not null
);

-- [shop] exchange_rates as last read: rate = units of the base currency per 1 unit of `currency`, valid
-- from `day` until the next day listed for that currency.
create table if not exists exchange_rates (
    day date not null,
    currency varchar not null,
    rate decimal(18, 8) not null,
    source_file varchar not null,
    loaded_at timestamp not null
);

-- The shop's base currency: from [shop] currency, else the most common currency of the first orders
-- file loaded. The latest row is in force (segmint.currency.base_currency).
create table if not exists base_currency (
    currency varchar not null,
    decided_from varchar not null,      -- 'config' or the orders file it was taken from
    decided_at timestamp not null
);

-- Row accounting per file: rows_read = rows_loaded + rows_quarantined + rows_duplicate + rows_held.
create or replace view file_accounting as
select source, path, sha256, run_id, 'loaded' as status, rows_read, rows_loaded, rows_quarantined,
    rows_duplicate, 0::bigint as rows_held
from loaded_files
union all
select source, path, sha256, run_id, status, rows_read, 0, 0, 0, rows_read
from held_batches
where status in ('held', 'superseded');
