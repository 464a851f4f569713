-- What the churn scores of one horizon ago said, against what then happened, stored by each night's
-- prediction run (the report reads it instead of judging old scores at render time); grain (run_id).
-- No row when no earlier run with churn scores is a whole horizon old.
create table if not exists churn_backtests (
    run_id varchar not null,            -- the prediction run of the night that judged
    as_of date not null,
    horizon_days integer not null,
    predicted_run_id varchar not null,  -- the prediction run whose scores were judged
    predicted_as_of date not null,
    outcome_as_of date not null,        -- predicted_as_of + horizon_days
    n_customers bigint not null,
    predicted_churn_rate double,        -- mean churn score
    actual_churn_rate double,
    threshold double not null,
    precision double,
    recall double,
    f1 double,
    roc_auc double
);
