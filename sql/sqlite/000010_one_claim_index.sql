-- One partial index for claims instead of two (docs/decisions.md D119).
--
-- jobs_claim_any (priority DESC, run_at, id) served only claims that name no type, and every job
-- paid for it: an entry written at enqueue and at each retry, removed at each claim, on top of
-- jobs_claim_type's. Every claim that baton's own front-ends make names its types (the worker its
-- handlers' types, the supervisor its `task:`/agent prefixes, `claim` the types that have work), so
-- they read jobs_claim_type only. A claim that names no type now walks jobs_claim_type too: the
-- claimable types first (claimable_types.sql, a skip over the same index), then each type in claim
-- order, merged (src/store/sqlite/sqlite-store.ts). The rows and their order are the same.
DROP INDEX jobs_claim_any;
