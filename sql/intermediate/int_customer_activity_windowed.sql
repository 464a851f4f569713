-- Web activity per identified customer over the trailing 30 and 90 days (the as-of day included),
-- and the days since their last visit ever.
-- Grain: one row per customer with any event. Key: customer_id.
-- A session belongs to a window when it started inside it; rates are over sessions:
-- cart abandonment = sessions with an add_to_cart and no purchase / sessions with an add_to_cart,
-- view to purchase = sessions with a product_view and a purchase / sessions with a product_view.
with

sessions as (
    select * from int_sessions_summarised
),

events as (
    select * from stg_warehouse__events
),

last_visits as (
    select customer_id, max(occurred_at) as last_visit_at
    from events
    group by customer_id
),

bounds as (
    select
        getvariable('as_of') as as_of,
        getvariable('as_of') + interval 1 day - interval 30 day as start_30d
),

flagged as (
    select
        sessions.*,
        sessions.started_at >= bounds.start_30d as in_30d
    from sessions
    cross join bounds
),

windowed as (
    select
        customer_id,
        cast(count(*) filter (where in_30d) as integer) as sessions_30d,
        cast(coalesce(sum(product_views) filter (where in_30d), 0) as integer) as product_views_30d,
        cast(coalesce(sum(add_to_carts) filter (where in_30d), 0) as integer) as add_to_carts_30d,
        count(*) filter (where in_30d and add_to_carts > 0 and not has_purchase)
            / nullif(count(*) filter (where in_30d and add_to_carts > 0), 0) as cart_abandonment_rate_30d,
        count(*) filter (where in_30d and product_views > 0 and has_purchase)
            / nullif(count(*) filter (where in_30d and product_views > 0), 0) as view_to_purchase_rate_30d,
        -- every session here started inside the 90 days (int_sessions_summarised reads only those)
        cast(count(*) as integer) as sessions_90d,
        cast(sum(product_views) as integer) as product_views_90d,
        cast(sum(add_to_carts) as integer) as add_to_carts_90d,
        count(*) filter (where add_to_carts > 0 and not has_purchase)
            / nullif(count(*) filter (where add_to_carts > 0), 0) as cart_abandonment_rate_90d,
        count(*) filter (where product_views > 0 and has_purchase)
            / nullif(count(*) filter (where product_views > 0), 0) as view_to_purchase_rate_90d
    from flagged
    group by customer_id
),

final as (
    -- counts stay null without a session in the 90 days: customer_features turns them into 0
    select
        last_visits.customer_id,
        windowed.* exclude (customer_id),
        cast(date_diff('day', cast(last_visits.last_visit_at as date), bounds.as_of) as integer)
            as days_since_last_visit
    from last_visits
    cross join bounds
    left join windowed on last_visits.customer_id = windowed.customer_id
)

select * from final
