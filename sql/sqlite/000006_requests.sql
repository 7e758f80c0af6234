-- The outcome of each write a request made (R-32), so that a caller that lost its answer (its
-- daemon died mid-call) can send the same request id again and get the first call's answer back
-- instead of doing the work twice. One row per write transaction of the request, written in that
-- same transaction: a row exists exactly when its write committed. `seq` numbers the request's
-- writes in the order the operation made them; `result` is that write's answer as JSON. Rows older
-- than the retention window (24 h) are deleted by later requests.
CREATE TABLE requests (
  request_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  op         TEXT NOT NULL,
  result     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (request_id, seq)
) WITHOUT ROWID;
CREATE INDEX requests_created_at ON requests (created_at);
