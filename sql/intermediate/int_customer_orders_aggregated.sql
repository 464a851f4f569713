-- Order features per identified customer who placed any order (cancellations included) by as_of.
-- Grain: one row per customer. Key: customer_id.
-- Recency and tenure count calendar days from the order's date to as_of.
with

orders as (
    select
        *,
        ordered_at >= getvariable('as_of') + interval 1 day - interval 90 day as in_90d
    from int_orders_valued
),

lines as (
    select * from stg_warehouse__order_lines
),

bought_lines as (
    -- what a customer actually bought: positive lines of non-cancelled orders
    select customer_id, product_id, category
    from lines
    where customer_id is not null and not is_cancellation and quantity > 0
),

-- Distinct products and categories counted over the distinct pairs: count(distinct) per customer over
-- ten million lines took a second longer at a million customers (bench/RESULTS.md).
customer_products as (
    select customer_id, count(product_id) as distinct_products
    from (select distinct customer_id, product_id from bought_lines)
    group by customer_id
),

customer_categories as (
    select customer_id, count(category) as distinct_categories
    from (select distinct customer_id, category from bought_lines)
    group by customer_id
),

assortment as (
    select customer_products.customer_id, customer_products.distinct_products,
        customer_categories.distinct_categories
    from customer_products
    left join customer_categories on customer_products.customer_id = customer_categories.customer_id
),

per_customer as (
    select
        orders.customer_id,
        count(*) filter (where not orders.is_cancellation) as frequency,
        count(*) as orders_total,
        count(*) filter (where orders.is_cancellation) as cancelled_orders,
        sum(orders.net_value) as monetary,
        sum(orders.gross_value) as gross_revenue,
        sum(orders.returned_value) as returned_value,
        count(*) filter (where orders.has_return) / count(*) as return_rate,
        min(orders.ordered_at) filter (where not orders.is_cancellation) as first_order_at,
        max(orders.ordered_at) filter (where not orders.is_cancellation) as last_order_at,
        count(*) filter (where not orders.is_cancellation and orders.in_90d) as orders_90d,
        coalesce(sum(orders.net_value) filter (where orders.in_90d), 0) as monetary_90d
    from orders
    group by orders.customer_id
),

final as (
    select
        per_customer.customer_id,
        cast(per_customer.frequency as integer) as frequency,
        cast(per_customer.orders_total as integer) as orders_total,
        cast(per_customer.cancelled_orders as integer) as cancelled_orders,
        cast(per_customer.monetary as decimal(18, 4)) as monetary,
        cast(per_customer.gross_revenue as decimal(18, 4)) as gross_revenue,
        cast(per_customer.returned_value as decimal(18, 4)) as returned_value,
        cast(per_customer.monetary / nullif(per_customer.frequency, 0) as decimal(18, 4)) as avg_order_value,
        per_customer.return_rate,
        cast(coalesce(assortment.distinct_products, 0) as integer) as distinct_products,
        cast(coalesce(assortment.distinct_categories, 0) as integer) as distinct_categories,
        per_customer.first_order_at,
        per_customer.last_order_at,
        cast(date_diff('day', cast(per_customer.last_order_at as date), getvariable('as_of')) as integer)
            as recency_days,
        cast(date_diff('day', cast(per_customer.first_order_at as date), getvariable('as_of')) as integer)
            as tenure_days,
        case
            when per_customer.frequency >= 2
                then date_diff('second', per_customer.first_order_at, per_customer.last_order_at)
                    / 86400.0 / (per_customer.frequency - 1)
        end as mean_days_between_orders,
        cast(per_customer.orders_90d as integer) as orders_90d,
        cast(per_customer.monetary_90d as decimal(18, 4)) as monetary_90d
    from per_customer
    left join assortment on per_customer.customer_id = assortment.customer_id
)

select * from final
