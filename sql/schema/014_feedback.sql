-- Feedback as a source: product reviews (stars 1-5) and NPS survey answers (0-10), one row each, with
-- the customer features and segment profile columns derived from them. A shop without feedback keeps
-- these tables empty and these columns null (feedback_count 0).
create table if not exists feedback (
    feedback_id varchar not null,      -- the export's id, or one derived from the row's content
    submitted_at timestamp not null,
    customer_id varchar,               -- given, or found by e-mail among the customers when loaded
    email varchar,                     -- lower-cased; matched against customers at feature time too
    rating integer not null,           -- on `scale`: stars 1-5, nps 0-10
    scale varchar not null,            -- stars | nps
    order_id varchar,
    product_id varchar,
    text varchar,
    source_file varchar not null
);

create table if not exists feedback_history (
    feedback_id varchar not null,
    submitted_at timestamp,
    customer_id varchar,
    email varchar,
    rating integer,
    scale varchar,
    order_id varchar,
    product_id varchar,
    text varchar,
    source_file varchar,
    replaced_by_run varchar not null,
    replaced_by_file varchar not null,
    replaced_at timestamp not null
);

alter table customer_features add column if not exists feedback_count integer;       -- reviews and answers up to as_of (0 without)
alter table customer_features add column if not exists rating_mean double;           -- on the shop's scale; null without feedback
alter table customer_features add column if not exists rating_last integer;          -- the latest rating
alter table customer_features add column if not exists is_detractor boolean;         -- latest rating: nps 0-6, stars 1-2
alter table customer_features add column if not exists is_promoter boolean;          -- latest rating: nps 9-10, stars 5
alter table customer_features add column if not exists days_since_feedback integer;  -- as_of minus the latest feedback's day

alter table segment_profiles add column if not exists mean_feedback_count double;
alter table segment_profiles add column if not exists mean_rating_mean double;       -- over members with feedback
alter table segment_profiles add column if not exists mean_rating_last double;
alter table segment_profiles add column if not exists mean_is_detractor double;      -- share of members with feedback
alter table segment_profiles add column if not exists mean_is_promoter double;
alter table segment_profiles add column if not exists mean_days_since_feedback double;
alter table segment_profiles add column if not exists feedback_share double;         -- members with any feedback
