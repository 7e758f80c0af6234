-- schema_migrations: which numbered migrations the ledger's schema has applied (one row each).
-- Created by the migration runner before it applies anything, under the same advisory lock. The
-- schema version is max(version); a database newer than the code is refused (SCHEMA_TOO_NEW).
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)
