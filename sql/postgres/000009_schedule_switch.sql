-- A configured task's schedule can be switched off and on. Mirrors
-- sql/sqlite/000009_schedule_switch.sql: `disabled_at` is when it was switched off (NULL: on);
-- the scheduler passes over a disabled schedule's slots, so switching it on never catches up.
ALTER TABLE schedules ADD COLUMN disabled_at BIGINT;
