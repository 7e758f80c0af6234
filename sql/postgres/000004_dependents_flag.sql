-- A flag on a job that other jobs depend on, so a completion can run as one statement.
--
-- The store completes a running job with a single UPDATE (src/store/postgres/fast-paths.ts) unless
-- the job has dependents to release, which needs the general transaction. That UPDATE cannot look
-- for dependents in job_deps: under READ COMMITTED a statement's subqueries keep the snapshot it
-- started with, so a dependent enqueued (and committed) while the UPDATE waited for the job's row
-- lock would be missed and wait forever. A column of the job's own row is rechecked on the newest
-- row version after such a wait, so the enqueue of a dependent sets this flag on each of its
-- dependencies (with the row lock it takes anyway), and the single-statement completion requires
-- it to be false. The flag is never cleared: a job whose dependents were deleted merely takes the
-- general path.
ALTER TABLE jobs ADD COLUMN has_dependents BOOLEAN NOT NULL DEFAULT false;
UPDATE jobs SET has_dependents = true WHERE id IN (SELECT depends_on FROM job_deps);
