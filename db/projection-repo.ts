import type { Pool, PoolClient } from 'pg';
import type { StatusUpdate } from '../domain/model';
import { inTransaction } from './pool';
import { ts } from './sql';
import type { Light } from '../domain/light';
import type { ExtensionRequest, Obligation, ObligationState, WorkPointStatus } from '../domain/model';

/**
 * The work points' status projection, as their workflows write it: work_point_status (one row per work point),
 * work_point_obligations (one per unit and period) and work_point_timeline (append-only). Temporal owns the state;
 * these rows are its copy for the API to read. Every write is guarded by the update's version, so an older update
 * (a retry, a late activity) never overwrites a newer one.
 */

/** Writes one status update in one transaction, one statement per table. */
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

/**
 * The office's reads of the same projection, for the cycle API and the dashboard.
 */

/** work_point_status.snapshot: the workflow's status without timeline and obligations (older rows may lack fields). */
export type ProjectedSummary = Partial<Omit<WorkPointStatus, 'timeline' | 'obligations'>>;

export interface CycleOverview {
  year: number;
  planId: number;
  workflowId: string;
  runId: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  options: unknown;
  /** Work points of the cycle's plan. */
  planWorkPoints: number;
  /** Work points that have written their status projection. */
  projected: number;
  lights: Record<Light, number>;
}

/** Every cycle, newest year first, with its lights counted over the projection. */
export async function listCycleOverviews(db: Pool): Promise<CycleOverview[]> {
  const { rows } = await db.query<{
    year: number;
    plan_id: string;
    workflow_id: string;
    run_id: string | null;
    started_at: Date;
    finished_at: Date | null;
    options: unknown;
    work_points: string;
    projected: number;
    green: number;
    yellow: number;
    red: number;
  }>(
    `SELECT c.year, c.plan_id, c.workflow_id, c.run_id, c.started_at, c.finished_at, c.options,
            (SELECT count(*) FROM work_points w WHERE w.plan_id = c.plan_id) AS work_points,
            count(s.*)::int AS projected,
            count(s.*) FILTER (WHERE s.light = 'green')::int AS green,
            count(s.*) FILTER (WHERE s.light = 'yellow')::int AS yellow,
            count(s.*) FILTER (WHERE s.light = 'red')::int AS red
     FROM cycles c LEFT JOIN work_point_status s ON s.cycle_year = c.year
     GROUP BY c.year ORDER BY c.year DESC`,
  );
  return rows.map((r) => ({
    year: r.year,
    planId: Number(r.plan_id),
    workflowId: r.workflow_id,
    runId: r.run_id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    options: r.options,
    planWorkPoints: Number(r.work_points),
    projected: r.projected,
    lights: { green: r.green, yellow: r.yellow, red: r.red },
  }));
}

export interface StatusRow {
  workPoint: number;
  workflowId: string;
  status: string;
  light: Light;
  overdueUnitIds: string[];
  snapshot: ProjectedSummary;
  updatedAt: Date;
}

/** The projected status of each work point of a cycle, by number. */
export async function listStatuses(db: Pool, year: number): Promise<StatusRow[]> {
  const { rows } = await db.query<{
    work_point: number;
    workflow_id: string;
    status: string;
    light: Light;
    overdue_units: string[];
    snapshot: ProjectedSummary;
    updated_at: Date;
  }>(
    `SELECT work_point, workflow_id, status, light, overdue_units, snapshot, updated_at
     FROM work_point_status WHERE cycle_year = $1 ORDER BY work_point`,
    [year],
  );
  return rows.map((r) => ({
    workPoint: r.work_point,
    workflowId: r.workflow_id,
    status: r.status,
    light: r.light,
    overdueUnitIds: r.overdue_units,
    snapshot: r.snapshot,
    updatedAt: r.updated_at,
  }));
}

/** How many obligations of each work point (by workflow ID) are in each state. */
export async function countObligationStates(
  db: Pool,
  year: number,
): Promise<{ workflowId: string; state: ObligationState; n: number }[]> {
  const { rows } = await db.query<{ workflow_id: string; state: ObligationState; n: number }>(
    `SELECT workflow_id, state, count(*)::int AS n FROM work_point_obligations
     WHERE cycle_year = $1 GROUP BY workflow_id, state`,
    [year],
  );
  return rows.map((r) => ({ workflowId: r.workflow_id, state: r.state, n: r.n }));
}

export interface CycleObligationRow {
  workPoint: number;
  workflowId: string;
  unitId: string;
  unitName: string;
  period: string;
  state: ObligationState;
  facts: Obligation | null;
}

/** Every obligation of a cycle with its facts (the dashboard recomputes lights from them as of any date). */
export async function listCycleObligations(db: Pool, year: number): Promise<CycleObligationRow[]> {
  const { rows } = await db.query<{
    work_point: number;
    workflow_id: string;
    unit_id: string;
    unit_name: string;
    period: string;
    state: ObligationState;
    facts: Obligation | null;
  }>(
    'SELECT work_point, workflow_id, unit_id, unit_name, period, state, facts FROM work_point_obligations WHERE cycle_year = $1',
    [year],
  );
  return rows.map((r) => ({
    workPoint: r.work_point,
    workflowId: r.workflow_id,
    unitId: r.unit_id,
    unitName: r.unit_name,
    period: r.period,
    state: r.state,
    facts: r.facts,
  }));
}

/** The projected status of one work point, or undefined before its workflow first wrote it. */
export async function getStatus(
  db: Pool,
  workflowId: string,
): Promise<{ status: string; light: Light; snapshot: ProjectedSummary; updatedAt: Date } | undefined> {
  const { rows } = await db.query<{ status: string; light: Light; snapshot: ProjectedSummary; updated_at: Date }>(
    'SELECT status, light, snapshot, updated_at FROM work_point_status WHERE workflow_id = $1',
    [workflowId],
  );
  const r = rows[0];
  return r && { status: r.status, light: r.light, snapshot: r.snapshot, updatedAt: r.updated_at };
}

export interface ObligationView {
  unitId: string;
  unitName: string;
  period: string;
  state: ObligationState;
  dueAt: Date;
  acknowledgedAt: Date | null;
  lastSubmittedAt: Date | null;
  submissions: number;
  extension: ExtensionRequest | null;
  facts: Obligation | null;
}

/** One work point's obligations, by unit name and period. */
export async function listObligations(db: Pool, workflowId: string): Promise<ObligationView[]> {
  const { rows } = await db.query<{
    unit_id: string;
    unit_name: string;
    period: string;
    state: ObligationState;
    due_at: Date;
    acknowledged_at: Date | null;
    last_submitted_at: Date | null;
    submissions: number;
    extension: ExtensionRequest | null;
    facts: Obligation | null;
  }>(
    `SELECT unit_id, unit_name, period, state, due_at, acknowledged_at, last_submitted_at, submissions, extension, facts
     FROM work_point_obligations WHERE workflow_id = $1 ORDER BY unit_name, period`,
    [workflowId],
  );
  return rows.map((r) => ({
    unitId: r.unit_id,
    unitName: r.unit_name,
    period: r.period,
    state: r.state,
    dueAt: r.due_at,
    acknowledgedAt: r.acknowledged_at,
    lastSubmittedAt: r.last_submitted_at,
    submissions: r.submissions,
    extension: r.extension,
    facts: r.facts,
  }));
}

export interface TimelineEntry {
  seq: number;
  at: Date;
  kind: string;
  unitId: string | null;
  unitName: string | null;
  period: string | null;
  detail: string;
}

/** One work point's timeline in order, with the unit names from the directory. */
export async function listTimeline(db: Pool, workflowId: string): Promise<TimelineEntry[]> {
  const { rows } = await db.query<{
    seq: number;
    at: Date;
    kind: string;
    unit_id: string | null;
    unit_name: string | null;
    period: string | null;
    detail: string;
  }>(
    `SELECT t.seq, t.at, t.kind, t.unit_id, u.name AS unit_name, t.period, t.detail
     FROM work_point_timeline t LEFT JOIN units u ON u.id = t.unit_id
     WHERE t.workflow_id = $1 ORDER BY t.seq`,
    [workflowId],
  );
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    unitId: r.unit_id,
    unitName: r.unit_name,
    period: r.period,
    detail: r.detail,
  }));
}
