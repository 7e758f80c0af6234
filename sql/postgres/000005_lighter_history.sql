-- Keeps the PostgreSQL schema version in step with SQLite's 000005 (ledger export and import
-- compare schema versions across stores).
--
-- SQLite's 000005 drops AUTOINCREMENT from events and makes attempts WITHOUT ROWID, to write fewer
-- pages per transaction. PostgreSQL has neither cost: events.id comes from a sequence, which never
-- hands out an id twice, and a table is always a heap with separate indexes. Nothing changes here.
SELECT 1;
