-- Up Migration

-- Who is assigned to each work point of a cycle, one row per work point. It was one jsonb array on cycles
-- (cycles.assignees), which every reply-page request read and parsed whole: ~1 MB at 1,000 work points × 20 units.
-- The reply page needs one work point's row; the primary key finds it.
-- input: the work point's whole workflow input as prepareCycle resolved it (NULL for rows moved from the old
-- column), so the cycle workflow can start its children a page at a time instead of carrying every input in one
-- activity result (Temporal refuses payloads over 2 MB: ~1,200 work points × 20 units).
CREATE TABLE cycle_assignees (
  cycle_year         integer NOT NULL REFERENCES cycles (year) ON DELETE CASCADE,
  work_point         integer NOT NULL,
  lead_units         text[] NOT NULL,
  responsible_units  text[] NOT NULL,
  input              jsonb,
  PRIMARY KEY (cycle_year, work_point)
);

INSERT INTO cycle_assignees (cycle_year, work_point, lead_units, responsible_units)
SELECT c.year,
       (a ->> 'number')::integer,
       ARRAY(SELECT u ->> 'id' FROM jsonb_array_elements(a -> 'leadUnits') AS u),
       ARRAY(SELECT u ->> 'id' FROM jsonb_array_elements(a -> 'responsibleUnits') AS u)
  FROM cycles c, jsonb_array_elements(c.assignees) AS a
 WHERE c.assignees IS NOT NULL;

ALTER TABLE cycles DROP COLUMN assignees;

-- Down Migration
ALTER TABLE cycles ADD COLUMN assignees jsonb;
UPDATE cycles c
   SET assignees = (SELECT jsonb_agg(jsonb_build_object(
                             'number', a.work_point,
                             'leadUnits', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u)), '[]') FROM unnest(a.lead_units) AS u),
                             'responsibleUnits', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u)), '[]') FROM unnest(a.responsible_units) AS u))
                           ORDER BY a.work_point)
                      FROM cycle_assignees a WHERE a.cycle_year = c.year);
DROP TABLE cycle_assignees;
