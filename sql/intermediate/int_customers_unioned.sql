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
        registered.marketing_consent,
        -- the age on the as-of day: the year's difference, as birth years come without a day
        year(getvariable('as_of')) - registered.birth_year as age,
        coalesce(
            registered.age_band,
            case
                when year(getvariable('as_of')) - registered.birth_year < 18 then 'under 18'
                when year(getvariable('as_of')) - registered.birth_year < 25 then '18-24'
                when year(getvariable('as_of')) - registered.birth_year < 35 then '25-34'
                when year(getvariable('as_of')) - registered.birth_year < 45 then '35-44'
                when year(getvariable('as_of')) - registered.birth_year < 55 then '45-54'
                when year(getvariable('as_of')) - registered.birth_year < 65 then '55-64'
                when registered.birth_year is not null then '65+'
            end
        ) as age_band,
        registered.gender,
        registered.city,
        registered.region
    from ids
    left join registered on ids.customer_id = registered.customer_id
)

select * from final
