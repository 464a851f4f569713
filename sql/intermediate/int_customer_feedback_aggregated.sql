-- Feedback per customer up to the as-of day: how often, how satisfied on average and lately.
-- Grain: one row per customer with feedback. Key: customer_id.
-- The latest rating decides the flags: NPS detractor 0-6 and promoter 9-10 (the survey's own bands);
-- for stars, 1-2 is a detractor and 5 a promoter (3-4 neither, like NPS passives).
with

feedback as (
    select * from stg_warehouse__feedback
),

aggregated as (
    select
        customer_id,
        count(*) as feedback_count,
        avg(rating) as rating_mean,
        arg_max(rating, (submitted_at, feedback_id)) as rating_last,
        arg_max(scale, (submitted_at, feedback_id)) as scale_last,
        max(submitted_at) as last_feedback_at
    from feedback
    group by customer_id
),

final as (
    select
        customer_id,
        feedback_count,
        rating_mean,
        rating_last,
        case when scale_last = 'nps' then rating_last <= 6 else rating_last <= 2 end as is_detractor,
        case when scale_last = 'nps' then rating_last >= 9 else rating_last >= 5 end as is_promoter,
        date_diff('day', cast(last_feedback_at as date), getvariable('as_of')) as days_since_feedback
    from aggregated
)

select * from final
