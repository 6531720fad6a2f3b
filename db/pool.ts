import { Pool, type PoolConfig } from 'pg';

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
