-- The outcome of each write a request made (R-32). Mirrors sql/sqlite/000006_requests.sql: one row
-- per write transaction of a request, written in that transaction, so a caller that lost its
-- answer sends the same request id again and gets the first call's answer instead of a second run.
CREATE TABLE requests (
  request_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  op         TEXT NOT NULL,
  result     TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (request_id, seq)
);
CREATE INDEX requests_created_at ON requests (created_at);
