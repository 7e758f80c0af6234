-- Short ids (docs/decisions.md D59): a job is shown by the last 6 characters of its ULID (the
-- random part; ids made close together share their first 10, the time). Finding a job by them
-- must not scan the table, so they get an index of their own. Lookups use the same expression.
CREATE INDEX jobs_short_id ON jobs (substr(id, 21));
