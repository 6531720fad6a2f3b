import type { Pool } from 'pg';

/**
 * Where a carried-over work point came from (work_points.origin): the earlier cycle's year, number, workflow ID and
 * rating. `origins[i]` belongs to work point i + 1 of the plan.
 */
export async function setWorkPointOrigins(db: Pool, planId: number, origins: readonly unknown[]): Promise<void> {
  for (const [i, origin] of origins.entries()) {
    await db.query('UPDATE work_points SET origin = $3 WHERE plan_id = $1 AND number = $2', [
      planId,
      i + 1,
      JSON.stringify(origin),
    ]);
  }
}
