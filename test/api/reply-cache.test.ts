/**
 * The report path's lookups (api/routes/reply/lookups.ts): what a page open and a submission ask PostgreSQL, counted
 * through a wrapper around the real pool; and that nothing the office changes is served stale from the per-process
 * cache — office actions, the unit directory, a revoked token, a drill cancelled and started again.
 * A real dev server and worker: every page and submission below goes through the workflow as in production.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parseLinkKeys, signLink, type LinkClaims } from '../../common/links';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { toShanghaiIso } from '../../domain/schedule';
import { createToken, revokeToken } from '../../db/tokens-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { statusQuery, workPointWorkflowId } from '../../workflows/shared';
import { bearer, build, TEST_LINK_SECRET } from '../helpers/app';
import { countingPool, type CountingPool } from '../helpers/counting-pool';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createDevServerEnv } from '../helpers/temporal';
import { until } from '../helpers/wait';
import { startTestWorker, waitForWorkPoint, type RunningWorker } from '../helpers/worker';

jest.setTimeout(120_000);

const TASK_QUEUE = 'reply-cache-test';
const YEAR = 2023;
const DAY = 86_400_000;

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let counted: CountingPool;
let worker: RunningWorker;
let admin: { authorization: string };
let planId: number;

const unitId = (name: string) => DEMO_UNIT_DIRECTORY.units.find((u) => u.name === name)!.id;
const link = (claims: Partial<LinkClaims> & { u: string; wp: number }) =>
  signLink(parseLinkKeys(TEST_LINK_SECRET), {
    y: YEAR,
    p: 'report',
    per: 'H1',
    exp: Math.floor(Date.now() / 1000) + 3600,
    ...claims,
  });

function multipart(fields: Record<string, string>) {
  const boundary = `----duban${randomUUID()}`;
  const body = Object.entries(fields)
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  return {
    payload: Buffer.from(`${body}--${boundary}--\r\n`),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** The app as production builds it, on the counting wrapper of this file's pool; one cache per app. */
const app = (): Promise<FastifyInstance> =>
  build({ pool: counted.pool, temporal: env.client }, { TEMPORAL_TASK_QUEUE: TASK_QUEUE });

const open = (a: FastifyInstance, token: string) => a.inject({ method: 'GET', url: `/r/${token}` });
const submit = (a: FastifyInstance, token: string, text: string) =>
  a.inject({ method: 'POST', url: `/r/${token}`, ...multipart({ submissionId: randomUUID(), text }) });

const receipt = (body: string) => /class="receipt">([^<]+)</.exec(body)?.[1];

async function workPointStatus(n: number) {
  return env.client.workflow.getHandle(workPointWorkflowId(YEAR, n)).query(statusQuery);
}

/** A directory unit that neither reports on nor leads work point n. */
async function outsider(n: number, not: string[] = []): Promise<{ id: string; name: string }> {
  const s = await workPointStatus(n);
  const taken = new Set([...s.units, ...s.leadUnits].map((u) => u.id).concat(not));
  const unit = DEMO_UNIT_DIRECTORY.units.find((u) => u.kind !== 'office' && u.active && !taken.has(u.id));
  if (!unit) throw new Error(`no free unit for work point ${n}`);
  return { id: unit.id, name: unit.name };
}

/** A work point with units of its own and at least two directory units that are not on it. */
async function roomyWorkPoint(): Promise<number> {
  for (const n of [16, 17, 18, 19, 21, 22, 23, 24, 25, 6]) {
    await waitForWorkPoint(db.pool, YEAR, n);
    const s = await workPointStatus(n);
    const taken = new Set([...s.units, ...s.leadUnits].map((u) => u.id));
    const free = DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind !== 'office' && u.active && !taken.has(u.id));
    if (s.units.length >= 1 && free.length >= 2) return n;
  }
  throw new Error('no work point in the seed plan leaves two directory units free');
}

const action = (a: FastifyInstance, n: number, path: string, payload: object, method: 'POST' | 'DELETE' = 'POST') =>
  a.inject({ method, url: `/api/cycles/${YEAR}/work-points/${n}/${path}`, headers: admin, payload });

beforeAll(async () => {
  [env, db] = await Promise.all([createDevServerEnv(), createTestDatabase()]);
  counted = countingPool(db.pool);
  admin = bearer((await createToken(db.pool, { name: 'reply-cache-admin', role: 'admin' })).token);
  worker = await startTestWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: TEST_LINK_SECRET,
  });
  const a = await app();
  const units = await a.inject({
    method: 'PUT',
    url: '/api/units',
    headers: admin,
    payload: { units: DEMO_UNIT_DIRECTORY.units, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections },
  });
  expect(units.statusCode).toBe(200);
  const plan = await a.inject({
    method: 'POST',
    url: '/api/plans',
    headers: { ...admin, 'content-type': 'text/plain' },
    payload: readFileSync(SEED_PLAN_PATH, 'utf8'),
  });
  expect(plan.statusCode).toBe(201);
  planId = plan.json<{ id: number }>().id;
  // The real 2023 dates are past: H1 opens now and is due in 20 days, nothing escalates during the test.
  const now = Date.now();
  const started = await a.inject({
    method: 'POST',
    url: '/api/cycles',
    headers: admin,
    payload: {
      year: YEAR,
      planId,
      options: {
        periods: [
          { id: 'H1', label: '上半年', opens: toShanghaiIso(now), due: toShanghaiIso(now + 20 * DAY) },
          { id: 'annual', label: '全年', due: toShanghaiIso(now + 200 * DAY) },
        ],
        // Durations, not working days: the dates run into a year the calendar may not have yet.
        reminderBefore: 'P3D',
        leadEscalationAfter: 'P3D',
        officeEscalationAfter: 'P5D',
        review: {
          request: toShanghaiIso(now + 201 * DAY),
          summaryDue: toShanghaiIso(now + 230 * DAY),
          rating: toShanghaiIso(now + 240 * DAY),
        },
      },
    },
  });
  expect(started.json()).toMatchObject({ year: YEAR });
  expect(started.statusCode).toBe(202);
  for (const n of [1, 5, 6, 7]) await waitForWorkPoint(db.pool, YEAR, n);
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  await db?.drop();
});

/** Waits until the status projection (what the reply page reads) shows `check` for the unit's obligation. */
async function projected(
  n: number,
  unit: string,
  check: (row: { state: string; due_at: Date } | undefined) => boolean,
  period = 'H1',
): Promise<void> {
  await until(`the projection of ${unit} on work point ${n}`, async () => {
    const { rows } = await db.pool.query<{ state: string; due_at: Date }>(
      'SELECT state, due_at FROM work_point_obligations WHERE workflow_id = $1 AND unit_id = $2 AND period = $3',
      [workPointWorkflowId(YEAR, n), unit, period],
    );
    return check(rows[0]) ? true : undefined;
  });
}

const reads = (queries: string[], table: string) => queries.filter((q) => new RegExp(`\\bFROM ${table}\\b`).test(q));

describe('what PostgreSQL is asked', () => {
  test('a page open asks 3 queries and a report 5 (before the cache: 6 and 8); the work point text comes from the cache', async () => {
    const a = await app();
    const t = link({ u: unitId('中川镇'), wp: 5 });
    counted.take();
    const first = await open(a, t);
    expect(first.statusCode).toBe(200);
    // The first opening in this process reads the work point once, besides the one fresh read of the link's state
    // (cycle, unit, obligation, assignment together) and the unit's reports and receipts.
    const cold = counted.take();
    expect(reads(cold, 'work_points')).toHaveLength(1);
    expect(cold).toHaveLength(4);

    const page = await open(a, t);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('第5条 落实市场准入负面清单制度');
    const pageQueries = counted.take();
    expect(pageQueries).toHaveLength(3);
    expect(reads(pageQueries, 'cycles')).toHaveLength(1);
    expect(reads(pageQueries, 'work_points')).toEqual([]);

    const sent = await submit(a, t, '已完成负面清单梳理。');
    expect(sent.statusCode).toBe(200);
    expect(receipt(sent.body)).toBeDefined();
    const submitQueries = counted.take();
    // The link's state, the receipt check (a repeated form counts once: never cached), the files kept, the receipt.
    expect(submitQueries).toHaveLength(5);
    expect(reads(submitQueries, 'work_points')).toEqual([]);
    expect(reads(submitQueries, 'receipts').length).toBeGreaterThanOrEqual(2);
  });

  test('a burst of first openings of one work point reads its text once', async () => {
    const a = await app();
    const units = (await workPointStatus(7)).units;
    expect(units.length).toBeGreaterThan(1);
    counted.take();
    const pages = await Promise.all(units.map((u) => open(a, link({ u: u.id, wp: 7 }))));
    expect(pages.map((p) => p.statusCode)).toEqual(units.map(() => 200));
    expect(reads(counted.take(), 'work_points')).toHaveLength(1);
  });
});

describe('nothing the office changes is served from the cache', () => {
  test('extend: the next page shows the new due date', async () => {
    const a = await app();
    const u = (await workPointStatus(1)).units[0]!.id;
    const t = link({ u, wp: 1 });
    expect((await open(a, t)).statusCode).toBe(200);
    const newDueAt = Math.floor((Date.now() + 33 * DAY) / 60_000) * 60_000;
    const iso = toShanghaiIso(newDueAt);
    const shown = `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
    expect((await open(a, t)).body).not.toContain(shown);
    const res = await action(a, 1, 'extend', { periodId: 'H1', newDueAt: iso, unitIds: [u], reason: '测试延期' });
    expect(res.statusCode).toBe(200);
    await projected(1, u, (r) => r?.due_at.getTime() === newDueAt);
    expect((await open(a, t)).body).toContain(shown);
  });

  test('add-unit and reassign: the added and the new unit may report at once, the unit reassigned away may not', async () => {
    const a = await app();
    const n = await roomyWorkPoint();
    const added = await outsider(n);
    const to = await outsider(n, [added.id]);
    const from = (await workPointStatus(n)).units[0]!;
    // Each link opened first, so whatever the process caches about them is there.
    for (const u of [added.id, to.id, from.id]) await open(a, link({ u, wp: n }));
    expect((await open(a, link({ u: added.id, wp: n }))).statusCode).toBe(403);
    expect((await open(a, link({ u: to.id, wp: n }))).statusCode).toBe(403);

    expect((await action(a, n, 'units', { unitId: added.id, reason: '新增' })).statusCode).toBe(200);
    const moved = await action(a, n, 'reassign', { fromUnitId: from.id, toUnitId: to.id, reason: '职能划转' });
    expect(moved.statusCode).toBe(200);
    await projected(n, added.id, (r) => r !== undefined);
    await projected(n, to.id, (r) => r !== undefined);

    for (const u of [added, to]) {
      const page = await open(a, link({ u: u.id, wp: n }));
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain(u.name);
      const sent = await submit(a, link({ u: u.id, wp: n }), `${u.name}的报告`);
      expect(sent.statusCode).toBe(200);
      expect(receipt(sent.body)).toBeDefined();
    }
    const refused = await submit(a, link({ u: from.id, wp: n }), '改由他单位承办后提交');
    expect(refused.statusCode).toBe(403);
    expect(receipt(refused.body)).toBeUndefined();
  });

  test('a unit renamed in the directory is shown by its new name on the next page', async () => {
    const a = await app();
    const town = unitId('中川镇');
    const t = link({ u: town, wp: 5 });
    expect((await open(a, t)).body).toContain('中川镇');
    const renamed = DEMO_UNIT_DIRECTORY.units.map((u) => (u.id === town ? { ...u, name: '中川镇（更名）' } : u));
    const put = (units: typeof renamed) =>
      a.inject({
        method: 'PUT',
        url: '/api/units',
        headers: admin,
        payload: { units, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections },
      });
    try {
      expect((await put(renamed)).statusCode).toBe(200);
      expect((await open(a, t)).body).toContain('中川镇（更名）');
    } finally {
      expect((await put(DEMO_UNIT_DIRECTORY.units)).statusCode).toBe(200);
    }
  });
});

describe('revocation takes effect at once', () => {
  test('a revoked API token is refused on the next request', async () => {
    const a = await app();
    const { id, token } = await createToken(db.pool, { name: 'revoked-at-once', role: 'viewer' });
    const get = () => a.inject({ method: 'GET', url: `/api/cycles/${YEAR}`, headers: bearer(token) });
    expect((await get()).statusCode).toBe(200);
    expect(await revokeToken(db.pool, id)).toBe('revoked');
    expect((await get()).statusCode).toBe(401);
  });

  test('a unit removed from the work point: its link, opened before, is refused on the next submission', async () => {
    const a = await app();
    const gone = (await workPointStatus(7)).units[0]!.id;
    const t = link({ u: gone, wp: 7 });
    expect((await open(a, t)).statusCode).toBe(200);
    const removed = await action(a, 7, `units/${gone}`, { reason: '不再承担' }, 'DELETE');
    expect(removed.statusCode).toBe(200);
    const refused = await submit(a, t, '移出后提交');
    expect(refused.statusCode).toBe(403);
    expect(receipt(refused.body)).toBeUndefined();
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n FROM receipts WHERE unit_id = $1 AND work_point = 7',
      [gone],
    );
    expect(rows[0].n).toBe(0);
  });
});

test('a drill cancelled and started again is never served from the old cycle; a finished cycle closes the page at once', async () => {
  const a = await app();
  const DRILL_YEAR = 2024;
  const copy = await a.inject({
    method: 'POST',
    url: `/api/plans/${planId}/copy`,
    headers: admin,
    payload: { year: DRILL_YEAR },
  });
  expect(copy.statusCode).toBe(201);
  const drill = (label: string, due: string) => ({
    drill: true,
    periods: [{ id: 'P1', label, opens: 'PT1S', due }],
    reminderBefore: 'PT2M',
    leadEscalationAfter: 'PT2M',
    officeEscalationAfter: 'PT4M',
    review: { request: 'PT50M', summaryDue: 'PT50M', rating: 'PT50M' },
  });
  const start = (options: object) =>
    a.inject({ method: 'POST', url: '/api/cycles', headers: admin, payload: { year: DRILL_YEAR, options } });
  const cancel = () => a.inject({ method: 'DELETE', url: `/api/cycles/${DRILL_YEAR}`, headers: admin });
  const t = link({ y: DRILL_YEAR, u: unitId('中川镇'), wp: 5, per: 'P1' });

  expect((await start(drill('第一次演练', 'PT10M'))).statusCode).toBe(202);
  const first = await open(a, t);
  expect(first.statusCode).toBe(200);
  expect(first.body).toContain('【演练】');
  expect(first.body).toContain('第一次演练');

  expect((await cancel()).statusCode).toBe(200);
  const gone = await open(a, t);
  expect(gone.statusCode).toBe(404);
  expect(gone.body).toContain('未找到');

  expect((await start(drill('第二次演练', 'PT40M'))).statusCode).toBe(202);
  const second = await open(a, t);
  expect(second.statusCode).toBe(200);
  expect(second.body).toContain('第二次演练');
  expect(second.body).not.toContain('第一次演练');

  // The worker records the end of a cycle (finished_at); the API has no hook for it, and needs none.
  await db.pool.query('UPDATE cycles SET finished_at = now() WHERE year = $1', [DRILL_YEAR]);
  const closed = await open(a, t);
  expect(closed.body).toContain('本年度督办已办结');
  expect(closed.body).not.toContain('name="submissionId"');
  await db.pool.query('UPDATE cycles SET finished_at = NULL WHERE year = $1', [DRILL_YEAR]);
  expect((await cancel()).statusCode).toBe(200);
});
