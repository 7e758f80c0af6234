-- baton PostgreSQL schema, version 13. Regenerate: UPDATE_SCHEMA_SNAPSHOT=1 npx vitest run test/store.schema.postgres.test.ts

-- table attempts
CREATE TABLE attempts (
  job_id text COLLATE "C" NOT NULL,
  n integer NOT NULL,
  token text NOT NULL,
  owner text NOT NULL,
  started_at bigint NOT NULL,
  ended_at bigint,
  outcome text,
  exit_code integer,
  error text,
  CONSTRAINT attempts_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(id) ON DELETE CASCADE,
  CONSTRAINT attempts_pkey PRIMARY KEY (job_id, n)
);

-- table events
CREATE TABLE events (
  id bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
  job_id text COLLATE "C",
  workflow text,
  project text,
  at bigint NOT NULL,
  actor text NOT NULL,
  kind text NOT NULL,
  from_state text,
  to_state text,
  details text,
  CONSTRAINT events_pkey PRIMARY KEY (id)
);

-- table job_deps
CREATE TABLE job_deps (
  job_id text COLLATE "C" NOT NULL,
  depends_on text COLLATE "C" NOT NULL,
  CONSTRAINT job_deps_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(id) ON DELETE CASCADE,
  CONSTRAINT job_deps_pkey PRIMARY KEY (job_id, depends_on)
);

-- table jobs
CREATE TABLE jobs (
  id text COLLATE "C" NOT NULL,
  type text NOT NULL,
  name text,
  payload text NOT NULL,
  state text NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  run_at bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  backoff text NOT NULL,
  workflow text,
  project text,
  idempotency_key text,
  resource_key text,
  tags text NOT NULL DEFAULT '[]'::text,
  depends_on text NOT NULL DEFAULT '[]'::text,
  timeout_ms bigint,
  lease_owner text,
  lease_token text,
  lease_expires_at bigint,
  result text,
  evidence text,
  error text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  archived_at bigint,
  has_dependents boolean NOT NULL DEFAULT false,
  enqueue_id bigint,
  enqueue_actor text,
  enqueue_state text,
  CONSTRAINT jobs_pkey PRIMARY KEY (id),
  CONSTRAINT jobs_state_check CHECK ((state = ANY (ARRAY['waiting'::text, 'queued'::text, 'running'::text, 'retrying'::text, 'succeeded'::text, 'failed'::text, 'timed_out'::text, 'cancelled'::text, 'skipped'::text])))
);

-- table locks
CREATE TABLE locks (
  name text NOT NULL,
  owner text NOT NULL,
  token text NOT NULL,
  acquired_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  CONSTRAINT locks_pkey PRIMARY KEY (name)
);

-- table pauses
CREATE TABLE pauses (
  scope text NOT NULL,
  target text NOT NULL,
  created_at bigint NOT NULL,
  CONSTRAINT pauses_pkey PRIMARY KEY (scope, target),
  CONSTRAINT pauses_scope_check CHECK ((scope = ANY (ARRAY['all'::text, 'type'::text, 'workflow'::text])))
);

-- table requests
CREATE TABLE requests (
  request_id text NOT NULL,
  seq integer NOT NULL,
  op text NOT NULL,
  result text NOT NULL,
  created_at bigint NOT NULL,
  CONSTRAINT requests_pkey PRIMARY KEY (request_id, seq)
);

-- table schedules
CREATE TABLE schedules (
  key text NOT NULL,
  config_path text NOT NULL,
  task text NOT NULL,
  cron text NOT NULL,
  last_slot bigint NOT NULL,
  last_fired_at bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  disabled_at bigint,
  CONSTRAINT schedules_pkey PRIMARY KEY (key)
);

-- table schema_migrations
CREATE TABLE schema_migrations (
  version integer NOT NULL,
  name text NOT NULL,
  applied_at bigint NOT NULL,
  CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);

-- index attempts_pkey
CREATE UNIQUE INDEX attempts_pkey ON attempts USING btree (job_id, n);

-- index events_at
CREATE INDEX events_at ON events USING btree (at);

-- index events_job
CREATE INDEX events_job ON events USING btree (job_id, id);

-- index events_pkey
CREATE UNIQUE INDEX events_pkey ON events USING btree (id);

-- index events_workflow
CREATE INDEX events_workflow ON events USING btree (project, workflow, id);

-- index job_deps_pkey
CREATE UNIQUE INDEX job_deps_pkey ON job_deps USING btree (job_id, depends_on);

-- index job_deps_reverse
CREATE INDEX job_deps_reverse ON job_deps USING btree (depends_on);

-- index jobs_claim_any
CREATE INDEX jobs_claim_any ON jobs USING btree (priority DESC, run_at, id) WHERE (state = ANY (ARRAY['queued'::text, 'retrying'::text]));

-- index jobs_claim_type
CREATE INDEX jobs_claim_type ON jobs USING btree (type, priority DESC, run_at, id) WHERE (state = ANY (ARRAY['queued'::text, 'retrying'::text]));

-- index jobs_enqueue_id
CREATE INDEX jobs_enqueue_id ON jobs USING btree (enqueue_id) WHERE (enqueue_id IS NOT NULL);

-- index jobs_idempotency
CREATE UNIQUE INDEX jobs_idempotency ON jobs USING btree (idempotency_key) WHERE ((idempotency_key IS NOT NULL) AND (state = ANY (ARRAY['waiting'::text, 'queued'::text, 'running'::text, 'retrying'::text])));

-- index jobs_idempotency_any
CREATE INDEX jobs_idempotency_any ON jobs USING btree (idempotency_key, id) WHERE (idempotency_key IS NOT NULL);

-- index jobs_lease
CREATE INDEX jobs_lease ON jobs USING btree (lease_expires_at) WHERE (state = 'running'::text);

-- index jobs_name
CREATE INDEX jobs_name ON jobs USING btree (name) WHERE (name IS NOT NULL);

-- index jobs_pkey
CREATE UNIQUE INDEX jobs_pkey ON jobs USING btree (id);

-- index jobs_resource
CREATE UNIQUE INDEX jobs_resource ON jobs USING btree (resource_key) WHERE ((resource_key IS NOT NULL) AND (state = 'running'::text));

-- index jobs_short_id
CREATE INDEX jobs_short_id ON jobs USING btree (substr(id, 21));

-- index jobs_state
CREATE INDEX jobs_state ON jobs USING btree (state, finished_at);

-- index jobs_workflow
CREATE INDEX jobs_workflow ON jobs USING btree (project, workflow, id);

-- index locks_pkey
CREATE UNIQUE INDEX locks_pkey ON locks USING btree (name);

-- index pauses_pkey
CREATE UNIQUE INDEX pauses_pkey ON pauses USING btree (scope, target);

-- index requests_created_at
CREATE INDEX requests_created_at ON requests USING btree (created_at);

-- index requests_pkey
CREATE UNIQUE INDEX requests_pkey ON requests USING btree (request_id, seq);

-- index schedules_pkey
CREATE UNIQUE INDEX schedules_pkey ON schedules USING btree (key);

-- index schema_migrations_pkey
CREATE UNIQUE INDEX schema_migrations_pkey ON schema_migrations USING btree (version);
