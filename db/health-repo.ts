import type { Pool } from 'pg';

/** Readiness: the database answers a trivial query. */
export async function pingDatabase(db: Pool): Promise<void> {
  await db.query('SELECT 1');
}
