import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { toShanghaiIso } from '../../domain/schedule';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { freshStackEnv, launch, removeTempDataDirs, stopAllLaunched, stopLauncher } from '../helpers/launcher';
import { until } from '../helpers/wait';

/**
 * The stack `npm start` runs, as a pilot office would run it: a live cycle of the seed plan, launched while the API
 * is under load, stores every assignment notice; then 200 departments reply at once from 200 different links, and
 * every 已收到 has its report in PostgreSQL — on the embedded default and on a given PostgreSQL alike.
 */

jest.setTimeout(300_000);

const CONCURRENT = 200;
const YEAR = 2023;

afterEach(stopAllLaunched);
afterAll(removeTempDataDirs);

interface Tally {
  status: Record<string, number>;
  receipts: string[];
}

async function drill(env: Record<string, string>, databaseUrl: (dataDir: string) => string): Promise<void> {
  const { dataDir, port, env: ports } = await freshStackEnv();
  const stack = launch({
    ...ports,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    // Notices go to the log at once: this test reads their links from the outbox, not from mail.
    DIGEST_ENABLED: 'false',
    QUIET_HOURS: 'off',
    ...env,
  });
  await stack.waitFor(/duban is ready/, 120_000);
  const api = `http://127.0.0.1:${port}`;
  const auth = { authorization: `Bearer ${readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim()}` };
  const db = new Client({ connectionString: databaseUrl(dataDir) });
  await db.connect();
  try {
    // What the plan's units say the cycle must send: one assignment per responsible unit, work point and period.
    // The seed plan itself (the live demo's copy for the current year is there too).
    const plans = (await (await fetch(`${api}/api/plans`, { headers: auth })).json()) as { id: number; year: number }[];
    const planId = plans.find((p) => p.year === YEAR)?.id;
    expect(planId).toBeDefined();
    const assignees = (await (await fetch(`${api}/api/plans/${planId}/assignees`, { headers: auth })).json()) as {
      ok: boolean;
      workPoints: { number: number; responsible: unknown[] }[];
    };
    expect(assignees.ok).toBe(true);
    const periods = 2;
    const expected = assignees.workPoints.reduce((n, w) => n + w.responsible.length, 0) * periods;
    expect(expected).toBeGreaterThan(CONCURRENT);

    // A live cycle: both periods open now and are due in a day, nothing escalates during the test.
    const now = Date.now();
    const at = (ms: number) => toShanghaiIso(now + ms);
    const options = {
      periods: [
        { id: 'H1', label: '上半年', opens: at(0), due: at(86_400_000) },
        { id: 'annual', label: '全年', opens: at(0), due: at(2 * 86_400_000) },
      ],
      reminderBefore: 'PT1H',
      leadEscalationAfter: 'PT1H',
      officeEscalationAfter: 'PT2H',
      review: { request: at(3 * 86_400_000), summaryDue: at(4 * 86_400_000), rating: at(5 * 86_400_000) },
    };

    // The API under load while the cycle launches: every answer must be a real one.
    const loadStatus: Record<string, number> = {};
    let loading = true;
    const load = Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        while (loading) {
          const res = await fetch(`${api}${i % 2 ? '/api/units' : `/api/cycles/${YEAR}`}`, { headers: auth });
          await res.arrayBuffer();
          loadStatus[res.status] = (loadStatus[res.status] ?? 0) + 1;
        }
      }),
    );
    const started = await fetch(`${api}/api/cycles`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ year: YEAR, planId, options }),
    });
    expect(started.status).toBe(202);
    const count = async () =>
      (
        await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM outbox WHERE cycle_year = $1 AND kind = 'assignment'",
          [YEAR],
        )
      ).rows[0]?.n ?? 0;
    await until('every assignment notice', async () => ((await count()) >= expected ? true : undefined), 120_000);
    loading = false;
    await load;
    expect(await count()).toBe(expected);
    // 200, or 404 for the cycle before it exists; never a 5xx, never a 401 for the valid token.
    expect(Object.keys(loadStatus).filter((s) => s !== '200' && s !== '404')).toEqual([]);
    expect(loadStatus['200']).toBeGreaterThan(0);

    // 200 departments reply at once, each from the link in its own notice.
    const { rows: links } = await db.query<{ link: string }>(
      `SELECT link FROM outbox WHERE cycle_year = $1 AND kind = 'assignment' AND link IS NOT NULL
        ORDER BY work_point, unit_id, period LIMIT $2`,
      [YEAR, CONCURRENT],
    );
    expect(links).toHaveLength(CONCURRENT);
    const tally: Tally = { status: {}, receipts: [] };
    const repliesStarted = Date.now();
    await Promise.all(
      links.map(async ({ link }, i) => {
        const res = await fetch(link, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ submissionId: randomUUID(), text: `第${i + 1}份进展报告：已按要求推进。` }),
        });
        const body = await res.text();
        tally.status[res.status] = (tally.status[res.status] ?? 0) + 1;
        const receipt = /class="receipt">([^<]+)</.exec(body)?.[1];
        if (res.status === 200 && body.includes('已收到') && receipt) tally.receipts.push(receipt);
      }),
    );
    process.stdout.write(
      `concurrent replies (${env.DATABASE_URL ? 'given PostgreSQL' : 'embedded PostgreSQL'}): ${JSON.stringify(tally.status)} in ${Date.now() - repliesStarted} ms, ${tally.receipts.length} receipts, ${stack.output().split('sending again').length - 1} updates sent again\n`,
    );
    expect(tally.status).toEqual({ 200: CONCURRENT });
    expect(tally.receipts).toHaveLength(CONCURRENT);
    // Every receipt has its report, right now.
    const { rows } = await db.query<{ receipt_no: string; stored: boolean }>(
      `SELECT c.receipt_no, EXISTS (SELECT 1 FROM reports r WHERE r.submission_id = c.submission_id) AS stored
         FROM receipts c WHERE c.receipt_no = ANY($1)`,
      [tally.receipts],
    );
    expect(rows).toHaveLength(CONCURRENT);
    expect(rows.filter((r) => !r.stored)).toEqual([]);
    const reports = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM reports WHERE cycle_year = $1', [
      YEAR,
    ]);
    expect(reports.rows[0]?.n).toBe(CONCURRENT);
  } finally {
    await db.end();
  }
  expect(await stopLauncher(stack)).toEqual({ code: 0, signal: null });
}

test('on the embedded default (no DATABASE_URL)', async () => {
  // The running stack's own record of its database (what the CLI uses too).
  await drill(
    {},
    (dataDir) =>
      (JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as { databaseUrl: string }).databaseUrl,
  );
});

test('on a given PostgreSQL (DATABASE_URL)', async () => {
  const db: TestDatabase = await createTestDatabase();
  try {
    await drill({ DATABASE_URL: db.url }, () => db.url);
  } finally {
    await db.drop();
  }
});
