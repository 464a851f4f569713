-- Segmentation on real shops: a configured feature that carries no information for a shop (no
-- clickstream, one product, everyone the same) is left out of that night's clustering, and k is only
-- chosen among splits whose every segment is big enough to act on.
alter table segment_runs add column if not exists dropped_features varchar;     -- JSON list of {feature, reason}
alter table segment_k_scores add column if not exists min_segment_size integer; -- customers in the smallest segment at this k
