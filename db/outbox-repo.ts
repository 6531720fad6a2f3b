import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { inTransaction } from './pool';
import { ts } from './sql';

/**
 * The notice queue (docs/notifications.md): `outbox` holds one row per notice and recipient contact, `digests` one
 * row per message that carried several of them. Rows are inserted by the work points (idempotency key), then claimed,
 * sent and settled by the dispatcher's delivery pass (activities/dispatcher.ts): the mechanics of that pass — which
 * rows are due, the claim token, the outcome of an attempt — are these statements.
 */

export interface OutboxRow {
  key: string;
  workflowId: string;
  cycleYear: number;
  workPoint: number;
  unitId: string;
  kind: string;
  period: string | null;
  channel: string;
  address: string;
  subject: string;
  body: string;
  link: string | null;
  scheduledFor: number;
  dueAt: number | null;
  deliverAfter: number;
  digest: boolean;
}

/** Inserts outbox rows in one statement; a key already there is skipped. Returns how many rows were new. */
export async function insertOutbox(pool: Pool, rows: OutboxRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const res = await pool.query(
    `INSERT INTO outbox (idempotency_key, workflow_id, cycle_year, work_point, unit_id, kind, period, channel, address,
                         subject, body, link, scheduled_for, due_at, deliver_after, digest)
     SELECT x."key", x."workflowId", x."cycleYear", x."workPoint", x."unitId", x.kind, x.period, x.channel, x.address,
            x.subject, x.body, x.link, ${ts('x."scheduledFor"')}, ${ts('x."dueAt"')}, ${ts('x."deliverAfter"')}, x.digest
       FROM jsonb_to_recordset($1::jsonb) AS x("key" text, "workflowId" text, "cycleYear" integer, "workPoint" integer,
            "unitId" text, kind text, period text, channel text, address text, subject text, body text, link text,
            "scheduledFor" float8, "dueAt" float8, "deliverAfter" float8, digest boolean)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [JSON.stringify(rows)],
  );
  return res.rowCount ?? 0;
}

// ─── the delivery pass ───────────────────────────────────────────────────────────────────────────

/** One recipient: the rows of a unit to one channel and address go out together. */
export interface OutboxContact {
  unit_id: string;
  unit_name: string | null;
  channel: string;
  address: string;
}

export interface ClaimedRow {
  id: string;
  key: string;
  kind: string;
  cycle_year: number;
  work_point: number | null;
  period: string | null;
  subject: string;
  body: string;
  link: string | null;
  due_at: Date | null;
  scheduled_for: Date;
  digest: boolean;
  attempts: number;
}

/** Rows claimed together to go out as one message; a digest has its own row in `digests`. */
export interface Claim {
  rows: ClaimedRow[];
  token: string;
  digestId?: string;
}

/** Rows that may be attempted at $1: pending, past deliver_after, past their back-off. */
const due = (t: string, quiet: boolean) =>
  `${t}.status = 'pending' AND ${t}.deliver_after <= $1 AND (${t}.next_attempt_at IS NULL OR ${t}.next_attempt_at <= $1)` +
  // In quiet hours only a drill's notices go out: a rehearsal is watched while it runs.
  (quiet ? ` AND ${t}.cycle_year IN (SELECT year FROM cycles WHERE options ->> 'drill' = 'true')` : '');

/**
 * Claims settled by nobody: their worker died between claim and outcome. Real time (the lease), not workflow time.
 * They are marked failed with `lastError`, never sent again. Returns the ids of the rows settled.
 */
export async function settleStaleClaims(pool: Pool, lastError: string, leaseMs: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string; digest_id: string | null }>(
    `UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1, claim_token = NULL
     WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => $2)
     RETURNING id::text, digest_id::text`,
    [lastError, leaseMs / 1000],
  );
  const digestIds = [...new Set(rows.flatMap((r) => (r.digest_id ? [r.digest_id] : [])))];
  if (digestIds.length > 0) {
    await pool.query(
      `UPDATE digests SET status = 'failed', last_error = $1 WHERE id = ANY($2::bigint[]) AND status = 'sending'`,
      [lastError, digestIds],
    );
  }
  return rows.map((r) => r.id);
}

/** Contacts with rows due at `now`, the longest waiting first; at most `limit`. */
export async function dueContacts(pool: Pool, now: number, quiet: boolean, limit: number): Promise<OutboxContact[]> {
  const { rows } = await pool.query<OutboxContact>(
    `SELECT o.unit_id, u.name AS unit_name, o.channel, o.address
     FROM outbox o LEFT JOIN units u ON u.id = o.unit_id
     WHERE ${due('o', quiet)}
     GROUP BY o.unit_id, u.name, o.channel, o.address
     ORDER BY min(o.deliver_after), min(o.id)
     LIMIT $2`,
    [new Date(now), limit],
  );
  return rows;
}

/**
 * Claims every due row of one contact in one transaction. SKIP LOCKED lets a concurrent pass skip rows this one holds
 * instead of waiting and then sending them again; the status change to 'sending' keeps them out of every later pass
 * once the transaction commits. `group` decides which rows travel as one message (the caller's digest policy) and
 * names a digest's subject; each group gets its claim token, and a digest its `digests` row.
 */
export async function claimContact<G extends { rows: ClaimedRow[]; digestSubject?: string }>(
  pool: Pool,
  contact: OutboxContact,
  now: number,
  quiet: boolean,
  group: (rows: ClaimedRow[]) => G[],
): Promise<(G & Claim)[]> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ClaimedRow>(
      `SELECT id::text, idempotency_key AS key, kind, cycle_year, work_point, period, subject, body, link, due_at,
              scheduled_for, digest, attempts
       FROM outbox o
       WHERE ${due('o', quiet)} AND unit_id = $2 AND channel = $3 AND address = $4
       ORDER BY id
       FOR UPDATE SKIP LOCKED`,
      [new Date(now), contact.unit_id, contact.channel, contact.address],
    );
    const claimed: (G & Claim)[] = [];
    for (const g of group(rows)) {
      let digestId: string | undefined;
      if (g.digestSubject !== undefined) {
        const res = await client.query<{ id: string }>(
          `INSERT INTO digests (unit_id, channel, address, subject, notices) VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
          [contact.unit_id, contact.channel, contact.address, g.digestSubject, g.rows.length],
        );
        digestId = res.rows[0]?.id;
      }
      const token = randomUUID();
      await client.query(
        `UPDATE outbox SET status = 'sending', claimed_at = now(), claim_token = $1, digest_id = $2 WHERE id = ANY($3::bigint[])`,
        [token, digestId ?? null, g.rows.map((r) => r.id)],
      );
      claimed.push({ ...g, token, ...(digestId !== undefined ? { digestId } : {}) });
    }
    return claimed;
  });
}

/** The message went out: its rows (and digest) are sent at `now`. */
export async function markSent(pool: Pool, claim: Claim, now: number): Promise<void> {
  await pool.query(
    `UPDATE outbox SET status = 'sent', attempts = attempts + 1, delivered_at = $1, claim_token = NULL
     WHERE claim_token = $2 AND status = 'sending'`,
    [new Date(now), claim.token],
  );
  if (claim.digestId) {
    await pool.query(`UPDATE digests SET status = 'sent', delivered_at = $1 WHERE id = $2`, [
      new Date(now),
      claim.digestId,
    ]);
  }
}

export interface FailedAttempt {
  lastError: string;
  /** Failed for good whatever the attempt count (a refusal that retrying cannot change). */
  permanent: boolean;
  maxAttempts: number;
  /** When a row that goes back to the queue may be tried again. */
  retryAt: (row: ClaimedRow) => Date;
}

/** Records a failed attempt on the message's rows. Returns true when they failed for good, false when queued again. */
export async function markFailed(pool: Pool, claim: Claim, f: FailedAttempt): Promise<boolean> {
  const { rows } = await pool.query<{ status: string }>(
    `UPDATE outbox o SET attempts = o.attempts + 1, last_error = $1, claim_token = NULL, digest_id = NULL,
       status = CASE WHEN $2 OR o.attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
       next_attempt_at = v.next_at
     FROM unnest($4::bigint[], $5::timestamptz[]) AS v(id, next_at)
     WHERE o.id = v.id AND o.claim_token = $6 AND o.status = 'sending'
     RETURNING o.status`,
    [
      f.lastError,
      f.permanent,
      f.maxAttempts,
      claim.rows.map((r) => r.id),
      claim.rows.map((r) => f.retryAt(r)),
      claim.token,
    ],
  );
  if (claim.digestId) {
    await pool.query(`UPDATE digests SET status = 'failed', last_error = $1 WHERE id = $2`, [
      f.lastError,
      claim.digestId,
    ]);
  }
  return rows.some((r) => r.status === 'failed');
}

/** Claimed but never attempted: back to the queue untouched, their digests removed. */
export async function releaseClaims(pool: Pool, claims: Claim[]): Promise<void> {
  if (claims.length === 0) return;
  const tokens = claims.map((m) => m.token);
  await pool.query(
    `UPDATE outbox SET status = 'pending', claim_token = NULL, claimed_at = NULL, digest_id = NULL
     WHERE claim_token = ANY($1::text[]) AND status = 'sending'`,
    [tokens],
  );
  const digestIds = claims.flatMap((m) => (m.digestId ? [m.digestId] : []));
  if (digestIds.length > 0) await pool.query('DELETE FROM digests WHERE id = ANY($1::bigint[])', [digestIds]);
}
