-- Order lines of the orders known at the end of the as-of day, with their order's customer and flags.
-- Lines carry no timestamp, so the point-in-time filter is the join to stg_warehouse__orders; carrying
-- the order's columns here saves every later model from joining ten million lines again.
-- Grain: one row per order line. Key: (order_id, line_no).
with

source as (
    select * from order_lines
),

known_orders as (
    select * from stg_warehouse__orders
),

final as (
    select
        source.order_id,
        source.line_no,
        known_orders.customer_id,
        known_orders.is_cancellation,
        source.product_id,
        source.category,
        source.quantity,
        source.unit_price,
        -- net line value as the features define it: quantity x unit price
        cast(source.quantity * source.unit_price as decimal(18, 4)) as line_value
    from source
    inner join known_orders on source.order_id = known_orders.order_id
)

select * from final
