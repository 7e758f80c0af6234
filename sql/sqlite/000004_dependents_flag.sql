-- Keeps the SQLite schema version in step with PostgreSQL's 000004 (ledger export and import
-- compare schema versions across stores).
--
-- PostgreSQL adds jobs.has_dependents so that a completion can be one UPDATE under READ COMMITTED.
-- SQLite needs no such flag: every write runs in a BEGIN IMMEDIATE transaction, which sees all
-- committed dependents, so its completion reads job_deps directly. Nothing changes here.
SELECT 1;
