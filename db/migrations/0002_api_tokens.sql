-- Up Migration

-- Bearer tokens for the office API. Only the SHA-256 of a token is kept: a leaked table (or backup)
-- does not let anyone call the API. Tokens are revoked, never deleted, so the audit trail can name them.
CREATE TABLE api_tokens (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role          text NOT NULL CHECK (role IN ('admin', 'viewer')),
  token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

-- Down Migration
DROP TABLE api_tokens;
