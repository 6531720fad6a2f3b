-- Up Migration

-- Evidence files (佐证材料) uploaded with a report, stored with their checksum.
CREATE TABLE attachments (
  id             text PRIMARY KEY,
  submission_id  text NOT NULL,
  name           text NOT NULL,
  content_type   text NOT NULL,
  size           integer NOT NULL,
  sha256         text NOT NULL,
  data           bytea NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_submission_idx ON attachments (submission_id);

-- What the reply page told a unit: "received", with a receipt number, once Temporal accepted the signal.
CREATE TABLE receipts (
  submission_id  text PRIMARY KEY,
  receipt_no     text NOT NULL UNIQUE,
  cycle_year     integer NOT NULL,
  work_point     integer NOT NULL,
  unit_id        text NOT NULL,
  period         text NOT NULL,
  kind           text NOT NULL,
  accepted_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipts_unit_idx ON receipts (cycle_year, work_point, unit_id);

-- Down Migration
DROP TABLE receipts;
DROP TABLE attachments;
