-- RFM scores 1-5 by quintile for customers with at least one non-cancelled order.
-- Grain: one row per buyer. Key: customer_id.
-- score = 1 + floor(5 x percent_rank), capped at 5: equal values share the lower score, so a tie
-- (e.g. every one-order customer) never splits across scores. Recency ranks descending: recent is 5.
with

buyers as (
    select customer_id, recency_days, frequency, monetary
    from int_customer_orders_aggregated
    where frequency > 0
),

scored as (
    select
        customer_id,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by recency_days desc))) as tinyint) as r_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by frequency))) as tinyint) as f_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by monetary))) as tinyint) as m_score
    from buyers
),

final as (
    select
        customer_id,
        r_score,
        f_score,
        m_score,
        -- the rounded (half up) mean of frequency and monetary, the second axis of the rule table
        cast((f_score + m_score + 1) // 2 as tinyint) as fm_score
    from scored
)

select * from final
