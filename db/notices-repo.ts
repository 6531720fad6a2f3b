import type { Pool } from 'pg';

/** The office's read view of the notices the workflows raised (the outbox): filter, page, count. */

export const NOTICE_STATUSES = ['pending', 'sending', 'sent', 'failed', 'skipped'] as const;
export type NoticeStatus = (typeof NOTICE_STATUSES)[number];

export interface NoticeFilters {
  unitId?: string;
  kind?: string;
  status?: NoticeStatus;
  channel?: string;
  cycleYear?: number;
  workPoint?: number;
}

export interface NoticeRecord {
  /** bigint, as text */
  id: string;
  idempotencyKey: string;
  workflowId: string;
  cycleYear: number;
  workPoint: number | null;
  unitId: string;
  unitName: string | null;
  kind: string;
  period: string | null;
  channel: string;
  address: string;
  subject: string;
  body: string;
  link: string | null;
  dueAt: Date | null;
  scheduledFor: Date;
  deliverAfter: Date;
  digest: boolean;
  /** bigint, as text */
  digestId: string | null;
  status: NoticeStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/**
 * One page of notices, newest first: those matching every filter with an id below `before` (when given), at most
 * `limit`; `total` counts every notice matching the filters, over all pages.
 */
export async function listNotices(
  db: Pool,
  filters: NoticeFilters,
  page: { before?: string; limit: number },
): Promise<{ rows: NoticeRecord[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filters.unitId !== undefined) add((p) => `o.unit_id = ${p}`, filters.unitId);
  if (filters.kind !== undefined) add((p) => `o.kind = ${p}`, filters.kind);
  if (filters.status !== undefined) add((p) => `o.status = ${p}`, filters.status);
  if (filters.channel !== undefined) add((p) => `o.channel = ${p}`, filters.channel);
  if (filters.cycleYear !== undefined) add((p) => `o.cycle_year = ${p}`, filters.cycleYear);
  if (filters.workPoint !== undefined) add((p) => `o.work_point = ${p}`, filters.workPoint);
  const filtered = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';

  const countParams = [...params];
  if (page.before !== undefined) add((p) => `o.id < ${p}::bigint`, page.before);
  const paged = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  params.push(page.limit);

  const [{ rows }, count] = await Promise.all([
    db.query<{
      id: string;
      idempotency_key: string;
      workflow_id: string;
      cycle_year: number;
      work_point: number | null;
      unit_id: string;
      unit_name: string | null;
      kind: string;
      period: string | null;
      channel: string;
      address: string;
      subject: string;
      body: string;
      link: string | null;
      due_at: Date | null;
      scheduled_for: Date;
      deliver_after: Date;
      digest: boolean;
      digest_id: string | null;
      status: NoticeStatus;
      attempts: number;
      last_error: string | null;
      next_attempt_at: Date | null;
      created_at: Date;
      delivered_at: Date | null;
    }>(
      `SELECT o.id::text, o.idempotency_key, o.workflow_id, o.cycle_year, o.work_point, o.unit_id, u.name AS unit_name,
              o.kind, o.period, o.channel, o.address, o.subject, o.body, o.link, o.due_at, o.scheduled_for,
              o.deliver_after, o.digest, o.digest_id::text, o.status, o.attempts, o.last_error, o.next_attempt_at,
              o.created_at, o.delivered_at
       FROM outbox o LEFT JOIN units u ON u.id = o.unit_id
       ${paged}
       ORDER BY o.id DESC
       LIMIT $${params.length}`,
      params,
    ),
    db.query<{ total: number }>(`SELECT count(*)::int AS total FROM outbox o ${filtered}`, countParams),
  ]);
  return {
    rows: rows.map((r) => ({
      id: r.id,
      idempotencyKey: r.idempotency_key,
      workflowId: r.workflow_id,
      cycleYear: r.cycle_year,
      workPoint: r.work_point,
      unitId: r.unit_id,
      unitName: r.unit_name,
      kind: r.kind,
      period: r.period,
      channel: r.channel,
      address: r.address,
      subject: r.subject,
      body: r.body,
      link: r.link,
      dueAt: r.due_at,
      scheduledFor: r.scheduled_for,
      deliverAfter: r.deliver_after,
      digest: r.digest,
      digestId: r.digest_id,
      status: r.status,
      attempts: r.attempts,
      lastError: r.last_error,
      nextAttemptAt: r.next_attempt_at,
      createdAt: r.created_at,
      deliveredAt: r.delivered_at,
    })),
    total: count.rows[0]?.total ?? 0,
  };
}
