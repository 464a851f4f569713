-- Who ran each run and how far it got: a run whose process died is found and marked 'killed'.
alter table runs add column if not exists pid integer;        -- the process that started the run
alter table runs add column if not exists host varchar;       -- the machine it ran on
alter table runs add column if not exists stage varchar;      -- the stage it was in (last one started)
