import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

/**
 * The audit trail of office actions (audit_log) and the idempotency keys of those actions (action_keys).
 *
 * An action's audit row is written *before* its Update is sent, with outcome 'pending', and settled afterwards to
 * 'accepted' (the workflow applied it), 'refused' (the workflow's validator refused it; its code and reason are in
 * the details; nothing happened), 'failed' (it never reached the workflow; nothing happened) or 'unknown' (no answer
 * in time; it may or may not have landed). Rows of the signal era know 'accepted' as "Temporal has the signal". So no
 * row ever claims an action that did not happen, and an action that did happen always has a row, even if the process
 * dies between the Update and the settling (the row then stays 'pending', never "done").
 */

export const AUDIT_OUTCOMES = ['pending', 'accepted', 'refused', 'failed', 'unknown'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  /** Set by the action routes; null for rows other writers add without one. */
  outcome: AuditOutcome | null;
  details: Record<string, unknown>;
}

export interface NewAuditEntry {
  actor: string;
  action: string;
  target: string;
  reason?: string | null;
  details: Record<string, unknown>;
}

interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  details: Record<string, unknown> | null;
}

function toEntry(r: AuditRow): AuditEntry {
  const details = r.details ?? {};
  const outcome = details.outcome;
  return {
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    reason: r.reason,
    outcome: AUDIT_OUTCOMES.includes(outcome as AuditOutcome) ? (outcome as AuditOutcome) : null,
    details,
  };
}

/** Writes a row with outcome 'pending'; settle it with settleAudit once the outcome is known. */
export async function insertPendingAudit(db: Queryable, entry: NewAuditEntry): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO audit_log (actor, action, target, reason, details) VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
    [
      entry.actor,
      entry.action,
      entry.target,
      entry.reason ?? null,
      JSON.stringify({ ...entry.details, outcome: 'pending' }),
    ],
  );
  return Number(rows[0]?.id);
}

/** Records the outcome of a pending row, merging `extra` (e.g. the error) into its details. */
export async function settleAudit(
  db: Queryable,
  id: number,
  outcome: Exclude<AuditOutcome, 'pending'>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await db.query(`UPDATE audit_log SET details = details || $2::jsonb WHERE id = $1`, [
    id,
    JSON.stringify({ ...extra, outcome }),
  ]);
}

export async function getAudit(db: Queryable, id: number): Promise<AuditEntry | undefined> {
  const { rows } = await db.query<AuditRow>(
    'SELECT id::text, at, actor, action, target, reason, details FROM audit_log WHERE id = $1',
    [id],
  );
  return rows[0] && toEntry(rows[0]);
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  target?: string;
  outcome?: AuditOutcome;
}

/** One page, newest first; `before` is the last id of the previous page. `total` counts every page. */
export async function listAudit(
  db: Queryable,
  filters: AuditFilters,
  page: { limit: number; before?: number },
): Promise<{ items: AuditEntry[]; total: number; more: boolean }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filters.actor !== undefined) add((p) => `actor = ${p}`, filters.actor);
  if (filters.action !== undefined) add((p) => `action = ${p}`, filters.action);
  if (filters.target !== undefined) add((p) => `target = ${p}`, filters.target);
  if (filters.outcome !== undefined) add((p) => `details->>'outcome' = ${p}`, filters.outcome);
  const countWhere = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const countParams = [...params];
  if (page.before !== undefined) add((p) => `id < ${p}::bigint`, page.before);
  const pageWhere = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  params.push(page.limit + 1);
  const [{ rows }, count] = await Promise.all([
    db.query<AuditRow>(
      `SELECT id::text, at, actor, action, target, reason, details FROM audit_log ${pageWhere}
       ORDER BY audit_log.id DESC LIMIT $${params.length}`,
      params,
    ),
    db.query<{ total: number }>(`SELECT count(*)::int AS total FROM audit_log ${countWhere}`, countParams),
  ]);
  return {
    items: rows.slice(0, page.limit).map(toEntry),
    total: count.rows[0]?.total ?? 0,
    more: rows.length > page.limit,
  };
}

// ─── Idempotency keys ────────────────────────────────────────────────────────────────────────────

/** A claim older than this with no answer belongs to a request that died; a retry may take it over. */
const STALE_CLAIM = '1 minute';

export type KeyClaim =
  | { kind: 'claimed' }
  | { kind: 'answered'; statusCode: number; response: unknown }
  | { kind: 'in-flight' }
  | { kind: 'mismatch' };

/**
 * Claims an idempotency key for one request. 'answered': the same request was answered before (replay
 * that answer); 'in-flight': the same request is being processed right now; 'mismatch': the key was used for
 * a different request (or by another token).
 */
export async function claimActionKey(
  db: Queryable,
  claim: { key: string; fingerprint: string; actor: string },
): Promise<KeyClaim> {
  const inserted = await db.query(
    `INSERT INTO action_keys (key, fingerprint, actor) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO UPDATE SET claimed_at = now()
       WHERE action_keys.status_code IS NULL AND action_keys.fingerprint = EXCLUDED.fingerprint
         AND action_keys.claimed_at < now() - interval '${STALE_CLAIM}'
     RETURNING key`,
    [claim.key, claim.fingerprint, claim.actor],
  );
  if ((inserted.rowCount ?? 0) > 0) return { kind: 'claimed' };
  const { rows } = await db.query<{ fingerprint: string; status_code: number | null; response: unknown }>(
    'SELECT fingerprint, status_code, response FROM action_keys WHERE key = $1',
    [claim.key],
  );
  const row = rows[0];
  // Deleted between the two statements by a failed first attempt: that attempt did nothing, so neither do we.
  if (!row) return { kind: 'in-flight' };
  if (row.fingerprint !== claim.fingerprint) return { kind: 'mismatch' };
  if (row.status_code === null) return { kind: 'in-flight' };
  return { kind: 'answered', statusCode: row.status_code, response: row.response };
}

/** Stores the answer of a claimed key; later requests with the key get it back. */
export async function answerActionKey(
  db: Queryable,
  key: string,
  statusCode: number,
  response: unknown,
): Promise<void> {
  await db.query(
    'UPDATE action_keys SET status_code = $2, response = $3, completed_at = now() WHERE key = $1 AND status_code IS NULL',
    [key, statusCode, JSON.stringify(response)],
  );
}

/** Frees a claimed key whose request failed without effect, so a retry with the same key runs again. */
export async function releaseActionKey(db: Queryable, key: string): Promise<void> {
  await db.query('DELETE FROM action_keys WHERE key = $1 AND status_code IS NULL', [key]);
}
