-- claim_any: the next claimable jobs of any type except the excluded ones, in claim order.
-- Parameters: :now (ms), :excluded (JSON array of types), :workflow (or NULL), :project (or NULL),
--   :excludedProjects (JSON array of projects at their concurrency limit), :limit,
--   :affinities (JSON array, or NULL for no filter: a job whose payload names an `affinity` is
--   claimed only when it is in the list; see src/supervisor/hosts.ts).
-- Result: full job rows. Served by jobs_claim_any.
SELECT * FROM jobs INDEXED BY jobs_claim_any
WHERE state IN ('queued', 'retrying')
  AND run_at <= :now
  AND type NOT IN (SELECT value FROM json_each(:excluded))
  AND (:workflow IS NULL OR workflow = :workflow)
  AND (:project IS NULL OR project = :project)
  AND (project IS NULL OR project NOT IN (SELECT value FROM json_each(:excludedProjects)))
  AND (:affinities IS NULL OR json_extract(payload, '$.affinity') IS NULL
       OR json_extract(payload, '$.affinity') IN (SELECT value FROM json_each(:affinities)))
  AND (workflow IS NULL OR NOT EXISTS (
        SELECT 1 FROM pauses p WHERE p.scope = 'workflow' AND p.target = jobs.workflow))
  AND (resource_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.resource_key = jobs.resource_key))
ORDER BY priority DESC, run_at, id
LIMIT +:limit  -- "+": a bare bound LIMIT re-prepares the statement at every run (D34)
