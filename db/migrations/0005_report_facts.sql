-- Up Migration

-- The facts behind each unit's state (milestones, submissions, waiver, returns), so the dashboard and the
-- annual report can recompute states and lights as of any instant with the same pure functions the workflow uses.
ALTER TABLE work_point_obligations ADD COLUMN facts jsonb;

-- A work point carried over from an earlier year's plan keeps a link back to where it came from.
ALTER TABLE work_points ADD COLUMN origin jsonb;

-- Down Migration
ALTER TABLE work_points DROP COLUMN origin;
ALTER TABLE work_point_obligations DROP COLUMN facts;
