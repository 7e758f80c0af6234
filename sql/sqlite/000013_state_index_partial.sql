-- jobs_state holds only the jobs that are not claimable (docs/decisions.md D158).
--
-- Every enqueue wrote an entry (state, finished_at) in jobs_state, and every claim moved it; a
-- queued or retrying job is already in jobs_claim_type (WHERE state IN ('queued','retrying')),
-- and every read that asks for those states reaches them there. Now an enqueue writes no entry
-- here and a claim inserts one (the job's 'running') instead of moving one. SQLite uses a partial
-- index only when the query's terms imply its WHERE: the reads that use this index carry the
-- redundant term `state NOT IN ('queued','retrying')`, written exactly as below. Existing ledgers
-- keep every job; the index is rebuilt from them here.
DROP INDEX jobs_state;
CREATE INDEX jobs_state ON jobs (state, finished_at) WHERE state NOT IN ('queued','retrying');
