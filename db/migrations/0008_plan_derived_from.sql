-- Up Migration

-- A plan carried into another year (POST /api/plans/:id/copy) points to the plan it was copied from.
ALTER TABLE plans ADD COLUMN derived_from bigint REFERENCES plans (id);
CREATE UNIQUE INDEX plans_derived_year_idx ON plans (derived_from, year) WHERE derived_from IS NOT NULL;

-- Down Migration
DROP INDEX plans_derived_year_idx;
ALTER TABLE plans DROP COLUMN derived_from;
