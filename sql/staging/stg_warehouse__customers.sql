-- Customers first seen by the end of the as-of day, with the details the features carry along.
-- Grain: one row per customer. Key: customer_id.
with

source as (
    select * from customers
),

final as (
    select
        customer_id,
        first_seen_at,
        country,
        marketing_consent,
        birth_year,
        age_band,
        gender,
        city,
        region
    from source
    where first_seen_at < getvariable('as_of') + interval 1 day
)

select * from final
