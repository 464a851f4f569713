-- Reviews and survey answers submitted by the end of the as-of day, each with the customer it is from:
-- the customer id the export gave, else the customer whose e-mail address it names.
-- Grain: one row per feedback. Key: feedback_id.
-- Feedback from nobody known (no id, an address no customer has) is left out: it counts for nobody.
with

source as (
    select * from feedback
),

addresses as (
    -- An address shared by several customer ids goes to the first of them, so one review counts once.
    select lower(trim(email)) as email, min(customer_id) as customer_id
    from customers
    where email is not null
    group by 1
),

final as (
    select
        source.feedback_id,
        coalesce(source.customer_id, addresses.customer_id) as customer_id,
        source.submitted_at,
        source.rating,
        source.scale
    from source
    left join addresses on source.customer_id is null and source.email = addresses.email
    where source.submitted_at < getvariable('as_of') + interval 1 day
      and coalesce(source.customer_id, addresses.customer_id) is not null
)

select * from final
