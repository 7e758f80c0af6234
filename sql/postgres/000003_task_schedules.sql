-- Cron schedules of configured tasks (baton.yaml). Mirrors sql/sqlite/000003_task_schedules.sql.
-- The daemon's scheduler fires a task when one of its cron slots comes due; `last_slot` is the
-- newest slot already fired or passed over, so a slot fires at most once, across daemon restarts
-- and wall-clock jumps (R-18): the scheduler moves it forward with a compare-and-set (the row is
-- read FOR UPDATE) before it enqueues the run, and never backwards.
CREATE TABLE schedules (
  key           TEXT PRIMARY KEY,
  config_path   TEXT NOT NULL,
  task          TEXT NOT NULL,
  cron          TEXT NOT NULL,
  last_slot     BIGINT NOT NULL,
  last_fired_at BIGINT,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);
