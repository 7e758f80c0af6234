-- expired_leases: running jobs whose lease ran out (their owner stopped heartbeating), locked.
-- Parameters: $1 now (ms), $2 limit. Result: full job rows, locked FOR UPDATE; rows another
--   transaction is already recovering or finishing are skipped (SKIP LOCKED). Served by jobs_lease.
SELECT * FROM jobs
WHERE state = 'running' AND lease_expires_at < $1
ORDER BY lease_expires_at
LIMIT $2
FOR UPDATE SKIP LOCKED
