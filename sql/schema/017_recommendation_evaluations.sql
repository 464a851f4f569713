-- Recommendations measured every night: each method trained on orders up to as_of - horizon_days and
-- judged on the horizon_days after (to as_of); grain (run_id, method). A night with too little history
-- stores no rows (prediction_runs.message says why).
create table if not exists recommendation_evaluations (
    run_id varchar not null,
    as_of date not null,
    train_end date not null,            -- last day of the orders the methods learnt from
    horizon_days integer not null,      -- judged period: (train_end, as_of]
    k integer not null,                 -- recommendations judged per customer (5)
    method varchar not null,            -- rules | neighbours | popularity
    customers_evaluated bigint not null,  -- bought before train_end and bought a product new to them after
    customers_recommended bigint not null,  -- of those, how many got at least one recommendation
    catalogue_items bigint not null,    -- products sold in the training window
    hit_rate_at_5 double not null,      -- share of judged customers with >= 1 of their k bought next
    precision_at_5 double not null,     -- recommended products bought next / k, averaged over judged customers
    coverage double not null,           -- distinct products recommended to judged customers / catalogue_items
    is_default boolean not null         -- the method that filled this run's basket_recommendations
);
