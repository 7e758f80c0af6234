-- Keeps the PostgreSQL schema version in step with SQLite's 000010 (ledger export and import
-- compare schema versions across stores).
--
-- SQLite's 000010 drops jobs_claim_any: claims that name no type walk jobs_claim_type type by type
-- instead. PostgreSQL keeps it: there an untyped claim is one locked statement (claim_any.sql,
-- FOR UPDATE SKIP LOCKED, combined with the claim's writes in src/store/postgres/fast-paths.ts),
-- which a walk type by type would split, and PostgreSQL's processing targets are not bound by it
-- (docs/decisions.md D119). Nothing changes here.
SELECT 1;
