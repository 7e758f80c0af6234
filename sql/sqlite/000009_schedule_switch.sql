-- A configured task's schedule can be switched off and on again (baton schedule disable|enable,
-- docs/decisions.md D77) without editing baton.yaml. `disabled_at` is when it was switched off
-- (NULL: on). The daemon's scheduler passes over the slots of a disabled schedule (it moves
-- `last_slot` forward without firing), so switching it on resumes at the next slot and never
-- catches up the time it was off. The switch survives daemon restarts and config reloads; it goes
-- with the row when the task leaves its config.
ALTER TABLE schedules ADD COLUMN disabled_at INTEGER;
