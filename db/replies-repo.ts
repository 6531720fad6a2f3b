import type { Pool } from 'pg';
import type { AttachmentRef } from '../domain/model';

/** Reads and writes behind the reply page: what a unit owes, what it already sent, its evidence files and receipts. */

/** The unit ids assigned to one work point of a cycle, as the cycle resolved them when it started. */
export async function getAssignment(
  pool: Pool,
  year: number,
  workPoint: number,
): Promise<{ leadUnits: string[]; responsibleUnits: string[] } | undefined> {
  const { rows } = await pool.query<{ lead_units: string[]; responsible_units: string[] }>(
    'SELECT lead_units, responsible_units FROM cycle_assignees WHERE cycle_year = $1 AND work_point = $2',
    [year, workPoint],
  );
  const r = rows[0];
  return r && { leadUnits: r.lead_units, responsibleUnits: r.responsible_units };
}

export async function getWorkPoint(
  pool: Pool,
  planId: number,
  number: number,
): Promise<{ number: number; section: string | null; title: string; text: string } | undefined> {
  const { rows } = await pool.query<{ number: number; section: string | null; title: string; text: string }>(
    'SELECT number, section, title, text FROM work_points WHERE plan_id = $1 AND number = $2',
    [planId, number],
  );
  return rows[0];
}

export async function getUnit(
  pool: Pool,
  id: string,
): Promise<{ id: string; name: string; active: boolean } | undefined> {
  const { rows } = await pool.query<{ id: string; name: string; active: boolean }>(
    'SELECT id, name, active FROM units WHERE id = $1',
    [id],
  );
  return rows[0];
}

export interface ObligationRow {
  state: string;
  dueAt: Date;
  acknowledgedAt: Date | null;
}

/**
 * What a reply link stands for that can change while a cycle runs, read fresh in one statement: the cycle row (gone
 * once a drill is cancelled, its options rewritten by a restart, finished_at set by the worker), the unit (renamed or
 * deactivated by PUT /api/units), the unit's obligation in the status projection (extend, add / remove / reassign,
 * waive…) and the work point's assignment as the cycle recorded it. undefined: no cycle for the year.
 */
export interface ReplyState {
  /** `options` is the stored jsonb as PostgreSQL prints it (one spelling per value): the key of derived lookups. */
  cycle: { planId: number; optionsText: string; finishedAt: Date | null };
  unit: { id: string; name: string; active: boolean } | undefined;
  /** The unit's obligation for `period` (none asked for: undefined). */
  obligation: ObligationRow | undefined;
  assignment: { leadUnits: string[]; responsibleUnits: string[] } | undefined;
}

export async function getReplyState(
  pool: Pool,
  q: { year: number; workPoint: number; workflowId: string; unitId: string; period: string | null },
): Promise<ReplyState | undefined> {
  const { rows } = await pool.query<{
    plan_id: string;
    options: string;
    finished_at: Date | null;
    unit_id: string | null;
    unit_name: string | null;
    unit_active: boolean | null;
    state: string | null;
    due_at: Date | null;
    acknowledged_at: Date | null;
    lead_units: string[] | null;
    responsible_units: string[] | null;
  }>(
    `SELECT c.plan_id, c.options::text AS options, c.finished_at,
            u.id AS unit_id, u.name AS unit_name, u.active AS unit_active,
            o.state, o.due_at, o.acknowledged_at,
            a.lead_units, a.responsible_units
       FROM cycles c
       LEFT JOIN units u ON u.id = $3
       LEFT JOIN work_point_obligations o ON o.workflow_id = $4 AND o.unit_id = $3 AND o.period = $5
       LEFT JOIN cycle_assignees a ON a.cycle_year = c.year AND a.work_point = $2
      WHERE c.year = $1`,
    [q.year, q.workPoint, q.unitId, q.workflowId, q.period],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    cycle: { planId: Number(r.plan_id), optionsText: r.options, finishedAt: r.finished_at },
    unit:
      r.unit_id !== null && r.unit_name !== null
        ? { id: r.unit_id, name: r.unit_name, active: r.unit_active === true }
        : undefined,
    obligation:
      r.state !== null && r.due_at !== null
        ? { state: r.state, dueAt: r.due_at, acknowledgedAt: r.acknowledged_at }
        : undefined,
    assignment:
      r.lead_units !== null && r.responsible_units !== null
        ? { leadUnits: r.lead_units, responsibleUnits: r.responsible_units }
        : undefined,
  };
}

export interface SentReport {
  submissionId: string;
  text: string;
  late: boolean;
  submittedAt: Date;
  selfAssessment: string | null;
  attachments: AttachmentRef[];
  receiptNo: string | null;
}

/** Stored reports, plus receipts whose report the worker has not stored yet (accepted while it was away). */
export async function listSent(
  pool: Pool,
  q: { year: number; workPoint: number; unitId: string; period: string },
): Promise<{ stored: SentReport[]; pending: { receiptNo: string; acceptedAt: Date }[] }> {
  const stored = await pool.query<{
    submission_id: string;
    text: string;
    late: boolean;
    submitted_at: Date;
    self_assessment: string | null;
    attachments: AttachmentRef[];
    receipt_no: string | null;
  }>(
    `SELECT r.submission_id, r.text, r.late, r.submitted_at, r.self_assessment, r.attachments, c.receipt_no
     FROM reports r LEFT JOIN receipts c ON c.submission_id = r.submission_id
     WHERE r.cycle_year = $1 AND r.work_point = $2 AND r.unit_id = $3 AND r.period = $4 ORDER BY r.submitted_at`,
    [q.year, q.workPoint, q.unitId, q.period],
  );
  const pending = await pool.query<{ receipt_no: string; accepted_at: Date }>(
    `SELECT c.receipt_no, c.accepted_at FROM receipts c
     WHERE c.cycle_year = $1 AND c.work_point = $2 AND c.unit_id = $3 AND c.period = $4
       AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.submission_id = c.submission_id) ORDER BY c.accepted_at`,
    [q.year, q.workPoint, q.unitId, q.period],
  );
  return {
    stored: stored.rows.map((r) => ({
      submissionId: r.submission_id,
      text: r.text,
      late: r.late,
      submittedAt: r.submitted_at,
      selfAssessment: r.self_assessment,
      attachments: r.attachments,
      receiptNo: r.receipt_no,
    })),
    pending: pending.rows.map((r) => ({ receiptNo: r.receipt_no, acceptedAt: r.accepted_at })),
  };
}

export interface NewAttachment {
  id: string;
  name: string;
  contentType: string;
  sha256: string;
  data: Buffer;
}

export async function saveAttachments(pool: Pool, submissionId: string, files: NewAttachment[]): Promise<void> {
  for (const f of files) {
    await pool.query(
      `INSERT INTO attachments (id, submission_id, name, content_type, size, sha256, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO NOTHING`,
      [f.id, submissionId, f.name, f.contentType, f.data.length, f.sha256, f.data],
    );
  }
}

/** Compensation when Temporal did not accept the report: the unit is asked to retry, nothing stays half-stored. */
export async function deleteAttachments(pool: Pool, submissionId: string): Promise<void> {
  await pool.query('DELETE FROM attachments WHERE submission_id = $1', [submissionId]);
}

/**
 * After a receipt: keep only the files the stored report refers to. A form sent again after an unconfirmed attempt
 * uploads its files again; whichever attempt the workflow took, the other attempt's files go.
 */
export async function pruneAttachments(pool: Pool, submissionId: string): Promise<void> {
  await pool.query(
    `DELETE FROM attachments a
      WHERE a.submission_id = $1
        AND NOT EXISTS (SELECT 1 FROM reports r, jsonb_array_elements(r.attachments) f
                         WHERE r.submission_id = $1 AND f ->> 'id' = a.id)`,
    [submissionId],
  );
}

export async function getAttachment(
  pool: Pool,
  id: string,
): Promise<{ name: string; contentType: string; data: Buffer; submissionId: string } | undefined> {
  const { rows } = await pool.query<{ name: string; content_type: string; data: Buffer; submission_id: string }>(
    'SELECT name, content_type, data, submission_id FROM attachments WHERE id = $1',
    [id],
  );
  const r = rows[0];
  return r && { name: r.name, contentType: r.content_type, data: r.data, submissionId: r.submission_id };
}

/** The receipt of a submission, only within the scope it was given in (cycle, work point, unit, period). */
export async function getReceipt(
  pool: Pool,
  submissionId: string,
  scope: { year: number; workPoint: number; unitId: string; period: string },
): Promise<{ receiptNo: string; acceptedAt: Date } | undefined> {
  const { rows } = await pool.query<{ receipt_no: string; accepted_at: Date }>(
    `SELECT receipt_no, accepted_at FROM receipts
      WHERE submission_id = $1 AND cycle_year = $2 AND work_point = $3 AND unit_id = $4 AND period = $5`,
    [submissionId, scope.year, scope.workPoint, scope.unitId, scope.period],
  );
  const r = rows[0];
  return r && { receiptNo: r.receipt_no, acceptedAt: r.accepted_at };
}

export async function saveReceipt(
  pool: Pool,
  r: {
    submissionId: string;
    receiptNo: string;
    year: number;
    workPoint: number;
    unitId: string;
    period: string;
    kind: string;
  },
): Promise<{ receiptNo: string; acceptedAt: Date }> {
  await pool.query(
    `INSERT INTO receipts (submission_id, receipt_no, cycle_year, work_point, unit_id, period, kind)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (submission_id) DO NOTHING`,
    [r.submissionId, r.receiptNo, r.year, r.workPoint, r.unitId, r.period, r.kind],
  );
  const stored = await getReceipt(pool, r.submissionId, r);
  if (!stored) throw new Error(`receipt ${r.submissionId} is held by another unit or work point`);
  return stored;
}
