-- Up Migration

-- The run of the cycle workflow whose inputs cycle_assignees.input holds (NULL: recorded without one). The API
-- prepares a cycle to answer 422 before starting it and records what it prepared with the run it started; the cycle's
-- prepare activity uses that record when it is its own run's, instead of preparing everything a second time, and
-- never the inputs an earlier, failed run of the same year left behind.
ALTER TABLE cycles ADD COLUMN inputs_run_id text;

-- Down Migration
ALTER TABLE cycles DROP COLUMN inputs_run_id;
