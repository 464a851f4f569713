-- Predictions and campaigns: lifetime value, churn, basket rules, recommendations, anomalies (one set per
-- prediction run), and the campaign ledger: what was sent to whom, who was held out, and what it achieved.
-- Like 001, no key constraints: the writers replace a run's rows in one transaction and tests check grains.

-- One row per prediction run: which as-of date and which published segment run it used.
create table if not exists prediction_runs (
    run_id varchar not null,
    as_of date not null,
    segment_run_id varchar,             -- null when no published segment run existed
    created_at timestamp not null,
    n_customers bigint not null,
    n_anomalies bigint not null,
    n_rules bigint not null,
    message varchar                     -- models skipped and why (too little history, ...)
);

-- Fitted lifetime-value models; grain (run_id, model).
create table if not exists clv_models (
    run_id varchar not null,
    as_of date not null,
    model varchar not null,             -- bgnbd | gamma_gamma
    params json not null,               -- bgnbd: r, alpha, a, b (weeks); gamma_gamma: p, q, gamma
    log_likelihood double not null,
    n_customers bigint not null,
    fit_seconds double
);

-- Per-customer predictions; grain (run_id, customer_id).
create table if not exists customer_predictions (
    run_id varchar not null,
    as_of date not null,
    customer_id varchar not null,
    segment_id integer,
    segment_name varchar,
    frequency_repeat bigint,            -- BG/NBD x: repeat purchase days up to as_of
    recency_weeks double,               -- BG/NBD t_x
    age_weeks double,                   -- BG/NBD T
    expected_purchases_90d double,
    p_alive double,
    clv_12m double,
    churn_score double,                 -- probability of no purchase in the next churn horizon
    is_anomaly boolean not null,
    anomaly_score double,               -- IsolationForest score: lower is more unusual
    anomaly_reason varchar
);

-- Churn model quality on a later period than it was trained on; grain (run_id).
create table if not exists churn_models (
    run_id varchar not null,
    as_of date not null,
    model varchar not null,             -- gradient_boosting | random_forest
    horizon_days integer not null,
    train_as_of date not null,          -- features at this date, labels from the following horizon
    valid_as_of date not null,          -- a later period: the reported metrics come from here
    n_train bigint not null,
    n_valid bigint not null,
    churn_rate_valid double not null,
    threshold double not null,
    precision double not null,
    recall double not null,
    f1 double not null,
    roc_auc double not null,
    baseline_precision double not null, -- recency-only baseline on the same periods
    baseline_recall double not null,
    baseline_f1 double not null,
    baseline_roc_auc double not null,
    features json not null,
    fit_seconds double
);

-- Association rules between product pairs, per segment ('all' = every basket); grain
-- (run_id, segment_name, antecedent, consequent).
create table if not exists basket_rules (
    run_id varchar not null,
    as_of date not null,
    segment_name varchar not null,
    antecedent varchar not null,
    consequent varchar not null,
    antecedent_name varchar,
    consequent_name varchar,
    n_baskets bigint not null,          -- baskets in the segment
    n_antecedent bigint not null,
    n_consequent bigint not null,
    n_pair bigint not null,
    support double not null,
    confidence double not null,
    lift double not null
);

-- Top-N products per customer from co-occurrence, never one they bought; grain (run_id, customer_id, rank).
create table if not exists basket_recommendations (
    run_id varchar not null,
    customer_id varchar not null,
    rank integer not null,
    product_id varchar not null,
    product_name varchar,
    score double not null
);

-- Unusual customers (IsolationForest); grain (run_id, customer_id).
create table if not exists anomalies (
    run_id varchar not null,
    as_of date not null,
    customer_id varchar not null,
    score double not null,
    reason varchar not null
);

-- The campaign ledger: one row per campaign built; campaign_id = <name>-<as_of yyyymmdd>.
create table if not exists campaigns (
    campaign_id varchar not null,
    name varchar not null,
    as_of date not null,                -- audiences were chosen from data up to this day
    built_at timestamp not null,
    prediction_run_id varchar,
    segment_run_id varchar,
    channel varchar not null,
    offer varchar,
    message_template varchar,
    featured_products varchar,          -- '|'-separated; empty = each customer's recommendations
    targeting varchar not null,         -- the segments / RFM rule, as written in the playbook
    holdout_share double not null,
    attribution_days integer not null,
    window_start date not null,         -- first day of the attribution window (as_of + 1)
    window_end date not null,           -- last day of the attribution window
    export_path varchar,
    n_treatment bigint not null,
    n_holdout bigint not null,
    n_excluded_consent bigint not null,  -- matched, but no marketing consent
    n_excluded_anomaly bigint not null,  -- matched, but flagged as an anomaly
    n_excluded_no_email bigint not null  -- matched an email campaign, but no address is known
);

-- Who was targeted (or held out) by which campaign; grain (campaign_id, customer_id).
create table if not exists campaign_audiences (
    campaign_id varchar not null,
    customer_id varchar not null,
    segment_name varchar,
    "group" varchar not null,           -- treatment | holdout
    email varchar,
    offer varchar,
    recommended_products varchar,
    targeted_at timestamp not null
);

-- Measured outcome per campaign and segment ('all' = the whole audience); grain (campaign_id, segment_name).
create table if not exists campaign_results (
    campaign_id varchar not null,
    segment_name varchar not null,
    measured_at timestamp not null,
    measured_as_of date not null,
    window_start date not null,
    window_end date not null,
    n_treatment bigint not null,
    n_holdout bigint not null,
    conversions_treatment bigint not null,
    conversions_holdout bigint not null,
    conversion_treatment double,
    conversion_holdout double,
    uplift_abs double,                  -- conversion difference, treatment minus holdout (fraction)
    uplift_ci_low double,               -- 95% two-proportion interval (Newcombe's hybrid score)
    uplift_ci_high double,
    uplift_rel double,                  -- uplift_abs / conversion_holdout
    p_value double,                     -- two-sided pooled two-proportion z-test
    revenue_per_customer_treatment double,
    revenue_per_customer_holdout double,
    revenue_uplift double,
    revenue_ci_low double,              -- 95% percentile bootstrap interval
    revenue_ci_high double,
    revenue_p_value double              -- Welch t-test
);
