-- Lifetime value that says when it cannot be trusted: every model fitted on the way to the scores is kept
-- in clv_models with whether it was used and, when it was rejected, why (a dropout parameter at its bound,
-- a spend distribution with no finite mean, predictions far outside the shop's history). Rows written
-- before this migration are the models that were used.
alter table clv_models add column used boolean default true;
alter table clv_models add column diagnosis varchar;   -- null: accepted; else why the fit was rejected

-- The nightly holdout check of lifetime value; grain (run_id). The purchase model is fitted on net
-- purchases up to calibration_end = as_of - holdout_days and predicts each customer's purchases (distinct
-- purchase days) in (calibration_end, as_of]; a naive baseline (each customer's past repeat-purchase rate)
-- predicts the same period.
create table if not exists clv_validation (
    run_id varchar not null,
    as_of date not null,
    calibration_end date not null,
    holdout_days integer not null,
    model varchar,                          -- bgnbd | mbgnbd: the purchase model the calibration fit used
    n_customers bigint not null,            -- customers with a purchase up to calibration_end
    actual_purchases double not null,       -- in the holdout, summed over those customers
    predicted_purchases double,
    purchases_ratio double,                 -- predicted / actual total
    purchases_mae double,                   -- mean absolute error per customer
    baseline_predicted_purchases double not null,
    baseline_ratio double,
    baseline_mae double not null,
    actual_revenue double not null,         -- net value of those purchases
    predicted_revenue double,               -- expected purchases x expected spend (undiscounted)
    revenue_ratio double,
    revenue_mae double,
    message varchar                         -- why the calibration fit was not reliable, when it was not
);
