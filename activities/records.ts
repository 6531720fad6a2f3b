import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../db/pool';
import type { ReportRecord, StatusUpdate } from '../domain/model';

/**
 * The set-based writes behind the work points' activities: each takes a batch as one JSON parameter and writes it
 * with one statement per table (jsonb_to_recordset), instead of a round trip per row. Every write is idempotent —
 * keyed by the submission id, the notice's idempotency key, or guarded by the status version — so an activity retry
 * writes nothing twice. Instants travel as epoch milliseconds.
 */

const ts = (col: string) => `CASE WHEN ${col} IS NULL THEN NULL ELSE to_timestamp(${col} / 1000.0) END`;

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

/** Inserts outbox rows; a key already there is skipped. Returns how many rows were new. */
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

/** Stores reports and summaries; the submission id (unique) makes a retry land once. */
export async function writeReports(pool: Pool, reports: ReportRecord[]): Promise<{ stored: number }> {
  if (reports.length === 0) return { stored: 0 };
  const res = await pool.query(
    `INSERT INTO reports (submission_id, workflow_id, cycle_year, work_point, unit_id, period, kind, text, attachments,
                          self_assessment, late, submitted_at)
     SELECT x."submissionId", x."workflowId", x."cycleYear", x."workPoint", x."unitId", x."periodId", x.kind, x.text,
            COALESCE(x.attachments, '[]'), x."selfAssessment", x.late, ${ts('x."submittedAt"')}
       FROM jsonb_to_recordset($1::jsonb) AS x("submissionId" text, "workflowId" text, "cycleYear" integer,
            "workPoint" integer, "unitId" text, "periodId" text, kind text, text text, attachments jsonb,
            "selfAssessment" text, late boolean, "submittedAt" float8)
     ON CONFLICT (submission_id) DO NOTHING`,
    [JSON.stringify(reports)],
  );
  return { stored: res.rowCount ?? 0 };
}

/** Projection of a work point's status for the API, in one transaction; an older version never overwrites a newer one. */
export async function writeStatus(pool: Pool, update: StatusUpdate): Promise<void> {
  await inTransaction(pool, (client) => writeStatusIn(client, update));
}

async function writeStatusIn(client: PoolClient, update: StatusUpdate): Promise<void> {
  const { summary: status, version } = update;
  const wp = [status.workflowId, status.cycleYear, status.number] as const;
  await client.query(
    `INSERT INTO work_point_status (workflow_id, cycle_year, work_point, status, light, overdue_units, snapshot, version, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
     ON CONFLICT (workflow_id) DO UPDATE SET status = EXCLUDED.status, light = EXCLUDED.light,
       overdue_units = EXCLUDED.overdue_units, snapshot = EXCLUDED.snapshot, version = EXCLUDED.version, updated_at = now()
     WHERE work_point_status.version < EXCLUDED.version`,
    [...wp, status.phase, status.light, status.overdueUnits.map((u) => u.id), JSON.stringify(status), version],
  );
  if (update.obligations.length > 0) {
    await client.query(
      `INSERT INTO work_point_obligations (workflow_id, cycle_year, work_point, unit_id, unit_name, period, state, due_at,
                                           acknowledged_at, last_submitted_at, submissions, extension, version, facts)
       SELECT $1, $2, $3, x."unitId", x."unitName", x."periodId", x.state, ${ts('x."dueAt"')}, ${ts('x."acknowledgedAt"')},
              ${ts('x."lastSubmittedAt"')}, x.submissions, x.extension, $4, x.facts
         FROM jsonb_to_recordset($5::jsonb) AS x("unitId" text, "unitName" text, "periodId" text, state text,
              "dueAt" float8, "acknowledgedAt" float8, "lastSubmittedAt" float8, submissions integer, extension jsonb,
              facts jsonb)
       ON CONFLICT (workflow_id, unit_id, period) DO UPDATE SET unit_name = EXCLUDED.unit_name, state = EXCLUDED.state,
         due_at = EXCLUDED.due_at, acknowledged_at = EXCLUDED.acknowledged_at, last_submitted_at = EXCLUDED.last_submitted_at,
         submissions = EXCLUDED.submissions, extension = EXCLUDED.extension, version = EXCLUDED.version,
         facts = EXCLUDED.facts
       WHERE work_point_obligations.version < EXCLUDED.version`,
      [...wp, version, JSON.stringify(update.obligations)],
    );
  }
  if (update.removedObligations.length > 0) {
    await client.query(
      `DELETE FROM work_point_obligations o USING jsonb_to_recordset($2::jsonb) AS x("unitId" text, "periodId" text)
        WHERE o.workflow_id = $1 AND o.unit_id = x."unitId" AND o.period = x."periodId" AND o.version < $3`,
      [status.workflowId, JSON.stringify(update.removedObligations), version],
    );
  }
  if (update.timeline.length > 0) {
    await client.query(
      `INSERT INTO work_point_timeline (workflow_id, seq, at, kind, unit_id, period, detail)
       SELECT $1, $2 + x.ord - 1, ${ts("(x.e ->> 'at')::float8")}, x.e ->> 'kind', x.e ->> 'unitId', x.e ->> 'periodId',
              x.e ->> 'detail'
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, ord)
       ON CONFLICT DO NOTHING`,
      [status.workflowId, update.timelineFrom, JSON.stringify(update.timeline)],
    );
  }
}
