-- claim_by_type_prefix: the next claimable jobs whose type starts with a prefix (e.g. 'task:'), in
-- claim order.
-- Parameters: :low (the prefix), :high (the prefix with its last character incremented, so
--   low <= type < high is "starts with"), :paused (JSON array of paused types), :now (ms),
--   :workflow (or NULL), :project (or NULL), :excludedProjects (JSON array), :limit,
--   :affinities (JSON array, or NULL for no filter: a job whose payload names an `affinity` is
--   claimed only when it is in the list; see src/supervisor/hosts.ts).
-- Result: full job rows. A range scan of jobs_claim_type: the cost grows with the claimable jobs of
--   the matching types only, not with the backlog of other types.
SELECT * FROM jobs INDEXED BY jobs_claim_type
WHERE state IN ('queued', 'retrying')
  AND type >= :low AND type < :high
  AND type NOT IN (SELECT value FROM json_each(:paused))
  AND run_at <= :now
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
