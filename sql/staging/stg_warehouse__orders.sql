-- Orders known at the end of the as-of day (point in time: ordered_at < as_of + 1 day).
-- Grain: one row per order. Key: order_id.
-- The as-of date comes from the session variable `as_of` (set by segmint.features).
with

source as (
    select * from orders
),

final as (
    select
        order_id,
        customer_id,
        ordered_at,
        is_cancellation,
        coalesce(is_voided, false) as is_voided,
        cast(coalesce(refunded_amount, 0) as decimal(18, 4)) as refunded_amount
    from source
    where ordered_at < getvariable('as_of') + interval 1 day
)

select * from final
