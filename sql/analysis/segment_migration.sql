-- Who moved where between two segmentation runs, with their revenue.
-- Grain: one row per (from_segment_id, to_segment_id) pair that has customers. Key: the pair.
-- from_segment_id is null for customers new in the later run, to_segment_id null for customers
-- missing from it. Revenue is net revenue (monetary) at each run's as_of, from customer_features.
-- Set the variables from_run_id and to_run_id first (segmint.segment.history.segment_migration does).
with

runs as (
    select * from segment_runs
),

before as (
    select customer_id, segment_id, segment_name
    from segment_assignments
    where run_id = getvariable('from_run_id')
),

after as (
    select customer_id, segment_id, segment_name
    from segment_assignments
    where run_id = getvariable('to_run_id')
),

features_before as (
    select customer_features.customer_id, customer_features.monetary
    from customer_features
    inner join runs on runs.as_of = customer_features.as_of
    where runs.run_id = getvariable('from_run_id')
),

features_after as (
    select customer_features.customer_id, customer_features.monetary
    from customer_features
    inner join runs on runs.as_of = customer_features.as_of
    where runs.run_id = getvariable('to_run_id')
),

paired as (
    select
        coalesce(before.customer_id, after.customer_id) as customer_id,
        before.segment_id as from_segment_id,
        before.segment_name as from_segment_name,
        after.segment_id as to_segment_id,
        after.segment_name as to_segment_name
    from before
    full outer join after on before.customer_id = after.customer_id
),

valued as (
    select
        paired.*,
        features_before.monetary as revenue_before,
        features_after.monetary as revenue_after
    from paired
    left join features_before on paired.customer_id = features_before.customer_id
    left join features_after on paired.customer_id = features_after.customer_id
),

final as (
    select
        getvariable('from_run_id') as from_run_id,
        getvariable('to_run_id') as to_run_id,
        from_segment_id,
        any_value(from_segment_name) as from_segment_name,
        to_segment_id,
        any_value(to_segment_name) as to_segment_name,
        from_segment_id is not distinct from to_segment_id as stayed,
        count(*) as customers,
        count(*) / sum(count(*)) over (partition by from_segment_id) as share_of_from,
        sum(revenue_before) as revenue_before,
        sum(revenue_after) as revenue_after
    from valued
    group by from_segment_id, to_segment_id
)

select * from final
order by from_segment_id nulls first, to_segment_id nulls first
