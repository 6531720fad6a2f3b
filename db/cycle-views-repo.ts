import type { Pool } from 'pg';

/**
 * The office's reads of cycle rows and the plans behind them, for the cycle API and the dashboard. (They read the
 * tables db/cycles-repo.ts and db/plans-repo.ts write; kept apart so the API's reads have one home.)
 */

export interface CycleRecord {
  year: number;
  planId: number;
  workflowId: string;
  runId: string | null;
  options: unknown;
  finishedAt: Date | null;
}

export async function getCycleRecord(db: Pool, year: number): Promise<CycleRecord | undefined> {
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

/** The most recently imported plans, newest first. */
export async function recentPlans(
  db: Pool,
  limit: number,
): Promise<{ id: string; year: number; title: string | null }[]> {
  const { rows } = await db.query<{ id: string; year: number; title: string | null }>(
    'SELECT id, year, title FROM plans ORDER BY id DESC LIMIT $1',
    [limit],
  );
  return rows;
}
