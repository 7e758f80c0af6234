-- claim_by_type: the next claimable jobs of the given types, in claim order, locked.
-- Parameters: $1 types (text[], distinct, excluded types already removed), $2 now (ms),
--   $3 workflow (or NULL), $4 project (or NULL), $5 projects at their concurrency limit (text[]),
--   $6 limit.
--   $7 affinities (text[], or NULL for no filter: a job whose payload names an `affinity` is
--   claimed only when it is in the list; see src/supervisor/hosts.ts).
-- Result: full job rows, locked FOR UPDATE SKIP LOCKED. Each type is read by its own ordered scan
--   of jobs_claim_type (at most $6 rows each), then the few rows are merged: the cost does not grow
--   with the backlog, however many types are asked for. Rows read but cut by the final LIMIT stay
--   locked until the transaction ends (other claimers skip them meanwhile).
SELECT j.* FROM (
  SELECT u.type FROM unnest($1::text[]) AS u(type)
  WHERE NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'all')
    AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'type' AND p.target = u.type)
) AS t
CROSS JOIN LATERAL (
  SELECT * FROM jobs
  WHERE jobs.state IN ('queued', 'retrying')
    AND jobs.type = t.type
    AND jobs.run_at <= $2
    AND ($3::text IS NULL OR jobs.workflow = $3::text)
    AND ($4::text IS NULL OR jobs.project = $4::text)
    AND (jobs.project IS NULL OR NOT (jobs.project = ANY ($5::text[])))
    AND ($7::text[] IS NULL OR (jobs.payload::jsonb ->> 'affinity') IS NULL
         OR (jobs.payload::jsonb ->> 'affinity') = ANY ($7::text[]))
    AND (jobs.workflow IS NULL OR NOT EXISTS (
          SELECT 1 FROM pauses p WHERE p.scope = 'workflow' AND p.target = jobs.workflow))
    AND (jobs.resource_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.resource_key = jobs.resource_key))
  ORDER BY jobs.priority DESC, jobs.run_at, jobs.id
  LIMIT $6
  FOR UPDATE SKIP LOCKED
) AS j
ORDER BY j.priority DESC, j.run_at, j.id
LIMIT $6
