-- Keeps the PostgreSQL schema version in step with SQLite's 000013 (ledger export and import
-- compare schema versions across stores).
--
-- SQLite's 000013 makes jobs_state partial: a queued or retrying job writes no entry there
-- (docs/decisions.md D158). PostgreSQL's enqueue is bound by its round trip and commit, not by
-- the pages of one more index entry (docs/benchmarks.md), and that store was not measured for
-- this change. Nothing changes here.
SELECT 1;
