-- claim_by_type_prefix: the next claimable jobs whose type starts with a prefix (e.g. 'task:'), in
-- claim order, locked. Mirrors sql/sqlite/claim_by_type_prefix.sql.
-- Parameters: $1 prefix, $2 now (ms), $3 workflow (or NULL), $4 project (or NULL), $5 projects at
--   their concurrency limit (text[]), $6 limit, $7 excluded types (text[]: the caller's
--   excludeTypes; paused types are checked here).
--   $8 affinities (text[], or NULL for no filter: a job whose payload names an `affinity` is
--   claimed only when it is in the list; see src/supervisor/hosts.ts).
-- Result: full job rows, locked FOR UPDATE SKIP LOCKED. An ordered scan of jobs_claim_any filtered
--   by starts_with: a range on `type` would follow the column's collation, which under a locale
--   other than "C" does not order by bytes, so it could miss matching types. Pauses: 'all' once,
--   'type' and 'workflow' per candidate row.
SELECT * FROM jobs
WHERE state IN ('queued', 'retrying')
  AND starts_with(type, $1::text)
  AND NOT (type = ANY ($7::text[]))
  AND run_at <= $2
  AND ($3::text IS NULL OR workflow = $3::text)
  AND ($4::text IS NULL OR project = $4::text)
  AND (project IS NULL OR NOT (project = ANY ($5::text[])))
  AND ($8::text[] IS NULL OR (payload::jsonb ->> 'affinity') IS NULL
       OR (payload::jsonb ->> 'affinity') = ANY ($8::text[]))
  AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'all')
  AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'type' AND p.target = jobs.type)
  AND (workflow IS NULL OR NOT EXISTS (
        SELECT 1 FROM pauses p WHERE p.scope = 'workflow' AND p.target = jobs.workflow))
  AND (resource_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.resource_key = jobs.resource_key))
ORDER BY priority DESC, run_at, id
LIMIT $6
FOR UPDATE SKIP LOCKED
