-- jobs_workflow holds only the jobs that have a project or a workflow (docs/decisions.md D155).
--
-- Every enqueue wrote an entry in jobs_workflow (project, workflow, id), one of the seven b-trees
-- a new job touches (the row, its primary key, jobs_claim_type, jobs_workflow, jobs_state,
-- jobs_short_id, jobs_enqueue_id); each is a page the enqueue's COMMIT writes to the WAL, and the
-- COMMIT is most of an enqueue's CPU (docs/benchmarks.md, issue 22). The entries of a job with
-- neither a project nor a workflow are never read: every read this index serves names a project
-- (`project = ?`) or a workflow (`workflow = ?`, `project IS ? AND workflow = ?`), and SQLite uses
-- a partial index when the query's terms imply its WHERE (`x = ?` implies `x IS NOT NULL`, which
-- implies the OR). Reads that name neither never used it: its first column is the project.
-- The same rows are answered in the same order; existing ledgers keep every job, the index is
-- rebuilt from them here.
DROP INDEX jobs_workflow;
CREATE INDEX jobs_workflow ON jobs (project, workflow, id) WHERE project IS NOT NULL OR workflow IS NOT NULL;
