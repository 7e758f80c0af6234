-- Keeps the PostgreSQL schema version in step with SQLite's 000012 (ledger export and import
-- compare schema versions across stores).
--
-- SQLite's 000012 makes jobs_workflow partial: a job with neither a project nor a workflow writes
-- no entry there (docs/decisions.md D155). PostgreSQL's enqueue is bound by its round trip and
-- commit, not by the pages of one more index entry (docs/benchmarks.md), and that store was not
-- measured for this change. Nothing changes here.
SELECT 1;
