-- baton SQLite schema, user_version 13. Regenerate: UPDATE_SCHEMA_SNAPSHOT=1 npx vitest run test/store.schema.test.ts

-- index events_at on events
CREATE INDEX events_at ON events (at);

-- index events_job on events
CREATE INDEX events_job ON events (job_id, id);

-- index events_workflow on events
CREATE INDEX events_workflow ON events (project, workflow, id);

-- index job_deps_reverse on job_deps
CREATE INDEX job_deps_reverse ON job_deps (depends_on);

-- index jobs_claim_type on jobs
CREATE INDEX jobs_claim_type ON jobs (type, priority DESC, run_at, id) WHERE state IN ('queued','retrying');

-- index jobs_enqueue_id on jobs
CREATE INDEX jobs_enqueue_id ON jobs (enqueue_id, project) WHERE enqueue_id IS NOT NULL;

-- index jobs_idempotency on jobs
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key)
  WHERE idempotency_key IS NOT NULL AND state IN ('waiting','queued','running','retrying');

-- index jobs_idempotency_any on jobs
CREATE INDEX jobs_idempotency_any ON jobs (idempotency_key, id) WHERE idempotency_key IS NOT NULL;

-- index jobs_lease on jobs
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';

-- index jobs_name on jobs
CREATE INDEX jobs_name ON jobs (name) WHERE name IS NOT NULL;

-- index jobs_resource on jobs
CREATE INDEX jobs_resource ON jobs (resource_key) WHERE resource_key IS NOT NULL AND state = 'running';

-- index jobs_short_id on jobs
CREATE INDEX jobs_short_id ON jobs (substr(id, 21));

-- index jobs_state on jobs
CREATE INDEX jobs_state ON jobs (state, finished_at) WHERE state NOT IN ('queued','retrying');

-- index jobs_workflow on jobs
CREATE INDEX jobs_workflow ON jobs (project, workflow, id) WHERE project IS NOT NULL OR workflow IS NOT NULL;

-- index requests_created_at on requests
CREATE INDEX requests_created_at ON requests (created_at);

-- table attempts on attempts
CREATE TABLE "attempts" (
  job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  n          INTEGER NOT NULL,
  token      TEXT NOT NULL,
  owner      TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at   INTEGER,
  outcome    TEXT,
  exit_code  INTEGER,
  error      TEXT,
  PRIMARY KEY (job_id, n)
) STRICT, WITHOUT ROWID;

-- table events on events
CREATE TABLE "events" (
  id         INTEGER PRIMARY KEY,
  job_id     TEXT,
  workflow   TEXT,
  project    TEXT,
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  kind       TEXT NOT NULL,
  from_state TEXT,
  to_state   TEXT,
  details    TEXT
) STRICT;

-- table job_deps on job_deps
CREATE TABLE job_deps (
  job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  depends_on TEXT NOT NULL,
  PRIMARY KEY (job_id, depends_on)
) STRICT, WITHOUT ROWID;

-- table jobs on jobs
CREATE TABLE jobs (
  id               TEXT PRIMARY KEY,
  type             TEXT NOT NULL,
  name             TEXT,
  payload          TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('waiting','queued','running','retrying','succeeded','failed','timed_out','cancelled','skipped')),
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  backoff          TEXT NOT NULL,
  workflow         TEXT,
  project          TEXT,
  idempotency_key  TEXT,
  resource_key     TEXT,
  tags             TEXT NOT NULL DEFAULT '[]',
  depends_on       TEXT NOT NULL DEFAULT '[]',
  timeout_ms       INTEGER,
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER,
  result           TEXT,
  evidence         TEXT,
  error            TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  archived_at      INTEGER
, enqueue_id INTEGER, enqueue_actor TEXT, enqueue_state TEXT) STRICT;

-- table locks on locks
CREATE TABLE locks (
  name        TEXT PRIMARY KEY,
  owner       TEXT NOT NULL,
  token       TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;

-- table pauses on pauses
CREATE TABLE pauses (
  scope      TEXT NOT NULL CHECK (scope IN ('all','type','workflow')),
  target     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (scope, target)
) STRICT;

-- table requests on requests
CREATE TABLE requests (
  request_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  op         TEXT NOT NULL,
  result     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (request_id, seq)
) WITHOUT ROWID;

-- table schedules on schedules
CREATE TABLE schedules (
  key           TEXT PRIMARY KEY,
  config_path   TEXT NOT NULL,
  task          TEXT NOT NULL,
  cron          TEXT NOT NULL,
  last_slot     INTEGER NOT NULL,
  last_fired_at INTEGER,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
, disabled_at INTEGER) STRICT;

-- view history on history
CREATE VIEW history (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details) AS
  SELECT id, job_id, workflow, project, at, actor, kind, from_state, to_state, details FROM events
  UNION ALL
  SELECT enqueue_id, id, workflow, project, created_at, enqueue_actor, 'enqueued', NULL, enqueue_state, NULL
  FROM jobs WHERE enqueue_id IS NOT NULL;
