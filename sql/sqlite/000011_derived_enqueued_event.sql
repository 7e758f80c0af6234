-- A new job's `enqueued` event is no longer a row of `events`: it is derived from the job's own row
-- (docs/decisions.md D152). An enqueue wrote the job row with its index entries AND an event row
-- with three more (events_job, events_workflow, events_at); the COMMIT of those pages was half of
-- an enqueue's CPU. The job row now carries what the event held that the row did not:
--   enqueue_id     the event's id, taken from the events' id space under the write lock
--                  (max over events.id and jobs.enqueue_id, plus one), so it sorts before every
--                  later event of the job and cursors (SSE Last-Event-ID, `resume --since`,
--                  job_events' afterId) page over it as over a stored id;
--   enqueue_actor  who enqueued it;
--   enqueue_state  the state it was enqueued into (queued or waiting; the row's state moves on).
-- Its `at` is created_at, its job_id/workflow/project the row's, from_state and details null,
-- exactly what the stored event held. Every read of history goes through the view `history`.
--
-- Existing ledgers: rows written before this migration keep their stored `enqueued` event and
-- NULL in these columns, so nothing is derived for them and nothing is shown twice. Deleting a job
-- (`baton delete`) first writes its derived event as a stored row with the same id, so a deleted
-- job's history keeps its enqueue as before; `clean` removes it with the job's other events.
ALTER TABLE jobs ADD COLUMN enqueue_id INTEGER;
ALTER TABLE jobs ADD COLUMN enqueue_actor TEXT;
ALTER TABLE jobs ADD COLUMN enqueue_state TEXT;
-- Paging by id (id > cursor, newest first), the next id's max() over the derived events, and a
-- project's newest events walked in id order with the project read from the index (src/store/history.ts).
CREATE INDEX jobs_enqueue_id ON jobs (enqueue_id, project) WHERE enqueue_id IS NOT NULL;
CREATE VIEW history (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details) AS
  SELECT id, job_id, workflow, project, at, actor, kind, from_state, to_state, details FROM events
  UNION ALL
  SELECT enqueue_id, id, workflow, project, created_at, enqueue_actor, 'enqueued', NULL, enqueue_state, NULL
  FROM jobs WHERE enqueue_id IS NOT NULL;
