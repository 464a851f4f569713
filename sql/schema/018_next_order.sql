-- Next order: when each customer is expected to order again and how likely within 30 days, from the night's
-- purchase model and the customer's own inter-order gaps (src/segmint/predict/next_order.py). Null where no
-- purchase model could be fitted.
alter table customer_predictions add column if not exists days_to_next_order integer;  -- from as_of
alter table customer_predictions add column if not exists next_order_date date;        -- as_of + days_to_next_order
alter table customer_predictions add column if not exists p_order_30d double;          -- P(an order in the next 30 days)

-- The same predictions made at the CLV check's calibration_end, judged on its holdout (null when the holdout
-- is shorter than 30 days or no purchase model was fitted).
alter table clv_validation add column if not exists next_order_n_customers bigint;
alter table clv_validation add column if not exists next_order_predicted_share double; -- mean p_order_30d
alter table clv_validation add column if not exists next_order_ordered_share double;  -- who ordered within 30 days
alter table clv_validation add column if not exists next_order_auc double;            -- of p_order_30d
alter table clv_validation add column if not exists next_order_auc_recency double;    -- baseline: days since last order
alter table clv_validation add column if not exists next_order_brier double;
alter table clv_validation add column if not exists next_order_brier_base double;     -- baseline: a constant share
alter table clv_validation add column if not exists next_order_n_dated bigint;        -- who ordered within the holdout
alter table clv_validation add column if not exists next_order_mae_days double;       -- of days_to_next_order, both capped at the holdout
alter table clv_validation add column if not exists next_order_mae_days_model double; -- the model's wait alone
alter table clv_validation add column if not exists next_order_mae_days_baseline double; -- last order + own mean gap
