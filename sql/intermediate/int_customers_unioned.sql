-- Every identified customer known by the end of the as-of day: registered, ordering or browsing.
-- Grain: one row per customer. Key: customer_id.
with

registered as (
    select * from stg_warehouse__customers
),

ordering as (
    select customer_id from int_customer_orders_aggregated
),

browsing as (
    select customer_id from int_customer_activity_windowed
),

ids as (
    select customer_id from registered
    union
    select customer_id from ordering
    union
    select customer_id from browsing
),

final as (
    select
        ids.customer_id,
        registered.first_seen_at,
        registered.country,
        registered.marketing_consent
    from ids
    left join registered on ids.customer_id = registered.customer_id
)

select * from final
