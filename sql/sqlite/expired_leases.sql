-- expired_leases: running jobs whose lease ran out (their owner stopped heartbeating).
-- Parameters: :now (ms), :limit. Result: full job rows. Served by jobs_lease.
SELECT * FROM jobs INDEXED BY jobs_lease
WHERE state = 'running' AND lease_expires_at < :now
ORDER BY lease_expires_at
LIMIT +:limit  -- "+": a bare bound LIMIT re-prepares the statement at every run (D34)
