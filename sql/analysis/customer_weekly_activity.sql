-- Orders and visit days of each customer in each of the last weeks up to the as-of day (point in time),
-- the activity timeline the autoencoder representation learns from (segmint.segment.representation).
-- Grain: one row per (customer_id, week) with any activity. Key: (customer_id, week).
-- week 0 is the 7 days ending with the as-of day, week 1 the 7 days before, ... up to $weeks - 1.
-- Orders leave out cancellations (records that offset an earlier order); a visit is a day with any event.
with

source_orders as (
    select customer_id, ordered_at
    from orders
    where customer_id is not null
        and not is_cancellation
        and ordered_at < $as_of::date + interval 1 day
        and ordered_at >= $as_of::date + interval 1 day - to_days(cast(7 * $weeks as integer))
),

source_events as (
    select customer_id, occurred_at
    from events
    where customer_id is not null
        and occurred_at < $as_of::date + interval 1 day
        and occurred_at >= $as_of::date + interval 1 day - to_days(cast(7 * $weeks as integer))
),

order_weeks as (
    select customer_id, date_diff('day', ordered_at::date, $as_of::date) // 7 as week, count(*) as orders
    from source_orders
    group by all
),

visit_weeks as (
    select customer_id, date_diff('day', day, $as_of::date) // 7 as week, count(*) as visit_days
    from (select distinct customer_id, occurred_at::date as day from source_events)
    group by all
),

final as (
    select customer_id, week, coalesce(orders, 0) as orders, coalesce(visit_days, 0) as visit_days
    from order_weeks full outer join visit_weeks using (customer_id, week)
)

select * from final
