import { renameSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Client } from 'pg';
import {
  countRows,
  inCopyTransaction,
  insertJsonRows,
  publicTables,
  restartSerialSequences,
  rowsAsJson,
} from '../db/admin-repo';
import { migrate } from '../db/migrate';
import { freePort } from './ports';

/**
 * Earlier versions of `npm start` kept their data in an in-process PGlite (DATA_DIR/pg). PGlite served one
 * protocol message at a time for every connection and lost replies under concurrent load, so the embedded default
 * is now a real PostgreSQL server (DATA_DIR/postgres). This moves an old PGlite database into it once:
 *
 * 1. the PGlite database is brought to the current schema (served on a loopback port for the migration runner),
 * 2. the new database is migrated and must be empty,
 * 3. every table is copied row by row as JSON (json_populate_recordset keeps bytea, jsonb, arrays and timestamps),
 *    with foreign-key triggers off for the copy, in one transaction; serial sequences continue after the copied ids,
 * 4. the row counts are compared, and only then is DATA_DIR/pg renamed to DATA_DIR/pg.pglite-imported — kept, never
 *    deleted, so nothing is lost if anything went wrong.
 */

export interface ImportResult {
  tables: number;
  rows: number;
  keptAt: string;
}

const BATCH = 200;

export async function importPglite(
  pgliteDir: string,
  targetUrl: string,
  log: (msg: string) => void,
): Promise<ImportResult> {
  const source = await PGlite.create({ dataDir: pgliteDir });
  try {
    const port = await freePort();
    const server = new PGLiteSocketServer({ db: source, host: '127.0.0.1', port, maxConnections: 10 });
    await server.start();
    try {
      await migrate(`postgres://postgres@127.0.0.1:${port}/postgres`, log);
    } finally {
      await server.stop();
      // stop() detaches handlers without awaiting them; let a rollback in flight finish before PGlite is used again.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    await migrate(targetUrl, log);
    const tables = await publicTables(source);

    const target = new Client({ connectionString: targetUrl, application_name: 'duban-pglite-import' });
    await target.connect();
    let total = 0;
    try {
      for (const table of tables) {
        if ((await countRows(target, table)) > 0) {
          throw new Error(`the new database already holds rows in ${table}; nothing was imported`);
        }
      }
      await inCopyTransaction(target, async () => {
        const counts = new Map<string, number>();
        for (const table of tables) {
          const rows = await rowsAsJson(source, table);
          for (let i = 0; i < rows.length; i += BATCH) {
            await insertJsonRows(target, table, `[${rows.slice(i, i + BATCH).join(',')}]`);
          }
          counts.set(table, rows.length);
          total += rows.length;
        }
        await restartSerialSequences(target);
        for (const [table, expected] of counts) {
          const copied = await countRows(target, table);
          if (copied !== expected) {
            throw new Error(`${table}: copied ${copied} of ${expected} rows; nothing was imported`);
          }
        }
      });
    } finally {
      await target.end();
    }
    await source.close();
    const keptAt = `${pgliteDir}.pglite-imported`;
    renameSync(pgliteDir, keptAt);
    return { tables: tables.length, rows: total, keptAt };
  } finally {
    if (!source.closed) await source.close();
  }
}
