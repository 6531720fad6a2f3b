import type { Pool, PoolClient } from 'pg';
import type { CycleResult, WorkPointInput } from '../domain/model';
import { inTransaction } from './pool';

type Queryable = Pool | PoolClient;

/**
 * Cycles as records: the `cycles` row of what was started (Temporal owns its progress) with its options and final
 * result, and `cycle_assignees`, each work point's units and input as the cycle resolved them when it started.
 */

/** Whether a cycle's stored options mark it as a rehearsal (演练). */
export function isDrillOptions(options: unknown): boolean {
  return typeof options === 'object' && options !== null && (options as { drill?: unknown }).drill === true;
}

/** Which of these cycle years are drills. */
export async function drillYears(db: Queryable, years: number[]): Promise<Set<number>> {
  if (years.length === 0) return new Set();
  const { rows } = await db.query<{ year: number }>(
    "SELECT year FROM cycles WHERE year = ANY($1::int[]) AND options ->> 'drill' = 'true'",
    [years],
  );
  return new Set(rows.map((r) => r.year));
}

/** The work point numbers a cycle resolved when it started (its children), in order. */
export async function cycleWorkPointNumbers(db: Queryable, year: number): Promise<number[]> {
  const { rows } = await db.query<{ work_point: number }>(
    'SELECT work_point FROM cycle_assignees WHERE cycle_year = $1 ORDER BY work_point',
    [year],
  );
  return rows.map((r) => r.work_point);
}

/** Rows removed when a drill is cancelled, per table. */
export type CancelledRecords = Record<string, number>;

/**
 * Removes every record of one cycle year: its notices, reports with their receipts and files, the status projection
 * and the cycle itself, in one transaction. Only for drills (the caller checks): a real cycle's records are the
 * office's evidence and stay. The audit trail keeps the cancellation.
 *
 * `whileLocked` runs first, with the cycle's row locked: no work point of the cycle starts until the records are
 * gone (withStartableInputs waits for the lock and then finds no cycle), so it can stop every one that did.
 */
export async function deleteCycleRecords(
  pool: Pool,
  year: number,
  whileLocked?: () => Promise<void>,
): Promise<CancelledRecords> {
  return inTransaction(pool, async (c) => {
    await c.query('SELECT 1 FROM cycles WHERE year = $1 FOR UPDATE', [year]);
    await whileLocked?.();
    const counts: CancelledRecords = {};
    const run = async (table: string, sql: string) => {
      counts[table] = (await c.query(sql, [year])).rowCount ?? 0;
    };
    await run(
      'attachments',
      `DELETE FROM attachments WHERE submission_id IN (SELECT submission_id FROM reports WHERE cycle_year = $1
                                                      UNION SELECT submission_id FROM receipts WHERE cycle_year = $1)`,
    );
    await run('receipts', 'DELETE FROM receipts WHERE cycle_year = $1');
    await run('reports', 'DELETE FROM reports WHERE cycle_year = $1');
    await run('outbox', 'DELETE FROM outbox WHERE cycle_year = $1');
    await run(
      'work_point_timeline',
      `DELETE FROM work_point_timeline WHERE workflow_id LIKE 'wp-' || $1::text || '-%'`,
    );
    await run('work_point_obligations', 'DELETE FROM work_point_obligations WHERE cycle_year = $1');
    await run('work_point_status', 'DELETE FROM work_point_status WHERE cycle_year = $1');
    // cycle_assignees goes with its cycle (ON DELETE CASCADE).
    await run('cycles', 'DELETE FROM cycles WHERE year = $1');
    return counts;
  });
}

/** What was started for a cycle year; `workPoints`, when given, are the inputs its work points start from. */
export interface CycleRecord {
  year: number;
  planId: number;
  workflowId: string;
  runId?: string;
  options: unknown;
  workPoints?: WorkPointInput[];
  /** The workflow run these work point inputs were prepared for (default: runId); see recordedInputsFor. */
  inputsRunId?: string;
}

/** Records a cycle and, when given, its work points' inputs, in one transaction. Idempotent: a retry writes the same rows. */
export async function recordCycle(pool: Pool, c: CycleRecord): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO cycles (year, plan_id, workflow_id, run_id, options) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (year) DO UPDATE SET plan_id = EXCLUDED.plan_id, workflow_id = EXCLUDED.workflow_id,
         run_id = COALESCE(EXCLUDED.run_id, cycles.run_id), options = EXCLUDED.options`,
      [c.year, c.planId, c.workflowId, c.runId ?? null, JSON.stringify(c.options ?? {})],
    );
    if (c.workPoints) {
      // A cycle re-recorded for another plan keeps no rows of work points that plan does not have.
      await client.query('DELETE FROM cycle_assignees WHERE cycle_year = $1 AND work_point <> ALL($2::integer[])', [
        c.year,
        c.workPoints.map((w) => w.number),
      ]);
      await client.query('UPDATE cycles SET inputs_run_id = $2 WHERE year = $1', [
        c.year,
        c.inputsRunId ?? c.runId ?? null,
      ]);
      await client.query(
        `INSERT INTO cycle_assignees (cycle_year, work_point, lead_units, responsible_units, input)
         SELECT $1, x.number, x.lead, x.responsible, x.input
           FROM jsonb_to_recordset($2::jsonb) AS x(number integer, lead text[], responsible text[], input jsonb)
         ON CONFLICT (cycle_year, work_point) DO UPDATE
           SET lead_units = EXCLUDED.lead_units, responsible_units = EXCLUDED.responsible_units, input = EXCLUDED.input`,
        [
          c.year,
          JSON.stringify(
            c.workPoints.map((w) => ({
              number: w.number,
              lead: w.leadUnits.map((u) => u.id),
              responsible: w.responsibleUnits.map((u) => u.id),
              input: w,
            })),
          ),
        ],
      );
    }
  });
}

/**
 * The recorded inputs of some work points of a cycle, in the order asked for: exactly what the cycle resolved when it
 * was prepared, so a page loaded later never sees a directory edited in between.
 */
export async function recordedWorkPointInputs(
  db: Queryable,
  year: number,
  numbers: number[],
): Promise<WorkPointInput[]> {
  const { rows } = await db.query<{ work_point: number; input: WorkPointInput | null }>(
    'SELECT work_point, input FROM cycle_assignees WHERE cycle_year = $1 AND work_point = ANY($2::integer[])',
    [year, numbers],
  );
  const byNumber = new Map(rows.map((r) => [r.work_point, r.input]));
  return numbers.map((n) => {
    const input = byNumber.get(n);
    if (!input) throw new Error(`cycle ${year} has no recorded input for work point ${n}; prepare the cycle again`);
    return input;
  });
}

/**
 * Runs `start` with the recorded inputs of some of a cycle's work points while the cycle's row is held (FOR KEY SHARE,
 * which leaves recordCycle's updates free): a drill's cancellation (deleteCycleRecords) waits until these are started,
 * and once it has removed the cycle this finds nothing and starts nothing. Undefined when the cycle has no row.
 */
export async function withStartableInputs<T>(
  pool: Pool,
  cycle: { year: number; workflowId: string; numbers: number[] },
  start: (inputs: WorkPointInput[]) => Promise<T>,
): Promise<T | undefined> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query('SELECT 1 FROM cycles WHERE year = $1 AND workflow_id = $2 FOR KEY SHARE', [
      cycle.year,
      cycle.workflowId,
    ]);
    if (rows.length === 0) return undefined;
    return start(await recordedWorkPointInputs(c, cycle.year, cycle.numbers));
  });
}

/**
 * The work point numbers whose inputs were recorded for exactly this run of this cycle (same workflow, plan and
 * options), in order; undefined when there is no such record and the cycle must be prepared.
 */
export async function recordedInputsFor(
  db: Queryable,
  run: { year: number; planId: number; workflowId: string; runId: string; options?: unknown },
): Promise<number[] | undefined> {
  const { rows } = await db.query<{ work_point: number }>(
    `SELECT a.work_point FROM cycles c JOIN cycle_assignees a ON a.cycle_year = c.year
      WHERE c.year = $1 AND c.plan_id = $2 AND c.workflow_id = $3 AND c.inputs_run_id = $4 AND c.options = $5::jsonb
        AND a.input IS NOT NULL
      ORDER BY a.work_point`,
    [run.year, run.planId, run.workflowId, run.runId, JSON.stringify(run.options ?? {})],
  );
  return rows.length > 0 ? rows.map((r) => r.work_point) : undefined;
}

/** The cycle's final result (its annual report's facts once rated) and when it finished. */
export async function saveCycleResult(db: Queryable, result: CycleResult): Promise<void> {
  await db.query('UPDATE cycles SET result = $2, finished_at = to_timestamp($3 / 1000.0) WHERE year = $1', [
    result.year,
    JSON.stringify(result),
    result.completedAt,
  ]);
}

/**
 * The office's reads of cycle rows, for the cycle API and the dashboard.
 */

export interface StoredCycle {
  year: number;
  planId: number;
  workflowId: string;
  runId: string | null;
  options: unknown;
  finishedAt: Date | null;
}

export async function getCycleRecord(db: Pool, year: number): Promise<StoredCycle | undefined> {
  const { rows } = await db.query<{
    year: number;
    plan_id: string;
    workflow_id: string;
    run_id: string | null;
    options: unknown;
    finished_at: Date | null;
  }>('SELECT year, plan_id, workflow_id, run_id, options, finished_at FROM cycles WHERE year = $1', [year]);
  const r = rows[0];
  return (
    r && {
      year: r.year,
      planId: Number(r.plan_id),
      workflowId: r.workflow_id,
      runId: r.run_id,
      options: r.options,
      finishedAt: r.finished_at,
    }
  );
}

/**
 * A started cycle's plan and that plan's work point numbers, in order. The plan's, not the resolved assignees: those
 * appear only once the worker has prepared the cycle.
 */
export async function cyclePlanWorkPoints(
  db: Pool,
  year: number,
): Promise<{ planId: number; numbers: number[] } | undefined> {
  const { rows } = await db.query<{ plan_id: string; numbers: number[] | null }>(
    'SELECT c.plan_id, array(SELECT w.number FROM work_points w WHERE w.plan_id = c.plan_id ORDER BY w.number) AS numbers FROM cycles c WHERE c.year = $1',
    [year],
  );
  const r = rows[0];
  return r && { planId: Number(r.plan_id), numbers: r.numbers ?? [] };
}
