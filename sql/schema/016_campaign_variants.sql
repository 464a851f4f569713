-- Adaptive offers: a campaign may list variants (offers or messages), and each build splits its treatment
-- across them by Thompson sampling over Beta posteriors of each (segment, variant)'s measured conversions.
-- The holdout is drawn first, as before, and never gets a variant. Campaigns without variants leave these
-- tables empty and campaign_audiences.variant null.

alter table campaign_audiences add column if not exists variant varchar;  -- null: holdout, or no variants

-- The posterior each build sampled from and what it assigned; grain (campaign_id, segment_name, variant).
create table if not exists campaign_variant_draws (
    campaign_id varchar not null,
    name varchar not null,              -- the campaign's playbook name
    as_of date not null,
    segment_name varchar not null,
    variant varchar not null,
    alpha double not null,              -- Beta(alpha, beta): 1 + conversions, 1 + non-conversions of earlier builds
    beta double not null,
    n_builds bigint not null,           -- earlier measured builds the posterior counts
    posterior_mean double not null,
    ci_low double not null,             -- 90% equal-tailed credible interval
    ci_high double not null,
    p_best double not null,             -- Monte Carlo P(this variant converts best in the segment)
    n_assigned bigint not null,         -- treatment members given this variant
    share double                        -- n_assigned / the segment's treatment (null when it has none)
);

-- Measured conversions of each build's treatment per segment and variant; grain (campaign_id, segment_name,
-- variant). A re-measure replaces a build's rows, so counts are never added twice.
create table if not exists campaign_variant_results (
    campaign_id varchar not null,
    name varchar not null,
    segment_name varchar not null,
    variant varchar not null,
    measured_at timestamp not null,
    measured_as_of date not null,
    n_treatment bigint not null,
    conversions bigint not null
);

-- The posteriors after a measurement, summed from campaign_variant_results over every measured build of
-- the campaign; grain (name, segment_name, variant, measured_as_of).
create table if not exists campaign_variant_posteriors (
    name varchar not null,
    segment_name varchar not null,
    variant varchar not null,
    measured_as_of date not null,
    updated_at timestamp not null,
    last_campaign_id varchar not null,  -- the latest build counted
    n_builds bigint not null,
    n_treatment bigint not null,
    conversions bigint not null,
    alpha double not null,              -- 1 + conversions
    beta double not null,               -- 1 + n_treatment - conversions
    posterior_mean double not null,
    ci_low double not null,             -- 90% equal-tailed credible interval
    ci_high double not null,
    p_best double not null              -- Monte Carlo P(best in the segment) among the variants measured
);
