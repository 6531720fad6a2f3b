import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../launcher/binaries';
import { seedDemo } from '../../launcher/seed';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { snapshot } from './pglite-fixture';

/**
 * A data directory from an earlier `npm start` holds a PGlite database in DATA_DIR/pg. Its data move into the real
 * PostgreSQL server once, whole, and the old files are kept. (PGlite runs in a child process: see pglite-fixture.ts.)
 */

jest.setTimeout(120_000);

const run = promisify(execFile);
const fixture = async (...args: string[]): Promise<string> =>
  (await run(process.execPath, ['--import', 'tsx', 'test/launcher/pglite-fixture.ts', ...args], { cwd: PROJECT_ROOT }))
    .stdout;

let dir: string;
let target: TestDatabase;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'duban-pglite-'));
  target = await createTestDatabase();
});
afterEach(async () => {
  await target.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('an earlier PGlite database (older schema) is imported whole; its files are kept, its ids continue', async () => {
  const pgliteDir = path.join(dir, 'pg');
  // One migration short: the import brings the old database to the current schema first.
  await fixture('make', pgliteDir, '6');

  const result = JSON.parse(await fixture('import', pgliteDir, target.url)) as { rows: number; keptAt: string };

  expect(existsSync(pgliteDir)).toBe(false);
  expect(result.keptAt).toBe(`${pgliteDir}.pglite-imported`);
  const before = JSON.parse(await fixture('snapshot', result.keptAt)) as Record<string, string[]>;
  const after = await snapshot((sql) => target.pool.query(sql));
  expect(Object.keys(after)).toEqual(Object.keys(before));
  expect(after).toEqual(before);
  expect(before.units?.length).toBeGreaterThan(10);
  expect(before.work_points?.length).toBe(29);
  expect(result.rows).toBe(Object.values(before).reduce((n, rows) => n + rows.length, 0));

  const { rows: file } = await target.pool.query<{ data: Buffer }>(`SELECT data FROM attachments WHERE id = 'a1'`);
  expect(file[0]?.data).toEqual(Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00]));
  // Serial ids continue after the copied ones.
  const { rows: ids } = await target.pool.query<{ next: string; max: string }>(
    `SELECT nextval(pg_get_serial_sequence('plans', 'id')) AS next, (SELECT max(id) FROM plans) AS max`,
  );
  expect(Number(ids[0]?.max)).toBeGreaterThanOrEqual(1);
  expect(Number(ids[0]?.next)).toBe(Number(ids[0]?.max) + 1);
});

test('a target that already holds data is refused and the PGlite files stay where they were', async () => {
  const pgliteDir = path.join(dir, 'pg');
  await fixture('make', pgliteDir);
  await seedDemo(target.url, () => undefined);

  await expect(fixture('import', pgliteDir, target.url)).rejects.toThrow(/already holds rows/);
  expect(existsSync(path.join(pgliteDir, 'PG_VERSION'))).toBe(true);
});
