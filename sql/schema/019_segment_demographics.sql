-- Each segment's demographic mix, from the customers file's optional attributes: profile columns only,
-- never clustered on. Both null in a shop whose customers carry no birth year, age band, gender, city or
-- region.
alter table segment_profiles add column if not exists median_age double;
-- JSON: {"known_share": share of members with any attribute, "<attribute>": [{"value", "share"}...]} for
-- age_band, gender, country, region and city, the shares among members who have that attribute.
alter table segment_profiles add column if not exists demographics varchar;
