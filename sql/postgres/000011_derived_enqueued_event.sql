-- A new job's `enqueued` event is no longer a row of `events`: it is derived from the job's own row
-- (docs/decisions.md D152; the SQLite migration 000011 says the same in more detail).
--   enqueue_id     the event's id, from the events' own sequence (nextval), so it sorts before
--                  every later event of the job and cursors page over it as over a stored id;
--   enqueue_actor  who enqueued it;
--   enqueue_state  the state it was enqueued into (queued or waiting).
-- Rows written before this migration keep their stored `enqueued` event and NULL here (nothing is
-- derived for them, nothing shown twice). Every read of history goes through the view `history`.
ALTER TABLE jobs ADD COLUMN enqueue_id BIGINT;
ALTER TABLE jobs ADD COLUMN enqueue_actor TEXT;
ALTER TABLE jobs ADD COLUMN enqueue_state TEXT;
CREATE INDEX jobs_enqueue_id ON jobs (enqueue_id) WHERE enqueue_id IS NOT NULL;
CREATE VIEW history (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details) AS
  SELECT id, job_id, workflow, project, at, actor, kind, from_state, to_state, details FROM events
  UNION ALL
  SELECT enqueue_id, id, workflow, project, created_at, enqueue_actor, 'enqueued', NULL, enqueue_state, NULL
  FROM jobs WHERE enqueue_id IS NOT NULL;
