-- Up Migration

-- Idempotency keys of the office's actions (the Idempotency-Key header): a repeated request with the same key gets
-- the first answer back instead of signalling the workflow again. A row is claimed before the signal (status_code
-- NULL = in flight) and holds the answer once Temporal accepted the signal; an attempt that failed deletes its row,
-- so the client may retry with the same key. The fingerprint (token, method, route, body) refuses the same key for
-- a different request.
CREATE TABLE action_keys (
  key           text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
  fingerprint   text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  actor         text NOT NULL,
  status_code   integer,
  response      jsonb,
  claimed_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  CHECK ((status_code IS NULL) = (completed_at IS NULL))
);

-- The audit view (GET /api/audit) filters by these and pages by id, newest first.
CREATE INDEX audit_log_actor_id_idx ON audit_log (actor, id);
CREATE INDEX audit_log_action_id_idx ON audit_log (action, id);
CREATE INDEX audit_log_target_id_idx ON audit_log (target, id);

-- Down Migration
DROP INDEX audit_log_target_id_idx;
DROP INDEX audit_log_action_id_idx;
DROP INDEX audit_log_actor_id_idx;
DROP TABLE action_keys;
