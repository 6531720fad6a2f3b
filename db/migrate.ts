import path from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
/** Arbitrary but fixed: every duban process that migrates takes this lock first. */
const MIGRATION_LOCK_KEY = 727_001;

export interface MigrateResult {
  applied: string[];
}

/**
 * Apply pending migrations. Safe when several processes start at once: each waits on a
 * session-level advisory lock, so the first applies and the others find nothing left to do.
 */
export async function migrate(
  databaseUrl: string,
  log: (msg: string) => void = () => undefined,
  /** Tests of a migration stop before it to load data the old way. */
  count = Infinity,
): Promise<MigrateResult> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'duban-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const done = await runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        direction: 'up',
        migrationsTable: 'pgmigrations',
        count,
        noLock: true,
        checkOrder: true,
        singleTransaction: true,
        log: () => undefined,
      });
      const applied = done.map((m) => m.name);
      if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
      return { applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}
