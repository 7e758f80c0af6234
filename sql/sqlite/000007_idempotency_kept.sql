-- Idempotency keys stay bound to their job after it finishes, until the job is cleaned or deleted
-- (docs/decisions.md D52): an enqueue with a key looks for the newest job with it in any state, so
-- that lookup needs an index over every state (jobs_idempotency covers only live jobs and is what
-- keeps two live jobs from sharing a key).
CREATE INDEX jobs_idempotency_any ON jobs (idempotency_key, id) WHERE idempotency_key IS NOT NULL;
