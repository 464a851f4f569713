-- Top-N recommended products per customer from the co-occurrence rules of one prediction run.
-- Grain: one row per customer and rank. Key: (customer_id, rank).
-- A customer is scored with their segment's rules when that segment has any, else with the 'all' rules;
-- score = sum of confidence(bought -> candidate) over the products they bought up to $as_of, each weighted by
-- exp(-days since the customer last bought it / $recency_days) (null: unweighted), so what they bought lately
-- speaks loudest; a product the customer ever bought is never recommended.
-- Measured on UCI Online Retail (train to 2011-09-09, the next 90 days): hit rate at 5 of 0.227 with a
-- 30-day weighting, 0.213 unweighted, 0.208 for the most popular products (bench/RESULTS.md).
-- Parameters: $run_id (of basket_rules), $as_of, $segment_run_id, $top_n, $recency_days.
with

orders as (
    select * from orders
),

order_lines as (
    select * from order_lines
),

basket_rules as (
    select * from basket_rules where run_id = $run_id
),

segment_assignments as (
    select * from segment_assignments where run_id = $segment_run_id
),

bought as (
    select
        orders.customer_id,
        order_lines.product_id,
        date_diff('day', max(orders.ordered_at)::date, cast($as_of as date)) as days_since
    from orders
    join order_lines on orders.order_id = order_lines.order_id
    where orders.customer_id is not null
        and not orders.is_cancellation
        and order_lines.quantity > 0
        and order_lines.product_id is not null
        and orders.ordered_at < cast($as_of as date) + interval 1 day
    group by orders.customer_id, order_lines.product_id
),

segments_with_rules as (
    select distinct segment_name from basket_rules
),

customer_rule_sets as (
    select
        buyers.customer_id,
        coalesce(segments_with_rules.segment_name, 'all') as rule_segment
    from (select distinct customer_id from bought) as buyers
    left join segment_assignments on buyers.customer_id = segment_assignments.customer_id
    left join segments_with_rules on segment_assignments.segment_name = segments_with_rules.segment_name
),

candidates as (
    select
        bought.customer_id,
        basket_rules.consequent as product_id,
        any_value(basket_rules.consequent_name) as product_name,
        sum(
            basket_rules.confidence
            * coalesce(exp(-bought.days_since / cast($recency_days as double)), 1.0)
        ) as score,
        sum(basket_rules.lift) as lift_sum
    from bought
    join customer_rule_sets on bought.customer_id = customer_rule_sets.customer_id
    join basket_rules
        on basket_rules.segment_name = customer_rule_sets.rule_segment
        and basket_rules.antecedent = bought.product_id
    anti join bought as owned
        on owned.customer_id = bought.customer_id and owned.product_id = basket_rules.consequent
    group by bought.customer_id, basket_rules.consequent
),

ranked as (
    select
        customer_id,
        row_number() over (
            partition by customer_id order by score desc, lift_sum desc, product_id
        ) as rank,
        product_id,
        product_name,
        score
    from candidates
),

final as (
    select customer_id, cast(rank as integer) as rank, product_id, product_name, score
    from ranked
    where rank <= $top_n
    order by customer_id, rank
)

select * from final
