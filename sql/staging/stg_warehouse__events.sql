-- Web events of identified customers up to the end of the as-of day; anonymous events count for nobody.
-- Grain: one row per event. Key: event_id.
-- session_key falls back to customer and day when a source has no session id.
with

source as (
    select * from events
),

final as (
    select
        event_id,
        customer_id,
        coalesce(session_id, customer_id || '@' || cast(cast(occurred_at as date) as varchar)) as session_key,
        occurred_at,
        event_type
    from source
    where customer_id is not null
      and occurred_at < getvariable('as_of') + interval 1 day
)

select * from final
