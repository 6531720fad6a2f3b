import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Client } from 'pg';

/**
 * PostgreSQL for `npm start` without a server: PGlite (Postgres compiled to WASM, in this process) persisted
 * to a directory and served over TCP so the API and worker connect with an ordinary DATABASE_URL.
 *
 * What to know about serving one PGlite to many connections (checked with pg pools, node-pg-migrate and
 * concurrent parameterised queries, large rows and interleaved errors):
 * - PGlite is a single backend: the socket server runs one protocol message at a time and, while a client has
 *   a transaction open, runs only that client's messages. A client that opens a transaction and then waits on
 *   another connection therefore waits forever; keep transactions on one client, as usual.
 * - All connections share one session: session settings, named prepared statements and session advisory locks
 *   are common to every client. Advisory locks are re-entrant across clients, so they do not exclude anyone;
 *   the launcher migrates once before any other process starts, which keeps db/migrate.ts safe anyway.
 */

export interface EmbeddedPostgresOptions {
  /** Directory PGlite persists to; created when missing. */
  dataDir: string;
  port: number;
  host?: string;
  /** API pool + worker pool + migrations + a psql or two, with room to spare. */
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir });
  const server = new PGLiteSocketServer({ db, host, port: options.port, maxConnections: options.maxConnections ?? 50 });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const url = `postgres://postgres@${host}:${options.port}/postgres`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await server.stop();
      // server.stop() detaches handlers without awaiting them; a detaching handler may still roll back an open
      // transaction on the next turn, which must happen before PGlite closes.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await db.close();
    })();
    return stopping;
  };

  // Prove the wire path works end to end (startup message, extended protocol) before anyone relies on it.
  const probe = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await probe.connect();
    await probe.query('SELECT $1::int AS one', [1]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }
  return { url, dataDir: options.dataDir, stop };
}
