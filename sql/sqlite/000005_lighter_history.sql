-- Fewer pages written per claim, outcome and enqueue (docs/decisions.md D35).
--
-- 1. events loses AUTOINCREMENT. Its only use was that an event id is never handed out twice
--    (ids are cursors: SSE Last-Event-ID, `resume --since`, job_events). AUTOINCREMENT pays for
--    that with a write to sqlite_sequence in every transaction that appends an event: one more
--    page in the WAL each time. A plain INTEGER PRIMARY KEY takes max(id) + 1, which only repeats
--    an id when the newest row is deleted; the one statement that deletes events (clean) now keeps
--    the newest row, so max(id) never goes down. Should an earlier clean have removed the newest
--    events (sqlite_sequence above max(id)), a `migrated` event takes the old high-water mark.
-- 2. attempts becomes WITHOUT ROWID: rows are looked up by their primary key (job_id, n) only, so
--    the table itself can be that b-tree instead of a rowid table plus a separate key index (one
--    page less per claim).

CREATE TABLE events_v5 (
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
INSERT INTO events_v5 (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details)
  SELECT id, job_id, workflow, project, at, actor, kind, from_state, to_state, details FROM events;
INSERT INTO events_v5 (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details)
  SELECT s.seq, NULL, NULL, NULL, CAST(unixepoch('subsec') * 1000 AS INTEGER), 'baton:migrate', 'migrated',
    NULL, NULL, '{"schemaVersion":5,"why":"keeps new event ids above every id handed out before"}'
  FROM sqlite_sequence s
  WHERE s.name = 'events' AND s.seq > (SELECT coalesce(max(id), 0) FROM events);
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
DELETE FROM sqlite_sequence WHERE name = 'events';
CREATE INDEX events_job ON events (job_id, id);
CREATE INDEX events_workflow ON events (project, workflow, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE attempts_v5 (
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
INSERT INTO attempts_v5 (job_id, n, token, owner, started_at, ended_at, outcome, exit_code, error)
  SELECT job_id, n, token, owner, started_at, ended_at, outcome, exit_code, error FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v5 RENAME TO attempts;
