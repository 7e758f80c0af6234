-- claimable_types: the distinct types that have a queued or retrying job, in type order.
-- Parameters: none.
-- Result: one row per type. A skip over jobs_claim_type (one seek per type, whatever the backlog):
--   a claim that names no type claims from each of these (claim_by_type.sql) and merges them in
--   claim order (docs/decisions.md D119).
WITH RECURSIVE claimable (type) AS (
  SELECT (SELECT min(type) FROM jobs INDEXED BY jobs_claim_type WHERE state IN ('queued', 'retrying'))
  UNION ALL
  SELECT (SELECT min(type) FROM jobs INDEXED BY jobs_claim_type
          WHERE state IN ('queued', 'retrying') AND type > claimable.type)
  FROM claimable
  WHERE claimable.type IS NOT NULL
)
SELECT type FROM claimable WHERE type IS NOT NULL
