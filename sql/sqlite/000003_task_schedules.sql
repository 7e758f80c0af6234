-- Cron schedules of configured tasks (baton.yaml). The daemon's scheduler fires a task when one of
-- its cron slots comes due; `last_slot` is the newest slot already fired or passed over, so a slot
-- fires at most once, across daemon restarts and wall-clock jumps (R-18): the scheduler moves it
-- forward with a compare-and-set before it enqueues the run, and never backwards.
-- `key` is "<config file>#<task>"; `cron` is the expression last registered (a change restarts
-- counting from that moment). Times are integer milliseconds since the epoch.
CREATE TABLE schedules (
  key           TEXT PRIMARY KEY,
  config_path   TEXT NOT NULL,
  task          TEXT NOT NULL,
  cron          TEXT NOT NULL,
  last_slot     INTEGER NOT NULL,
  last_fired_at INTEGER,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
) STRICT;
