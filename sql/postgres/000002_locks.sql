-- Named locks held in the ledger (the daemon's single-instance lock, configured tasks' `lock: true`).
-- Mirrors sql/sqlite/000002_locks.sql. A lock is held until released or until `expires_at` passes
-- without a renewal, so a crashed holder never keeps it forever. `owner` names the holder
-- (host:pid:start-time). Writers serialise on a transaction-scoped advisory lock per name, since
-- a row lock cannot guard a row that does not exist yet.
CREATE TABLE locks (
  name        TEXT PRIMARY KEY,
  owner       TEXT NOT NULL,
  token       TEXT NOT NULL,
  acquired_at BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL
);
