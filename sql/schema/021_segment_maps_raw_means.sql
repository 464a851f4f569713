-- Segmentation stores what the report shows of a run, so the report only reads (issue 12): the customer
-- map it drew, and each feature's means in customer_features' own units beside the clustering's z-scores.

-- The customer map of a segment run: the first two principal components of the space its customers were
-- clustered in, over a deterministic sample stratified by segment (segmint.segment.customer_map);
-- grain (run_id). A run whose map could not be drawn has no points and says why in unavailable_reason.
create table if not exists segment_maps (
    run_id varchar not null,
    n_sampled bigint not null,          -- customers drawn
    n_total bigint not null,            -- customers in the run
    explained_x double,                 -- share of the sample's variance along each axis
    explained_y double,
    unavailable_reason varchar          -- null when the map was drawn; else why not, in one sentence
);

-- The points of a run's customer map; grain (run_id, customer_id).
create table if not exists segment_map_points (
    run_id varchar not null,
    customer_id varchar not null,
    segment_id integer not null,
    x double not null,
    y double not null
);

-- segment_features' segment_mean and base_mean are in the clustering's filled and logged space: these are
-- the same means in the feature's own units (nulls left out), as the report shows them.
alter table segment_features add column if not exists raw_segment_mean double;
alter table segment_features add column if not exists raw_base_mean double;

-- The whole base's mean of every feature a profile carries (segment_profiles.mean_<feature>), in the
-- feature's own units: JSON {feature: mean}.
alter table segment_runs add column if not exists base_means varchar;
