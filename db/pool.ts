import { Pool, type PoolClient, type PoolConfig } from 'pg';

export type Db = Pool;

/** One pool per process; callers close it in their shutdown path. */
export function createPool(connectionString: string, options: Omit<PoolConfig, 'connectionString'> = {}): Pool {
  const pool = new Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'duban',
    ...options,
  });
  // An idle client that loses its server (restart, terminated backend) emits 'error' on the pool;
  // without a listener Node would crash the process. The pool replaces the client on next use.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs fn on one client inside BEGIN … COMMIT; any error rolls back and is rethrown. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
