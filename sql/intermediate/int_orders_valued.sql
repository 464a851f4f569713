-- Orders of identified customers with their value split into gross, returned and net.
-- Grain: one row per order. Key: order_id. Guest orders (no customer_id) count for nobody.
-- A cancellation takes its whole value off whatever sign the source used; a negative line in a
-- normal order (a return) and a refunded amount take their amount off (a refund at most down to 0). A voided order (cancelled as
-- a whole, e.g. Shopify's "Cancelled at") never happened: it is worth nothing and returned nothing.
with

orders as (
    select * from stg_warehouse__orders
),

lines as (
    select * from stg_warehouse__order_lines
),

line_totals as (
    select
        order_id,
        coalesce(sum(line_value) filter (where line_value > 0), 0) as positive_value,
        coalesce(-sum(line_value) filter (where line_value < 0), 0) as negative_value
    from lines
    group by order_id
),

valued as (
    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.is_cancellation,
        case
            when orders.is_cancellation then 0
            else coalesce(line_totals.positive_value, 0)
        end as gross_value,
        case
            when orders.is_voided then 0
            when orders.is_cancellation
                then coalesce(line_totals.positive_value, 0) + coalesce(line_totals.negative_value, 0)
            -- A refund counts at most what is left of the order's lines: Shopify's "Refunded Amount"
            -- includes refunded shipping and taxes, which the lines do not hold.
            else coalesce(line_totals.negative_value, 0) + least(
                orders.refunded_amount,
                greatest(coalesce(line_totals.positive_value, 0) - coalesce(line_totals.negative_value, 0), 0)
            )
        end as returned_value,
        not orders.is_voided
            and (orders.is_cancellation
                or coalesce(line_totals.negative_value, 0) > 0
                or orders.refunded_amount > 0) as has_return
    from orders
    left join line_totals on orders.order_id = line_totals.order_id
    where orders.customer_id is not null
),

final as (
    select
        order_id,
        customer_id,
        ordered_at,
        is_cancellation,
        cast(gross_value as decimal(18, 4)) as gross_value,
        cast(returned_value as decimal(18, 4)) as returned_value,
        cast(gross_value - returned_value as decimal(18, 4)) as net_value,
        has_return
    from valued
)

select * from final
