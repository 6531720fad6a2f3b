import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

export const API_ROLES = ['admin', 'viewer'] as const;
/** admin may change data; viewer may only read. */
export type ApiRole = (typeof API_ROLES)[number];

/** Who made a request, for authorisation and the audit trail. */
export interface Actor {
  tokenId: number;
  name: string;
  role: ApiRole;
}

export interface TokenInfo {
  id: number;
  name: string;
  role: ApiRole;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const TOKEN_PREFIX = 'dbn_';
/** 32 random bytes in base64url are 43 characters; the prefix makes a leaked token recognisable in logs and scanners. */
const TOKEN_RE = /^dbn_[A-Za-z0-9_-]{43}$/;
/** last_used_at is informational: writing it at most once a minute keeps reads from turning into writes. */
const LAST_USED_RESOLUTION = '1 minute';

export const isApiRole = (v: unknown): v is ApiRole => API_ROLES.includes(v as ApiRole);

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Creates a token and returns its secret. The secret is not stored and cannot be shown again. */
export async function createToken(
  db: Queryable,
  opts: { name: string; role: ApiRole },
): Promise<TokenInfo & { token: string }> {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<TokenRow>(
    `INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3)
     RETURNING id, name, role, created_at, last_used_at, revoked_at`,
    [opts.name, opts.role, hashToken(token).toString('hex')],
  );
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING returned no row');
  return { ...toInfo(row), token };
}

/**
 * The actor a presented token belongs to, or undefined when it is unknown, malformed or revoked.
 * The lookup goes by hash, so response time says nothing about how much of a guess was right; the
 * final comparison is constant-time all the same, so correctness never rests on the index alone.
 */
export async function verifyToken(db: Queryable, token: string): Promise<Actor | undefined> {
  if (!TOKEN_RE.test(token)) return undefined;
  const presented = hashToken(token);
  const { rows } = await db.query<{ id: string; name: string; role: ApiRole; token_hash: string }>(
    `WITH t AS (
       SELECT id, name, role, token_hash, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL
     ), touched AS (
       UPDATE api_tokens a SET last_used_at = now() FROM t
       WHERE a.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < now() - $2::interval)
     )
     SELECT id, name, role, token_hash FROM t`,
    [presented.toString('hex'), LAST_USED_RESOLUTION],
  );
  const row = rows[0];
  if (!row) return undefined;
  const stored = Buffer.from(row.token_hash, 'hex');
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
  return { tokenId: Number(row.id), name: row.name, role: row.role };
}

export type RevokeResult = 'revoked' | 'already-revoked' | 'not-found';

/** Revokes a token; it keeps its row so that audit entries can still name it. Idempotent. */
export async function revokeToken(db: Queryable, id: number): Promise<RevokeResult> {
  const { rows } = await db.query<{ was_revoked: boolean }>(
    `UPDATE api_tokens t SET revoked_at = COALESCE(t.revoked_at, now())
     FROM api_tokens old WHERE t.id = $1 AND old.id = t.id
     RETURNING old.revoked_at IS NOT NULL AS was_revoked`,
    [id],
  );
  const row = rows[0];
  if (!row) return 'not-found';
  return row.was_revoked ? 'already-revoked' : 'revoked';
}

/** Every token, newest first; secrets and hashes are never part of the answer. */
export async function listTokens(db: Queryable): Promise<TokenInfo[]> {
  const { rows } = await db.query<TokenRow>(
    'SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id DESC',
  );
  return rows.map(toInfo);
}

interface TokenRow {
  id: string;
  name: string;
  role: ApiRole;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function toInfo(r: TokenRow): TokenInfo {
  return {
    id: Number(r.id),
    name: r.name,
    role: r.role,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
