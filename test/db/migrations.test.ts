import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { migrate } from '../../db/migrate';
import { getAssignment } from '../../db/replies-repo';
import { createPool } from '../../db/pool';

/** Migrations that move stored data: data written under the old schema survives the step, row for row. */

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `${process.env.TEST_DATABASE_NAME ?? 'duban_test'}_mig_${randomBytes(4).toString('hex')}`;
const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(() => admin(`CREATE DATABASE ${name}`));
afterAll(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

test('0007 moves cycles.assignees into one cycle_assignees row per work point', async () => {
  expect((await migrate(url, undefined, 6)).applied).toHaveLength(6);
  const pool = createPool(url, { max: 2 });
  try {
    await pool.query(
      `INSERT INTO plans (id, year, source_text, source_sha256, sections) VALUES (1, 2023, 'x', 'sha', '[]')`,
    );
    const assignees = [
      {
        number: 1,
        leadUnits: [{ id: 'sfj', name: '司法局' }],
        responsibleUnits: [
          { id: 'a', name: 'A' },
          { id: 'b', name: 'B' },
        ],
      },
      { number: 2, leadUnits: [], responsibleUnits: [{ id: 'c', name: 'C' }], office: { id: 'office', name: '办' } },
    ];
    await pool.query(
      `INSERT INTO cycles (year, plan_id, workflow_id, assignees) VALUES (2023, 1, 'cycle-2023', $1), (2024, 1, 'cycle-2024', NULL)`,
      [JSON.stringify(assignees)],
    );

    expect((await migrate(url)).applied).toContain('0007_cycle_assignees');

    expect(await getAssignment(pool, 2023, 1)).toEqual({ leadUnits: ['sfj'], responsibleUnits: ['a', 'b'] });
    expect(await getAssignment(pool, 2023, 2)).toEqual({ leadUnits: [], responsibleUnits: ['c'] });
    expect(await getAssignment(pool, 2023, 3)).toBeUndefined();
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM cycle_assignees');
    expect(Number(rows[0]?.n)).toBe(2);
    const cols = await pool.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'cycles' AND column_name = 'assignees'",
    );
    expect(cols.rowCount).toBe(0);
  } finally {
    await pool.end();
  }
});
