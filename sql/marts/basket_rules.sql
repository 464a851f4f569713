-- Association rules between product pairs per segment: how often "bought A" comes with "bought B".
-- Grain: one row per rule. Key: (segment_name, antecedent, consequent).
-- Segment 'all' holds the rules over every basket (guest orders included), the other segments only their
-- customers' baskets. A basket is one non-cancelled order's distinct products with positive quantity,
-- ordered in [$since, $as_of] (whole days).
-- support = n_pair / n_baskets; confidence = n_pair / n_antecedent; lift = confidence / (n_consequent / n_baskets).
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
    select order_id, customer_id
    from orders
    where not is_cancellation
        and ordered_at >= cast($since as date)
        and ordered_at < cast($as_of as date) + interval 1 day
),

basket_items as (
    select distinct order_lines.order_id, order_lines.product_id
    from order_lines
    semi join eligible_orders on order_lines.order_id = eligible_orders.order_id
    where order_lines.quantity > 0 and order_lines.product_id is not null
),

product_names as (
    -- the most recent name a product was sold under
    select order_lines.product_id, arg_max(order_lines.product_name, orders.ordered_at) as product_name
    from order_lines
    join orders on order_lines.order_id = orders.order_id
    where order_lines.product_id is not null
    group by order_lines.product_id
),

basket_segments as (
    select order_id, 'all' as segment_name
    from eligible_orders
    union all
    select eligible_orders.order_id, segment_assignments.segment_name
    from eligible_orders
    join segment_assignments on eligible_orders.customer_id = segment_assignments.customer_id
    where segment_assignments.run_id = $segment_run_id
),

segment_items as (
    select basket_segments.segment_name, basket_items.order_id, basket_items.product_id
    from basket_segments
    join basket_items on basket_segments.order_id = basket_items.order_id
),

segment_sizes as (
    select segment_name, count(distinct order_id) as n_baskets
    from segment_items
    group by segment_name
),

item_counts as (
    select segment_name, product_id, count(*) as n_item
    from segment_items
    group by segment_name, product_id
),

frequent_items as (
    -- a pair is never more frequent than either of its products, so rarer products cannot pass (apriori)
    select segment_items.*
    from segment_items
    join item_counts using (segment_name, product_id)
    join segment_sizes using (segment_name)
    where item_counts.n_item >= $min_pair_count
        and item_counts.n_item >= $min_support * segment_sizes.n_baskets
),

pair_counts as (
    select
        a.segment_name,
        a.product_id as antecedent,
        b.product_id as consequent,
        count(*) as n_pair
    from frequent_items as a
    join frequent_items as b
        on a.segment_name = b.segment_name and a.order_id = b.order_id and a.product_id <> b.product_id
    group by a.segment_name, a.product_id, b.product_id
    having count(*) >= $min_pair_count
),

rules as (
    select
        pair_counts.segment_name,
        pair_counts.antecedent,
        pair_counts.consequent,
        segment_sizes.n_baskets,
        antecedents.n_item as n_antecedent,
        consequents.n_item as n_consequent,
        pair_counts.n_pair,
        pair_counts.n_pair / segment_sizes.n_baskets::double as support,
        pair_counts.n_pair / antecedents.n_item::double as confidence,
        (pair_counts.n_pair * segment_sizes.n_baskets::double)
        / (antecedents.n_item::double * consequents.n_item) as lift
    from pair_counts
    join segment_sizes on pair_counts.segment_name = segment_sizes.segment_name
    join item_counts as antecedents
        on pair_counts.segment_name = antecedents.segment_name and pair_counts.antecedent = antecedents.product_id
    join item_counts as consequents
        on pair_counts.segment_name = consequents.segment_name and pair_counts.consequent = consequents.product_id
),

final as (
    select
        rules.segment_name,
        rules.antecedent,
        rules.consequent,
        antecedent_names.product_name as antecedent_name,
        consequent_names.product_name as consequent_name,
        rules.n_baskets,
        rules.n_antecedent,
        rules.n_consequent,
        rules.n_pair,
        rules.support,
        rules.confidence,
        rules.lift
    from rules
    left join product_names as antecedent_names on rules.antecedent = antecedent_names.product_id
    left join product_names as consequent_names on rules.consequent = consequent_names.product_id
    where rules.support >= $min_support
        and rules.confidence >= $min_confidence
        and rules.lift >= $min_lift
    order by rules.segment_name, rules.antecedent, rules.consequent
)

select * from final
