import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { createPool } from '../../db/pool';

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
  }
}

export interface DbPluginOptions {
  databaseUrl: string;
  /** A pool owned by the caller (tests); it is not closed with the app. */
  pool?: Pool;
}

export default fp<DbPluginOptions>(
  async (app, opts) => {
    const pool = opts.pool ?? createPool(opts.databaseUrl);
    app.decorate('db', pool);
    if (!opts.pool) app.addHook('onClose', async () => pool.end());
  },
  { name: 'db' },
);
