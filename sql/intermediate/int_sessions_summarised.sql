-- Browsing sessions of identified customers in the 90 days ending with the as-of day (the longest
-- window a feature looks at; reading only those events keeps a million-customer night fast).
-- A session crossing the window's start counts with its part inside the window.
-- Grain: one row per (customer_id, session_key). Key: (customer_id, session_key).
with

events as (
    select * from stg_warehouse__events
    where occurred_at >= getvariable('as_of') + interval 1 day - interval 90 day
),

final as (
    select
        customer_id,
        session_key,
        min(occurred_at) as started_at,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        bool_or(event_type = 'purchase') as has_purchase
    from events
    group by customer_id, session_key
)

select * from final
