-- The canonical columns each loaded file had (a JSON list), so that an optional column an earlier file of
-- the source had and a later one lacks (product names gone from an export) is a warning on that file.
-- A table of its own: loaded_files keeps its shape for the tools that insert into it.
create table if not exists loaded_file_columns (
    sha256 varchar not null,
    source varchar not null,
    canonical_columns varchar not null,  -- JSON list of canonical column names
    loaded_at timestamp not null
);
