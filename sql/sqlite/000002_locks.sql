-- Named locks held in the ledger (the daemon's single-instance lock, configured tasks' `lock: true`).
-- A lock is held until released or until `expires_at` passes without a renewal, so a crashed
-- holder never keeps it forever. `owner` names the holder (host:pid:start-time).
CREATE TABLE locks (
  name        TEXT PRIMARY KEY,
  owner       TEXT NOT NULL,
  token       TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;
