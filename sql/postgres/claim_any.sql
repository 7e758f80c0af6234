-- claim_any: the next claimable jobs of any type except the excluded ones, in claim order, locked.
-- Parameters: $1 now (ms), $2 excluded types (text[]), $3 workflow (or NULL), $4 project (or NULL),
--   $5 projects at their concurrency limit (text[]), $6 limit.
--   $7 affinities (text[], or NULL for no filter: a job whose payload names an `affinity` is
--   claimed only when it is in the list; see src/supervisor/hosts.ts).
-- Result: full job rows, locked FOR UPDATE; rows another claimer holds are skipped (SKIP LOCKED),
--   so concurrent claimers never wait on each other and never get the same job.
-- Served by jobs_claim_any (an ordered scan of the partial index): the cost does not grow with the
--   backlog. Pauses: 'all' is checked once, 'type' and 'workflow' per candidate row.
SELECT * FROM jobs
WHERE state IN ('queued', 'retrying')
  AND run_at <= $1
  AND NOT (type = ANY ($2::text[]))
  AND ($3::text IS NULL OR workflow = $3::text)
  AND ($4::text IS NULL OR project = $4::text)
  AND (project IS NULL OR NOT (project = ANY ($5::text[])))
  AND ($7::text[] IS NULL OR (payload::jsonb ->> 'affinity') IS NULL
       OR (payload::jsonb ->> 'affinity') = ANY ($7::text[]))
  AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'all')
  AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'type' AND p.target = jobs.type)
  AND (workflow IS NULL OR NOT EXISTS (
        SELECT 1 FROM pauses p WHERE p.scope = 'workflow' AND p.target = jobs.workflow))
  AND (resource_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.resource_key = jobs.resource_key))
ORDER BY priority DESC, run_at, id
LIMIT $6
FOR UPDATE SKIP LOCKED
