-- Up Migration

-- One message that carried several notices to one contact (the daily digest, 基层减负). A row per send
-- attempt: a failed attempt stays here with its error, its notices go back to the outbox queue.
CREATE TABLE digests (
  id            bigserial PRIMARY KEY,
  unit_id       text NOT NULL,
  channel       text NOT NULL,
  address       text NOT NULL,
  subject       text NOT NULL,
  notices       integer NOT NULL CHECK (notices > 0),
  status        text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  delivered_at  timestamptz
);
CREATE INDEX digests_unit_idx ON digests (unit_id, created_at);

-- Delivery state of each notice:
--   due_at           the deadline the notice is about (listed in digests);
--   deliver_after    not sent before this instant (digest slot or, for bypassing kinds, after quiet hours);
--   digest           true: collected into the contact's daily digest; false: sent on its own;
--   next_attempt_at  back-off after a failed attempt;
--   claimed_at/claim_token  the dispatcher's claim while sending ('sending'), so two workers never send one row.
-- Rows written before this migration keep deliver_after = scheduled_for and go out on their own.
ALTER TABLE outbox
  ADD COLUMN due_at timestamptz,
  ADD COLUMN deliver_after timestamptz,
  ADD COLUMN digest boolean NOT NULL DEFAULT false,
  ADD COLUMN digest_id bigint REFERENCES digests (id),
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN claimed_at timestamptz,
  ADD COLUMN claim_token text;
UPDATE outbox SET deliver_after = scheduled_for;
ALTER TABLE outbox ALTER COLUMN deliver_after SET DEFAULT now();
ALTER TABLE outbox ALTER COLUMN deliver_after SET NOT NULL;

ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped'));

DROP INDEX outbox_pending_idx;
CREATE INDEX outbox_due_idx ON outbox (deliver_after) WHERE status = 'pending';
CREATE INDEX outbox_contact_due_idx ON outbox (unit_id, channel, address) WHERE status = 'pending';
CREATE INDEX outbox_sending_idx ON outbox (claimed_at) WHERE status = 'sending';
CREATE INDEX outbox_digest_idx ON outbox (digest_id) WHERE digest_id IS NOT NULL;
-- The office's notification view filters by these and pages by id.
CREATE INDEX outbox_status_id_idx ON outbox (status, id);
CREATE INDEX outbox_kind_id_idx ON outbox (kind, id);

-- Down Migration
DROP INDEX outbox_kind_id_idx;
DROP INDEX outbox_status_id_idx;
DROP INDEX outbox_digest_idx;
DROP INDEX outbox_sending_idx;
DROP INDEX outbox_contact_due_idx;
DROP INDEX outbox_due_idx;
CREATE INDEX outbox_pending_idx ON outbox (scheduled_for) WHERE status = 'pending';
UPDATE outbox SET status = 'pending', claimed_at = NULL, claim_token = NULL WHERE status = 'sending';
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent', 'failed', 'skipped'));
ALTER TABLE outbox
  DROP COLUMN claim_token,
  DROP COLUMN claimed_at,
  DROP COLUMN next_attempt_at,
  DROP COLUMN digest_id,
  DROP COLUMN digest,
  DROP COLUMN deliver_after,
  DROP COLUMN due_at;
DROP TABLE digests;
