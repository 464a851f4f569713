-- Optional customer attributes a customers export may carry (most have none: these stay null). They are
-- profile columns and campaign rule features, never clustering features, and rules may target by them
-- only when the shop sets [campaigns] use_demographics = true (README, "Demographics").
alter table customers add column if not exists birth_year integer;     -- 1900 to the load year
alter table customers add column if not exists age_band varchar;       -- as exported, e.g. '25-34'
alter table customers add column if not exists gender varchar;         -- lower-cased; m/f and the like spelled out
alter table customers add column if not exists city varchar;
alter table customers add column if not exists region varchar;         -- state, province or county
alter table customers add column if not exists phone varchar;          -- as exported; E.164 only in ad audiences

alter table customers_history add column if not exists birth_year integer;
alter table customers_history add column if not exists age_band varchar;
alter table customers_history add column if not exists gender varchar;
alter table customers_history add column if not exists city varchar;
alter table customers_history add column if not exists region varchar;
alter table customers_history add column if not exists phone varchar;

alter table customer_features add column if not exists age integer;          -- as_of's year minus birth_year
alter table customer_features add column if not exists age_band varchar;     -- given, else from the age
alter table customer_features add column if not exists gender varchar;
alter table customer_features add column if not exists city varchar;
alter table customer_features add column if not exists region varchar;

-- A segment's demographic mix, null when the shop's customers carry none of these attributes.
alter table segment_profiles add column if not exists median_age double;
alter table segment_profiles add column if not exists demographics varchar;  -- JSON: top values and shares per attribute

