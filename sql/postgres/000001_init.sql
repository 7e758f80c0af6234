-- baton ledger, PostgreSQL dialect, version 1. Mirrors sql/sqlite/000001_init.sql.
--
-- The migration runner (src/store/postgres/postgres-store.ts) applies this inside one transaction,
-- under an advisory lock, with search_path set to the ledger's schema: names here are unqualified.
--
-- Times are BIGINT milliseconds since the epoch. JSON columns are TEXT, not JSONB: jsonb rewrites
-- whitespace and key order and refuses \u0000 and lone surrogates, and a payload must round-trip
-- byte for byte. JSON.stringify escapes NUL as \u0000, so the text never holds the raw NUL byte
-- that PostgreSQL text cannot store. Ids are COLLATE "C" so their order and prefix ranges are
-- bytewise whatever the database's locale (ULIDs sort by time that way).

CREATE TABLE jobs (
  id               TEXT COLLATE "C" PRIMARY KEY,
  type             TEXT NOT NULL,
  name             TEXT,
  payload          TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('waiting','queued','running','retrying','succeeded','failed','timed_out','cancelled','skipped')),
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           BIGINT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  backoff          TEXT NOT NULL,
  workflow         TEXT,
  project          TEXT,
  idempotency_key  TEXT,
  resource_key     TEXT,
  tags             TEXT NOT NULL DEFAULT '[]',
  depends_on       TEXT NOT NULL DEFAULT '[]',
  timeout_ms       BIGINT,
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at BIGINT,
  result           TEXT,
  evidence         TEXT,
  error            TEXT,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  started_at       BIGINT,
  finished_at      BIGINT,
  archived_at      BIGINT
);

-- The claim order (highest priority, then earliest due, then oldest). Partial: only claimable rows,
-- so the cost of a claim does not grow with the number of finished or waiting jobs.
CREATE INDEX jobs_claim_any ON jobs (priority DESC, run_at, id) WHERE state IN ('queued','retrying');
CREATE INDEX jobs_claim_type ON jobs (type, priority DESC, run_at, id) WHERE state IN ('queued','retrying');
-- Lease recovery scans only running jobs.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- One live job per idempotency key. Two concurrent enqueues of one key: the second waits on this
-- index, fails with a unique violation when the first commits, and its transaction is run again,
-- which then finds the first job and answers "deduplicated".
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key)
  WHERE idempotency_key IS NOT NULL AND state IN ('waiting','queued','running','retrying');
-- At most one running job per resource key. UNIQUE here (SQLite's is not): SQLite serialises
-- writers, but two PostgreSQL claimers can each see a resource free; the later one fails on this
-- index and its claim is run again.
CREATE UNIQUE INDEX jobs_resource ON jobs (resource_key) WHERE resource_key IS NOT NULL AND state = 'running';
CREATE INDEX jobs_workflow ON jobs (project, workflow, id);
CREATE INDEX jobs_state ON jobs (state, finished_at);
CREATE INDEX jobs_name ON jobs (name) WHERE name IS NOT NULL;

CREATE TABLE job_deps (
  job_id     TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  depends_on TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_deps_reverse ON job_deps (depends_on);

CREATE TABLE attempts (
  job_id     TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  n          INTEGER NOT NULL,
  token      TEXT NOT NULL,
  owner      TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  ended_at   BIGINT,
  outcome    TEXT,
  exit_code  INTEGER,
  error      TEXT,
  PRIMARY KEY (job_id, n)
);

-- Event ids come from an identity sequence. Unlike SQLite's, they are allocated when a transaction
-- inserts, not when it commits, so concurrent writers can commit them out of order.
CREATE TABLE events (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     TEXT COLLATE "C",
  workflow   TEXT,
  project    TEXT,
  at         BIGINT NOT NULL,
  actor      TEXT NOT NULL,
  kind       TEXT NOT NULL,
  from_state TEXT,
  to_state   TEXT,
  details    TEXT
);
CREATE INDEX events_job ON events (job_id, id);
CREATE INDEX events_workflow ON events (project, workflow, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE pauses (
  scope      TEXT NOT NULL CHECK (scope IN ('all','type','workflow')),
  target     TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (scope, target)
);
