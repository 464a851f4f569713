-- Association rules between product pairs per segment: how often "bought A" comes with "bought B".
-- Grain: one row per rule. Key: (segment_name, antecedent, consequent).
-- Segment 'all' holds the rules over every basket (guest orders included), the other segments only their
-- customers' baskets. A basket is one non-cancelled order's distinct products with positive quantity,
-- ordered in [$since, $as_of] (whole days).
-- support = n_pair / n_baskets; confidence = n_pair / n_antecedent; lift = confidence / (n_consequent / n_baskets).
-- Baskets are counted over integer codes of segments, orders and products, and each pair once (a < b) before
-- it becomes both rules: with string ids and both orders, the 53M basket pairs of Online Retail ran out of a
-- 1 GiB DuckDB (bench/RESULTS.md).
-- Parameters: $as_of, $since, $segment_run_id (null: 'all' only), $min_support, $min_confidence, $min_lift,
-- $min_pair_count.
with

orders as (
    select * from orders
),

order_lines as (
    select * from order_lines
),

segment_assignments as (
    select * from segment_assignments
),

eligible_orders as (
    select order_id, customer_id, dense_rank() over (order by order_id) as order_code
    from orders
    where not is_cancellation
        and ordered_at >= cast($since as date)
        and ordered_at < cast($as_of as date) + interval 1 day
),

product_names as (
    -- the most recent name a product was sold under
    select order_lines.product_id, arg_max(order_lines.product_name, orders.ordered_at) as product_name
    from order_lines
    join orders on order_lines.order_id = orders.order_id
    where order_lines.product_id is not null
    group by order_lines.product_id
),

product_codes as (
    select product_id, product_name, row_number() over (order by product_id) as product_code
    from product_names
),

segment_codes as (
    select segment_name, row_number() over (order by segment_name) as segment_code
    from (
        select 'all' as segment_name
        union
        select segment_name from segment_assignments where run_id = $segment_run_id
    )
),

basket_items as (
    select distinct eligible_orders.order_code, product_codes.product_code
    from order_lines
    join eligible_orders on order_lines.order_id = eligible_orders.order_id
    join product_codes on order_lines.product_id = product_codes.product_id
    where order_lines.quantity > 0
),

basket_segments as (
    select eligible_orders.order_code, segment_codes.segment_code
    from eligible_orders
    cross join segment_codes
    where segment_codes.segment_name = 'all'
    union all
    select eligible_orders.order_code, segment_codes.segment_code
    from eligible_orders
    join segment_assignments on eligible_orders.customer_id = segment_assignments.customer_id
    join segment_codes on segment_assignments.segment_name = segment_codes.segment_name
    where segment_assignments.run_id = $segment_run_id
),

segment_items as (
    select basket_segments.segment_code, basket_items.order_code, basket_items.product_code
    from basket_segments
    join basket_items on basket_segments.order_code = basket_items.order_code
),

segment_sizes as (
    select segment_code, count(distinct order_code) as n_baskets
    from segment_items
    group by segment_code
),

item_counts as (
    select segment_code, product_code, count(*) as n_item
    from segment_items
    group by segment_code, product_code
),

frequent_items as (
    -- a pair is never more frequent than either of its products, so rarer products cannot pass (apriori)
    select segment_items.*
    from segment_items
    join item_counts using (segment_code, product_code)
    join segment_sizes using (segment_code)
    where item_counts.n_item >= $min_pair_count
        and item_counts.n_item >= $min_support * segment_sizes.n_baskets
),

unordered_pairs as (
    -- each pair once: a basket holds both products or not, so the count is the same in both directions
    select a.segment_code, a.product_code as first_code, b.product_code as second_code, count(*) as n_pair
    from frequent_items as a
    join frequent_items as b
        on a.segment_code = b.segment_code and a.order_code = b.order_code and a.product_code < b.product_code
    group by a.segment_code, a.product_code, b.product_code
    having count(*) >= $min_pair_count
),

pair_counts as (
    select segment_code, first_code as antecedent_code, second_code as consequent_code, n_pair
    from unordered_pairs
    union all
    select segment_code, second_code as antecedent_code, first_code as consequent_code, n_pair
    from unordered_pairs
),

rules as (
    select
        pair_counts.segment_code,
        pair_counts.antecedent_code,
        pair_counts.consequent_code,
        segment_sizes.n_baskets,
        antecedents.n_item as n_antecedent,
        consequents.n_item as n_consequent,
        pair_counts.n_pair,
        pair_counts.n_pair / segment_sizes.n_baskets::double as support,
        pair_counts.n_pair / antecedents.n_item::double as confidence,
        (pair_counts.n_pair * segment_sizes.n_baskets::double)
        / (antecedents.n_item::double * consequents.n_item) as lift
    from pair_counts
    join segment_sizes on pair_counts.segment_code = segment_sizes.segment_code
    join item_counts as antecedents
        on pair_counts.segment_code = antecedents.segment_code
        and pair_counts.antecedent_code = antecedents.product_code
    join item_counts as consequents
        on pair_counts.segment_code = consequents.segment_code
        and pair_counts.consequent_code = consequents.product_code
),

final as (
    select
        segment_codes.segment_name,
        antecedents.product_id as antecedent,
        consequents.product_id as consequent,
        antecedents.product_name as antecedent_name,
        consequents.product_name as consequent_name,
        rules.n_baskets,
        rules.n_antecedent,
        rules.n_consequent,
        rules.n_pair,
        rules.support,
        rules.confidence,
        rules.lift
    from rules
    join segment_codes on rules.segment_code = segment_codes.segment_code
    join product_codes as antecedents on rules.antecedent_code = antecedents.product_code
    join product_codes as consequents on rules.consequent_code = consequents.product_code
    where rules.support >= $min_support
        and rules.confidence >= $min_confidence
        and rules.lift >= $min_lift
    order by segment_codes.segment_name, antecedents.product_id, consequents.product_id
)

select * from final
