/**
 * Drills (演练): durations count from the moment the drill starts, and the office can cancel a drill so that it does
 * not use up the year. A real cycle cannot be cancelled. Time-skipping server, no worker: only the API's part.
 */
import { readFileSync } from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/client';
import { cycleSchedule } from '../../domain/cycle-schedule';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { cycleWorkflowId } from '../../workflows/shared';
import { parseLinkKeys, signLink } from '../../common/links';
import { TEST_LINK_SECRET, useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();
const YEAR = 2023;
const DRILL = {
  drill: true,
  periods: [{ id: 'P1', label: '演练', opens: 'PT1M', due: 'PT10M' }],
  reminderBefore: 'PT2M',
  leadEscalationAfter: 'PT2M',
  officeEscalationAfter: 'PT4M',
  review: { request: 'PT5M', summaryDue: 'PT5M', rating: 'PT5M' },
};

beforeAll(async () => {
  const app = await ctx.build();
  expect(
    (
      await app.inject({
        method: 'PUT',
        url: '/api/units',
        headers: ctx.admin,
        payload: { units: DEMO_UNIT_DIRECTORY.units, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections },
      })
    ).statusCode,
  ).toBe(200);
  const plan = await app.inject({
    method: 'POST',
    url: '/api/plans',
    headers: { ...ctx.admin, 'content-type': 'text/plain' },
    payload: readFileSync(SEED_PLAN_PATH, 'utf8'),
  });
  expect(plan.statusCode).toBe(201);
});

async function status(workflowId: string): Promise<string | undefined> {
  try {
    return (await ctx.env.client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

test('a drill counts its durations from its start: the first due date is start + the duration', async () => {
  const app = await ctx.build();
  const before = Date.now();
  const res = await app.inject({
    method: 'POST',
    url: '/api/cycles',
    headers: ctx.admin,
    payload: { year: YEAR, options: DRILL },
  });
  const after = Date.now();
  expect(res.statusCode).toBe(202);
  const { rows } = await ctx.db.pool.query<{ options: { drill: boolean; startedAt: string } }>(
    'SELECT options FROM cycles WHERE year = $1',
    [YEAR],
  );
  const startedAt = Date.parse(rows[0]?.options.startedAt ?? '');
  expect(startedAt).toBeGreaterThanOrEqual(before - 1000); // ISO strings carry whole seconds
  expect(startedAt).toBeLessThanOrEqual(after);
  const schedule = cycleSchedule(YEAR, rows[0]?.options);
  expect(schedule.periods[0]?.opensAt).toBe(startedAt + 60_000);
  expect(schedule.periods[0]?.dueAt).toBe(startedAt + 60_000 + 600_000);
  expect(schedule.periods[0]?.reminderAt).toBe(startedAt + 60_000 + 600_000 - 120_000);
  // The Temporal UI says it is a rehearsal.
  const described = await ctx.env.client.workflow.getHandle(cycleWorkflowId(YEAR)).describe();
  expect(await described.staticSummary()).toMatch(/^【演练】/);
});

test('a real cycle cannot be cancelled; a drill can, and then the year is free again', async () => {
  const app = await ctx.build();
  // The drill of the previous test is running.
  const cancelled = await app.inject({ method: 'DELETE', url: `/api/cycles/${YEAR}`, headers: ctx.admin });
  expect(cancelled.statusCode).toBe(200);
  expect(cancelled.json()).toMatchObject({ year: YEAR, cancelled: true, terminated: [cycleWorkflowId(YEAR)] });
  expect(await status(cycleWorkflowId(YEAR))).toBe('TERMINATED');
  const { rows } = await ctx.db.pool.query('SELECT 1 FROM cycles WHERE year = $1', [YEAR]);
  expect(rows).toHaveLength(0);
  const audit = await ctx.db.pool.query<{ action: string }>(
    "SELECT action FROM audit_log WHERE action = 'cancel-drill'",
  );
  expect(audit.rows).toHaveLength(1);

  // A viewer may not cancel anything.
  const real = await app.inject({ method: 'POST', url: '/api/cycles', headers: ctx.admin, payload: { year: YEAR } });
  expect(real.statusCode).toBe(202);
  expect((await app.inject({ method: 'DELETE', url: `/api/cycles/${YEAR}`, headers: ctx.viewer })).statusCode).toBe(
    403,
  );
  const refused = await app.inject({ method: 'DELETE', url: `/api/cycles/${YEAR}`, headers: ctx.admin });
  expect(refused.statusCode).toBe(409);
  expect(refused.json().error).toMatchObject({ code: 'not_a_drill', message: expect.stringContaining('不是演练') });
  expect(await status(cycleWorkflowId(YEAR))).toBe('RUNNING');
  expect((await app.inject({ method: 'DELETE', url: '/api/cycles/2031', headers: ctx.admin })).statusCode).toBe(404);
});

test("a plan carried into today's year starts that year's drill: copy, again, refusals", async () => {
  const app = await ctx.build();
  const thisYear = Number(new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 4)); // Asia/Shanghai
  const plans = (await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.admin })).json<
    {
      id: number;
      year: number;
    }[]
  >();
  const original = plans.find((p) => p.year === YEAR);
  if (!original) throw new Error('the seed plan was imported in beforeAll');
  const copy = await app.inject({
    method: 'POST',
    url: `/api/plans/${original.id}/copy`,
    headers: ctx.admin,
    payload: { year: thisYear },
  });
  expect(copy.statusCode).toBe(201);
  const { id } = copy.json<{ id: number }>();
  expect(copy.json()).toMatchObject({ year: thisYear, derivedFrom: original.id, created: true });
  const again = await app.inject({
    method: 'POST',
    url: `/api/plans/${original.id}/copy`,
    headers: ctx.admin,
    payload: { year: thisYear },
  });
  expect(again.statusCode).toBe(200);
  expect(again.json()).toMatchObject({ id, created: false });
  const stored = (await app.inject({ method: 'GET', url: `/api/plans/${id}`, headers: ctx.admin })).json<{
    year: number;
    title: string;
    workPoints: unknown[];
  }>();
  expect(stored.year).toBe(thisYear);
  expect(stored.title).toContain(`${thisYear}年`);
  expect(stored.workPoints).toHaveLength(29);
  const listed = (await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.admin })).json<
    {
      id: number;
      derivedFrom: number | null;
    }[]
  >();
  expect(listed.find((p) => p.id === id)?.derivedFrom).toBe(original.id);
  const sameYear = await app.inject({
    method: 'POST',
    url: `/api/plans/${original.id}/copy`,
    headers: ctx.admin,
    payload: { year: YEAR },
  });
  expect(sameYear.statusCode).toBe(422);
  const missing = await app.inject({
    method: 'POST',
    url: '/api/plans/999/copy',
    headers: ctx.admin,
    payload: { year: thisYear },
  });
  expect(missing.statusCode).toBe(404);

  // Today's year, a drill that runs from now — then cancelled, leaving the year to the real cycle.
  const drill = await app.inject({
    method: 'POST',
    url: '/api/cycles',
    headers: ctx.admin,
    payload: { year: thisYear, options: DRILL },
  });
  expect(drill.statusCode).toBe(202);
  expect(drill.json()).toMatchObject({ planId: id });
  const listed2 = (await app.inject({ method: 'GET', url: '/api/cycles', headers: ctx.viewer })).json<
    { year: number; drill: boolean }[]
  >();
  expect(listed2.find((c) => c.year === thisYear)?.drill).toBe(true);
  // The reply page of a drill says it is one.
  const token = signLink(parseLinkKeys(TEST_LINK_SECRET), {
    y: thisYear,
    wp: 5,
    u: DEMO_UNIT_DIRECTORY.units.find((u) => u.name === '中川镇')!.id,
    p: 'report',
    per: 'P1',
    exp: Math.floor(Date.now() / 1000) + 3600,
  });
  const page = await app.inject({ method: 'GET', url: `/r/${token}` });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('【演练】');
  expect(page.body).toContain('不计入正式督办');
  expect((await app.inject({ method: 'DELETE', url: `/api/cycles/${thisYear}`, headers: ctx.admin })).statusCode).toBe(
    200,
  );
});
