-- Customer features per night, the RFM rule table, and the history of segmentations.
-- Grain and keys are enforced by the code that writes them (delete + insert per as_of or per run)
-- and checked by tests; no key constraints, for the same memory reason as in 001_core.sql.

-- One row per (as_of, customer_id): everything known about a customer at the end of as_of.
create table if not exists customer_features (
    as_of date not null,
    customer_id varchar not null,
    is_prospect boolean not null,                 -- no non-cancelled order up to as_of
    recency_days integer,                         -- null for prospects
    frequency integer not null,                   -- distinct non-cancelled orders
    monetary decimal(18, 4) not null,             -- net: cancellations and returns count negative
    avg_order_value decimal(18, 4),               -- monetary / frequency; null for prospects
    tenure_days integer,                          -- since the first non-cancelled order
    return_rate double,                           -- orders with a cancellation, return or refund / all orders
    distinct_products integer not null,
    distinct_categories integer not null,
    mean_days_between_orders double,              -- null below two orders
    first_order_at timestamp,
    last_order_at timestamp,
    sessions_30d integer not null,
    product_views_30d integer not null,
    add_to_carts_30d integer not null,
    cart_abandonment_rate_30d double,             -- null without a session with an add_to_cart
    view_to_purchase_rate_30d double,             -- null without a session with a product_view
    sessions_90d integer not null,
    product_views_90d integer not null,
    add_to_carts_90d integer not null,
    cart_abandonment_rate_90d double,
    view_to_purchase_rate_90d double,
    days_since_last_visit integer,                -- null without any event
    r_score tinyint,                              -- 1..5, null for prospects
    f_score tinyint,
    m_score tinyint,
    fm_score tinyint,                             -- rounded mean of f_score and m_score
    rfm_segment varchar,                          -- from rfm_segments; null for prospects
    -- extras beyond the contract
    orders_total integer not null,                -- every order, cancellations included
    cancelled_orders integer not null,
    gross_revenue decimal(18, 4) not null,        -- non-cancelled positive lines only
    returned_value decimal(18, 4) not null,       -- cancellations, returns and refunds, as a positive amount
    orders_90d integer not null,
    monetary_90d decimal(18, 4) not null,
    first_seen_at timestamp,
    country varchar,
    marketing_consent boolean,
    computed_at timestamp not null
);

-- The RFM rule table, copied from sql/marts/rfm_segments.sql on every feature build.
create table if not exists rfm_segments (
    rfm_segment varchar not null,
    r_min tinyint not null,
    r_max tinyint not null,
    fm_min tinyint not null,
    fm_max tinyint not null,
    description varchar not null,
    action varchar not null
);

-- One row per segmentation run; the published run for an as_of is the current one.
create table if not exists segment_runs (
    run_id varchar not null,
    as_of date not null,
    created_at timestamp not null,
    algorithm varchar not null,
    mode varchar not null,                        -- recluster | assign (classified by the last re-cluster's model)
    k integer not null,
    k_criterion varchar,                          -- how k was chosen
    silhouette double,                            -- on a sample of at most sample_size customers
    davies_bouldin double,
    calinski_harabasz double,
    n_customers bigint not null,
    previous_run_id varchar,                      -- the published run this one was aligned to
    stability_ari double,                         -- adjusted Rand index vs previous_run_id on common customers
    kept_segment_share double,                    -- share of common customers whose segment id stayed the same
    max_segment_share double,
    features varchar not null,                    -- JSON list of the features clustered
    settings varchar not null,                    -- JSON of the segmentation settings used
    model_run_id varchar,                         -- the re-cluster run whose model assigned this run
    rf_accuracy double,                           -- held-out accuracy of the explaining random forest
    published boolean not null,
    published_at timestamp,
    status_reason varchar not null,               -- why (not) published
    seconds double
);

-- Scores of every k tried during a re-cluster.
create table if not exists segment_k_scores (
    run_id varchar not null,
    k integer not null,
    silhouette double,
    davies_bouldin double,
    calinski_harabasz double,
    bootstrap_ari double,                         -- mean ARI between clusterings of bootstrap samples
    bic double,                                   -- of a Gaussian mixture with k components
    chosen boolean not null
);

create table if not exists segment_assignments (
    run_id varchar not null,
    customer_id varchar not null,
    segment_id integer not null,
    segment_name varchar not null,
    distance double,                              -- to the segment centroid, scaled space
    assigned_by varchar not null                  -- cluster | forest
);

create table if not exists segment_profiles (
    run_id varchar not null,
    segment_id integer not null,
    segment_name varchar not null,
    size bigint not null,
    share double not null,
    revenue_share double,
    description varchar not null,
    defining_features varchar not null,           -- JSON: [{feature, z, direction}] strongest first
    top_features varchar not null,                -- JSON: [{feature, importance}] from permutation importance
    rf_precision double,                          -- held-out, of the random forest for this segment
    rf_recall double,
    rf_f1 double,
    lineage varchar not null,                     -- matched | appeared
    previous_segment_id integer,
    match_distance double,
    mean_recency_days double,
    mean_frequency double,
    mean_monetary double,
    mean_avg_order_value double,
    mean_tenure_days double,
    mean_return_rate double,
    mean_distinct_products double,
    mean_distinct_categories double,
    mean_mean_days_between_orders double,
    mean_sessions_30d double,
    mean_product_views_30d double,
    mean_add_to_carts_30d double,
    mean_cart_abandonment_rate_30d double,
    mean_view_to_purchase_rate_30d double,
    mean_sessions_90d double,
    mean_product_views_90d double,
    mean_add_to_carts_90d double,
    mean_cart_abandonment_rate_90d double,
    mean_view_to_purchase_rate_90d double,
    mean_days_since_last_visit double,
    prospect_share double
);

-- Per segment and feature: z-score against the whole base and the forest's permutation importance.
create table if not exists segment_features (
    run_id varchar not null,
    segment_id integer not null,
    feature varchar not null,
    segment_mean double,
    base_mean double,
    z_score double,
    importance double
);

-- Segments of the previous published run that found no match (vanished), per run.
create table if not exists segment_lineage (
    run_id varchar not null,
    segment_id integer not null,
    segment_name varchar not null,
    event varchar not null,                       -- matched | appeared | vanished
    previous_run_id varchar,
    previous_segment_id integer,
    match_distance double
);

-- What a re-cluster needs to assign later nights and to align the next one: the scaler,
-- the centroids (scaled space) and the pickled random forest.
create table if not exists segment_models (
    run_id varchar not null,
    features varchar not null,                    -- JSON list, the column order of the arrays below
    transform varchar not null,                   -- JSON: per feature log1p flag, fill value, center, scale
    centroids varchar not null,                   -- JSON: {segment_id: [..]} in the scaled space
    forest blob                                   -- pickle of the fitted RandomForestClassifier
);
