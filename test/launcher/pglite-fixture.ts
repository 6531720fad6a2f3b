/**
 * PGlite runs only outside jest's VM (it loads its WASM with a dynamic import), so the import test drives it
 * through this script: `make <dir> [migrations]`, `import <dir> <url>`, `snapshot <dir>` (JSON on stdout).
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Client } from 'pg';
import { migrate } from '../../db/migrate';
import { importPglite } from '../../launcher/pglite-import';
import { freePort } from '../../launcher/ports';
import { seedDemo } from '../../launcher/seed';

export const TABLES_SQL = `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmigrations' ORDER BY 1`;

export async function snapshot(
  query: (sql: string) => Promise<{ rows: Record<string, unknown>[] }>,
): Promise<Record<string, string[]>> {
  const tables = (await query(TABLES_SQL)).rows.map((r) => String(r.tablename));
  const out: Record<string, string[]> = {};
  for (const t of tables) {
    out[t] = (await query(`SELECT row_to_json(t)::text AS j FROM "${t}" t`)).rows.map((r) => String(r.j)).sort();
  }
  return out;
}

async function make(dir: string, migrations: number): Promise<void> {
  const db = await PGlite.create({ dataDir: dir });
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 50 });
  await server.start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await migrate(url, () => undefined, migrations);
  await seedDemo(url, () => undefined);
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(
    `INSERT INTO attachments (id, submission_id, name, content_type, size, sha256, data)
     VALUES ('a1', 's1', '佐证.pdf', 'application/pdf', 5, 'x', $1)`,
    [Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00])],
  );
  await c.end();
  await server.stop();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await db.close();
}

async function main(): Promise<void> {
  const [command, dir, arg] = process.argv.slice(2);
  if (!dir) throw new Error('usage: make|import|snapshot <dir> [arg]');
  if (command === 'make') await make(dir, arg ? Number(arg) : Infinity);
  else if (command === 'import') {
    if (!arg) throw new Error('import needs a target URL');
    process.stdout.write(JSON.stringify(await importPglite(dir, arg, () => undefined)));
  } else if (command === 'snapshot') {
    const db = await PGlite.create({ dataDir: dir });
    process.stdout.write(JSON.stringify(await snapshot((sql) => db.query<Record<string, unknown>>(sql))));
    await db.close();
  } else throw new Error(`unknown command ${command}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
