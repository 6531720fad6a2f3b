-- Up Migration

-- The unit directory (单位目录). Identity is a stable slug; names and aliases are how documents refer to units.
CREATE TABLE units (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]*$'),
  name        text NOT NULL UNIQUE,
  aliases     text[] NOT NULL DEFAULT '{}',
  kind        text NOT NULL CHECK (kind IN ('office', 'department', 'town', 'community')),
  tags        text[] NOT NULL DEFAULT '{}',
  contacts    jsonb NOT NULL DEFAULT '[]',
  active      boolean NOT NULL DEFAULT true,
  demo        boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Selections for groups the office chooses per work point (园区相关部门, 园区各相关部门).
-- work_point 0 is the default selection used when a work point has none of its own.
CREATE TABLE unit_group_selections (
  group_name  text NOT NULL,
  work_point  integer NOT NULL CHECK (work_point >= 0),
  unit_ids    text[] NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, work_point)
);

-- Imported plans (工作要点): the source text is kept verbatim next to the parse.
CREATE TABLE plans (
  id          bigserial PRIMARY KEY,
  year        integer NOT NULL,
  title       text,
  issuer      text,
  doc_number  text,
  issued_at   date,
  source_text text NOT NULL,
  source_sha256 text NOT NULL,
  warnings    jsonb NOT NULL DEFAULT '[]',
  sections    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source_sha256)
);

CREATE TABLE work_points (
  plan_id            bigint NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
  number             integer NOT NULL,
  section            text,
  title              text NOT NULL,
  text               text NOT NULL,
  lead_units         text[] NOT NULL,
  responsible_units  text[] NOT NULL,
  PRIMARY KEY (plan_id, number)
);

-- One row per annual cycle; Temporal owns its process state, this is the record of what was started.
CREATE TABLE cycles (
  year         integer PRIMARY KEY,
  plan_id      bigint NOT NULL REFERENCES plans (id),
  workflow_id  text NOT NULL,
  run_id       text,
  options      jsonb NOT NULL DEFAULT '{}',
  assignees    jsonb,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  result       jsonb
);

-- Outbox of notices. The idempotency key (workflow id + event) makes a retried activity write once.
CREATE TABLE outbox (
  id               bigserial PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE,
  workflow_id      text NOT NULL,
  cycle_year       integer NOT NULL,
  work_point       integer,
  unit_id          text NOT NULL,
  kind             text NOT NULL,
  period           text,
  channel          text NOT NULL,
  address          text NOT NULL,
  subject          text NOT NULL,
  body             text NOT NULL,
  link             text,
  scheduled_for    timestamptz NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
  attempts         integer NOT NULL DEFAULT 0,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
CREATE INDEX outbox_cycle_idx ON outbox (cycle_year, work_point);
CREATE INDEX outbox_unit_idx ON outbox (unit_id, created_at);
CREATE INDEX outbox_pending_idx ON outbox (scheduled_for) WHERE status = 'pending';

-- Reports (报送). submission_id comes from the form, so a double submit or retry lands once.
CREATE TABLE reports (
  id             bigserial PRIMARY KEY,
  submission_id  text NOT NULL UNIQUE,
  workflow_id    text NOT NULL,
  cycle_year     integer NOT NULL,
  work_point     integer NOT NULL,
  unit_id        text NOT NULL,
  period         text NOT NULL,
  kind           text NOT NULL DEFAULT 'report' CHECK (kind IN ('report', 'summary')),
  text           text NOT NULL,
  attachments    jsonb NOT NULL DEFAULT '[]',
  self_assessment text,
  late           boolean NOT NULL DEFAULT false,
  submitted_at   timestamptz NOT NULL,
  stored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_wp_idx ON reports (cycle_year, work_point, unit_id, period);

-- Projection of each work point's live status, written by the workflow through an activity,
-- so the API can list a cycle without querying every workflow.
CREATE TABLE work_point_status (
  workflow_id  text PRIMARY KEY,
  cycle_year   integer NOT NULL,
  work_point   integer NOT NULL,
  status       text NOT NULL,
  light        text NOT NULL CHECK (light IN ('green', 'yellow', 'red')),
  overdue_units text[] NOT NULL DEFAULT '{}',
  snapshot     jsonb NOT NULL,
  version      bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_point_status_cycle_idx ON work_point_status (cycle_year, work_point);

-- Projection of every unit's duty per period (the dashboard's grid), updated with the status.
CREATE TABLE work_point_obligations (
  workflow_id       text NOT NULL,
  cycle_year        integer NOT NULL,
  work_point        integer NOT NULL,
  unit_id           text NOT NULL,
  unit_name         text NOT NULL,
  period            text NOT NULL,
  state             text NOT NULL,
  due_at            timestamptz NOT NULL,
  acknowledged_at   timestamptz,
  last_submitted_at timestamptz,
  submissions       integer NOT NULL,
  extension         jsonb,
  version           bigint NOT NULL,
  PRIMARY KEY (workflow_id, unit_id, period)
);
CREATE INDEX work_point_obligations_cycle_idx ON work_point_obligations (cycle_year, unit_id);

-- The work points' timelines (notices, reports, office actions), appended by saveStatus.
CREATE TABLE work_point_timeline (
  workflow_id  text NOT NULL,
  seq          integer NOT NULL,
  at           timestamptz NOT NULL,
  kind         text NOT NULL,
  unit_id      text,
  period       text,
  detail       text NOT NULL,
  PRIMARY KEY (workflow_id, seq)
);

-- Audit trail of office actions (who, when, what, why).
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  target      text NOT NULL,
  reason      text,
  details     jsonb NOT NULL DEFAULT '{}'
);

-- Down Migration
DROP TABLE audit_log;
DROP TABLE work_point_timeline;
DROP TABLE work_point_obligations;
DROP TABLE work_point_status;
DROP TABLE reports;
DROP TABLE outbox;
DROP TABLE cycles;
DROP TABLE work_points;
DROP TABLE plans;
DROP TABLE unit_group_selections;
DROP TABLE units;
