import type { Pool } from 'pg';
import { Client } from 'pg';
import { ts } from './sql';

/**
 * What the benchmark (bench/) and the chaos drill (chaos/) read from a stack's database to check their runs,
 * and the throwaway database each stack creates and drops. Nothing in the product uses these queries.
 */

/** A database name a stack made itself (letters, digits, underscores): safe to put into CREATE/DROP DATABASE. */
function checkedName(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`not a database name: ${name}`);
  return name;
}

async function asAdmin<T>(adminUrl: string, fn: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

export async function createScratchDatabase(adminUrl: string, name: string): Promise<void> {
  await asAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${checkedName(name)}`));
}

export async function dropScratchDatabase(adminUrl: string, name: string): Promise<void> {
  await asAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${checkedName(name)} WITH (FORCE)`));
}

/** Drops every connection to the database except the caller's; returns how many were cut (a chaos fault). */
export async function terminateConnections(adminUrl: string, name: string): Promise<number> {
  return asAdmin(adminUrl, async (admin) => {
    const { rows } = await admin.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    return rows.filter((r) => r.ok).length;
  });
}

export async function databaseBytes(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT pg_database_size(current_database())::text AS n');
  return Number(rows[0]?.n ?? 0);
}

/** Assignment notices a cycle has written to the outbox. */
export async function countAssignmentNotices(pool: Pool, year: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE kind = 'assignment' AND cycle_year = $1",
    [year],
  );
  return rows[0]?.n ?? 0;
}

/** Per unit id, how many notices one message to it makes: one per contact (a unit without contacts: one). */
export async function noticesPerUnit(pool: Pool): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; n: number }>(
    'SELECT id, greatest(1, jsonb_array_length(contacts))::int AS n FROM units',
  );
  return new Map(rows.map((r) => [r.id, r.n]));
}

export async function countReports(pool: Pool, year: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reports WHERE cycle_year = $1', [
    year,
  ]);
  return rows[0]?.n ?? 0;
}

/** Stored reports per work point, for the given work point numbers. */
export async function reportsPerWorkPoint(pool: Pool, year: number, numbers: number[]): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ work_point: number; n: number }>(
    'SELECT work_point, count(*)::int AS n FROM reports WHERE cycle_year = $1 AND work_point = ANY($2) GROUP BY work_point',
    [year, numbers],
  );
  return new Map(rows.map((r) => [r.work_point, r.n]));
}

export interface StoredReport {
  submission_id: string;
  work_point: number;
  unit_id: string;
  late: boolean;
  submitted_at: Date;
}

export async function reportsOfYear(pool: Pool, year: number): Promise<StoredReport[]> {
  const { rows } = await pool.query<StoredReport>(
    'SELECT submission_id, work_point, unit_id, late, submitted_at FROM reports WHERE cycle_year = $1',
    [year],
  );
  return rows;
}

/** What a drill waits for before it checks: distinct office escalations written, notices still pending. */
export async function outboxProgress(
  pool: Pool,
  year: number,
): Promise<{ officeEscalations: number; pending: number }> {
  const offices = await pool.query<{ n: number }>(
    "SELECT count(DISTINCT idempotency_key)::int AS n FROM outbox WHERE cycle_year = $1 AND kind = 'escalation-office'",
    [year],
  );
  const pending = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE cycle_year = $1 AND status = 'pending'",
    [year],
  );
  return { officeEscalations: offices.rows[0]?.n ?? 0, pending: pending.rows[0]?.n ?? 0 };
}

export interface OutboxRow {
  idempotency_key: string;
  workflow_id: string;
  unit_id: string;
  kind: string;
  period: string | null;
  scheduled_for: Date;
  channel: string;
  address: string;
  status: string;
  last_error: string | null;
}

export async function outboxOfYear(pool: Pool, year: number): Promise<OutboxRow[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT idempotency_key, workflow_id, unit_id, kind, period, scheduled_for, channel, address, status, last_error
     FROM outbox WHERE cycle_year = $1`,
    [year],
  );
  return rows;
}

// ─── the benchmark's bare-Temporal baseline ──────────────────────────────────────────────────────

/**
 * The baseline's own tables, shaped like `outbox` and `reports` (columns, defaults, constraints and indexes copied),
 * so that its local activities write rows as wide, and under the same indexes, as duban's.
 */
export async function createBaselineTables(pool: Pool): Promise<void> {
  await pool.query('CREATE TABLE IF NOT EXISTS bench_outbox (LIKE outbox INCLUDING ALL)');
  await pool.query('CREATE TABLE IF NOT EXISTS bench_reports (LIKE reports INCLUDING ALL)');
}

export interface BaselineNoticeRow {
  key: string;
  workflowId: string;
  cycleYear: number;
  workPoint: number;
  unitId: string;
  subject: string;
  body: string;
  link: string;
  scheduledFor: number;
  dueAt: number;
}

/** The baseline's assignment notices: the statement db/outbox-repo.ts insertOutbox runs, into bench_outbox. */
export async function insertBaselineNotices(pool: Pool, rows: BaselineNoticeRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const res = await pool.query(
    `INSERT INTO bench_outbox (idempotency_key, workflow_id, cycle_year, work_point, unit_id, kind, period, channel,
                               address, subject, body, link, scheduled_for, due_at, deliver_after, digest)
     SELECT x."key", x."workflowId", x."cycleYear", x."workPoint", x."unitId", 'assignment', 'P1', 'log', x."unitId",
            x.subject, x.body, x.link, ${ts('x."scheduledFor"')}, ${ts('x."dueAt"')}, ${ts('x."scheduledFor"')}, false
       FROM jsonb_to_recordset($1::jsonb) AS x("key" text, "workflowId" text, "cycleYear" integer, "workPoint" integer,
            "unitId" text, subject text, body text, link text, "scheduledFor" float8, "dueAt" float8)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [JSON.stringify(rows)],
  );
  return res.rowCount ?? 0;
}

export interface BaselineReportRow {
  submissionId: string;
  workflowId: string;
  cycleYear: number;
  workPoint: number;
  unitId: string;
  text: string;
  submittedAt: number;
}

/** The baseline's reports: the statement db/submissions-repo.ts writeReports runs, into bench_reports. */
export async function insertBaselineReports(pool: Pool, rows: BaselineReportRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const res = await pool.query(
    `INSERT INTO bench_reports (submission_id, workflow_id, cycle_year, work_point, unit_id, period, kind, text,
                                attachments, late, submitted_at)
     SELECT x."submissionId", x."workflowId", x."cycleYear", x."workPoint", x."unitId", 'P1', 'report', x.text, '[]',
            false, ${ts('x."submittedAt"')}
       FROM jsonb_to_recordset($1::jsonb) AS x("submissionId" text, "workflowId" text, "cycleYear" integer,
            "workPoint" integer, "unitId" text, text text, "submittedAt" float8)
     ON CONFLICT (submission_id) DO NOTHING`,
    [JSON.stringify(rows)],
  );
  return res.rowCount ?? 0;
}

export async function countBaselineNotices(pool: Pool, year: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM bench_outbox WHERE cycle_year = $1',
    [year],
  );
  return rows[0]?.n ?? 0;
}

export async function countBaselineReports(pool: Pool, year: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM bench_reports WHERE cycle_year = $1',
    [year],
  );
  return rows[0]?.n ?? 0;
}
