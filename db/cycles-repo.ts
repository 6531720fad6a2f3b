import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;
import { inTransaction } from './pool';

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
 */
export async function deleteCycleRecords(pool: Pool, year: number): Promise<CancelledRecords> {
  return inTransaction(pool, async (c) => {
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
