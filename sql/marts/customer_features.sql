-- Customer features for one as-of date: order history, RFM, web activity, for buyers and prospects.
-- Grain: one row per (as_of, customer_id). Key: (as_of, customer_id).
-- Prospects (no non-cancelled order yet, e.g. browse-only) keep frequency 0, order counts 0 and
-- monetary 0 (or negative if they only cancelled); recency, tenure, avg_order_value,
-- mean_days_between_orders, first/last_order_at and the RFM columns are null for them.
-- Activity counts are 0 without sessions; rates and days_since_last_visit are then null.
-- feedback_count is 0 without feedback, and null for everyone while the shop has none at all; the other
-- feedback columns are null without feedback. The demographic columns (age, age_band, gender, city, region)
-- are null unless the customers file carries them.
with

customers as (
    select * from int_customers_unioned
),

order_features as (
    select * from int_customer_orders_aggregated
),

activity as (
    select * from int_customer_activity_windowed
),

rfm as (
    select * from int_customer_rfm_scored
),

rules as (
    select * from rfm_segments
),

feedback as (
    select * from int_customer_feedback_aggregated
),

has_feedback as (
    select count(*) > 0 as any_feedback from feedback
),

joined as (
    select
        getvariable('as_of') as as_of,
        customers.customer_id,
        coalesce(order_features.frequency, 0) = 0 as is_prospect,
        order_features.recency_days,  -- null without a non-cancelled order
        coalesce(order_features.frequency, 0) as frequency,
        coalesce(order_features.monetary, 0) as monetary,
        order_features.avg_order_value,
        order_features.tenure_days,  -- null without a non-cancelled order
        order_features.return_rate,
        coalesce(order_features.distinct_products, 0) as distinct_products,
        coalesce(order_features.distinct_categories, 0) as distinct_categories,
        order_features.mean_days_between_orders,
        order_features.first_order_at,
        order_features.last_order_at,
        coalesce(activity.sessions_30d, 0) as sessions_30d,
        coalesce(activity.product_views_30d, 0) as product_views_30d,
        coalesce(activity.add_to_carts_30d, 0) as add_to_carts_30d,
        activity.cart_abandonment_rate_30d,
        activity.view_to_purchase_rate_30d,
        coalesce(activity.sessions_90d, 0) as sessions_90d,
        coalesce(activity.product_views_90d, 0) as product_views_90d,
        coalesce(activity.add_to_carts_90d, 0) as add_to_carts_90d,
        activity.cart_abandonment_rate_90d,
        activity.view_to_purchase_rate_90d,
        activity.days_since_last_visit,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.fm_score,
        coalesce(order_features.orders_total, 0) as orders_total,
        coalesce(order_features.cancelled_orders, 0) as cancelled_orders,
        coalesce(order_features.gross_revenue, 0) as gross_revenue,
        coalesce(order_features.returned_value, 0) as returned_value,
        coalesce(order_features.orders_90d, 0) as orders_90d,
        coalesce(order_features.monetary_90d, 0) as monetary_90d,
        customers.first_seen_at,
        customers.country,
        customers.marketing_consent,
        customers.age,
        customers.age_band,
        customers.gender,
        customers.city,
        customers.region,
        case when has_feedback.any_feedback then coalesce(feedback.feedback_count, 0) end as feedback_count,
        feedback.rating_mean,
        feedback.rating_last,
        feedback.is_detractor,
        feedback.is_promoter,
        feedback.days_since_feedback
    from customers
    cross join has_feedback
    left join order_features on customers.customer_id = order_features.customer_id
    left join activity on customers.customer_id = activity.customer_id
    left join rfm on customers.customer_id = rfm.customer_id
    left join feedback on customers.customer_id = feedback.customer_id
),

final as (
    select
        joined.*,
        rules.rfm_segment,
        current_localtimestamp() as computed_at
    from joined
    left join rules
        on joined.r_score between rules.r_min and rules.r_max
        and joined.fm_score between rules.fm_min and rules.fm_max
)

select * from final
