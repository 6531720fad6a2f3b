/**
 * POST/GET /api/cycles against a time-skipping Temporal server. The app never runs workers; where a
 * cycle must actually start its work points, the test runs a real worker with the real activities.
 * The tests of this file build on each other (refusals first, then the start, then what follows it).
 */
import { readFileSync } from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { cycleWorkflowId, workPointWorkflowId } from '../../workflows/shared';
import { TEST_LINK_SECRET, useApiTestContext } from '../helpers/app';
import { createTestWorker } from '../helpers/worker';

const ctx = useApiTestContext();
const TASK_QUEUE = 'api-cycles-test';
const YEAR = 2023;
const WP_IDS = Array.from({ length: 29 }, (_, i) => workPointWorkflowId(YEAR, i + 1));

let planId: number;

function startCycle(app: FastifyInstance, body: object, headers = ctx.admin) {
  return app.inject({ method: 'POST', url: '/api/cycles', headers, payload: body });
}

async function putUnits(app: FastifyInstance, units = DEMO_UNIT_DIRECTORY.units): Promise<void> {
  const res = await app.inject({
    method: 'PUT',
    url: '/api/units',
    headers: ctx.admin,
    payload: { units, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections },
  });
  expect(res.statusCode).toBe(200);
}

async function workflowExists(workflowId: string): Promise<boolean> {
  try {
    await ctx.env.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const build = () => ctx.build({ TEMPORAL_TASK_QUEUE: TASK_QUEUE });

describe('POST /api/cycles refuses what cannot start, and starts nothing', () => {
  afterEach(async () => {
    expect(await workflowExists(cycleWorkflowId(YEAR))).toBe(false);
  });

  test('without a plan for the year: 422 plan_missing', async () => {
    const app = await build();
    const res = await startCycle(app, { year: YEAR });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'plan_missing',
      message: expect.stringContaining('POST /api/plans'),
    });
  });

  test('with a plan but no unit directory at all: 422 directory_incomplete, not a 500', async () => {
    const app = await build();
    const imported = await app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: { ...ctx.admin, 'content-type': 'text/plain' },
      payload: readFileSync(SEED_PLAN_PATH, 'utf8'),
    });
    expect(imported.statusCode).toBe(201);
    planId = imported.json().id;
    const res = await startCycle(app, { year: YEAR });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('directory_incomplete');
  });

  test('with a directory that cannot resolve every unit: 422 listing the problems', async () => {
    const app = await build();
    await putUnits(
      app,
      DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind !== 'community'),
    );
    const res = await startCycle(app, { year: YEAR });
    expect(res.statusCode).toBe(422);
    const { error } = res.json();
    expect(error.code).toBe('unresolved_assignees');
    expect(error.message).toContain('各中心社区');
    expect(error.details.length).toBeGreaterThan(0);
    expect(error.details[0]).toMatchObject({ code: 'EMPTY_GROUP', name: '各中心社区', workPoint: expect.any(Number) });
  });

  test('with invalid options: 422 invalid_options naming the option', async () => {
    const app = await build();
    await putUnits(app);
    const bad = await startCycle(app, { year: YEAR, options: { reminderBefore: 'soon' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error).toMatchObject({
      code: 'invalid_options',
      details: [expect.objectContaining({ path: 'options.reminderBefore' })],
    });
    const typo = await startCycle(app, { year: YEAR, options: { reminderBefor: 'P1D' } });
    expect(typo.statusCode).toBe(422);
    expect(typo.json().error.message).toContain('"reminderBefor"');
    // Deeper down too: a misspelt key inside a period is refused, not silently replaced by a default.
    const deep = await startCycle(app, {
      year: YEAR,
      options: { periods: [{ id: 'H1', label: '上半年', due: '07-10', remindBefore: 'P2D' }] },
    });
    expect(deep.statusCode).toBe(422);
    expect(deep.json().error).toMatchObject({
      code: 'invalid_options',
      details: [
        expect.objectContaining({ path: 'options.periods.0', message: expect.stringContaining('remindBefore') }),
      ],
    });
  });

  test('an unknown field or query parameter is 422 naming it and suggesting the field meant', async () => {
    const app = await build();
    await putUnits(app);
    const res = await startCycle(app, { year: YEAR, option: { reminderBefore: 'P1D' } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'unknown_field',
      message: expect.stringMatching(
        /^请求含有无法识别的字段，未做任何处理 — body: 未知字段 "option"（是否应为 "options"？）/,
      ),
      details: [{ where: 'body', unknown: ['option'], message: expect.stringContaining('did you mean "options"?') }],
    });
    const query = await app.inject({
      method: 'POST',
      url: '/api/cycles?dryRun=true',
      headers: ctx.admin,
      payload: { year: YEAR },
    });
    expect(query.statusCode).toBe(422);
    expect(query.json().error.details).toEqual([
      expect.objectContaining({ where: 'querystring', unknown: ['dryRun'] }),
    ]);
  });

  test('a malformed body is 400; an unknown plan id is 404; a viewer is 403', async () => {
    const app = await build();
    expect((await startCycle(app, { year: 'next' })).statusCode).toBe(400);
    expect((await startCycle(app, {})).statusCode).toBe(400);
    const unknownPlan = await startCycle(app, { year: YEAR, planId: 987654 });
    expect(unknownPlan.statusCode).toBe(404);
    expect(unknownPlan.json().error.code).toBe('plan_not_found');
    expect((await startCycle(app, { year: YEAR }, ctx.viewer)).statusCode).toBe(403);
  });
});

describe('starting the cycle', () => {
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    worker = await createTestWorker({
      connection: ctx.env.nativeConnection,
      pool: ctx.db.pool,
      taskQueue: TASK_QUEUE,
      linkSecret: TEST_LINK_SECRET,
    });
    running = worker.run();
  }, 60_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
  });

  test('202 with the 29 work point workflow IDs, and the workflows exist on the server', async () => {
    const app = await build();
    const res = await startCycle(app, { year: YEAR });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({
      year: YEAR,
      planId,
      workflowId: 'cycle-2023',
      runId: expect.any(String),
      temporalUi: expect.stringContaining('/workflows/cycle-2023/'),
    });
    expect(body.workPoints).toEqual(WP_IDS);
    expect(await workflowExists('cycle-2023')).toBe(true);
    await until('the 29 work point workflows', async () =>
      (await Promise.all(WP_IDS.map(workflowExists))).every(Boolean),
    );
  });

  test('the same year again is 409 with the existing run, and no second run is started', async () => {
    const app = await build();
    const first = await ctx.env.client.workflow.getHandle('cycle-2023').describe();
    const res = await startCycle(app, { year: YEAR });
    expect(res.statusCode).toBe(409);
    const body = res.json();
    expect(body).toMatchObject({
      error: { code: 'cycle_exists', message: expect.stringContaining('2023') },
      year: YEAR,
      planId,
      workflowId: 'cycle-2023',
      runId: first.runId,
    });
    expect(body.workPoints).toEqual(WP_IDS);
    expect((await ctx.env.client.workflow.getHandle('cycle-2023').describe()).runId).toBe(first.runId);
  });

  test('GET /api/cycles lists the started cycle', async () => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: '/api/cycles', headers: ctx.viewer });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      expect.objectContaining({
        year: YEAR,
        planId,
        workflowId: 'cycle-2023',
        runId: expect.any(String),
        workPoints: 29,
        lights: expect.objectContaining({ green: expect.any(Number) }),
        drill: false,
      }),
    ]);
  });

  test('GET /api/cycles/:year shows the cycle; a year without a cycle is 404; a non-year is 400', async () => {
    const app = await build();
    await until('the status projection of every work point', async () => {
      const { rows } = await ctx.db.pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM work_point_status WHERE cycle_year = $1',
        [YEAR],
      );
      return Number(rows[0]?.n) === 29;
    });
    const res = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}`, headers: ctx.viewer });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ workPoints: { workflowId: string }[] }>();
    expect(body).toMatchObject({ year: YEAR, workflowId: 'cycle-2023', temporalUi: expect.any(String) });
    expect(body.workPoints.map((w) => w.workflowId)).toEqual(WP_IDS);

    const missing = await app.inject({ method: 'GET', url: '/api/cycles/2024', headers: ctx.viewer });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('cycle_not_found');
    for (const url of [
      '/api/cycles/abc',
      '/api/cycles/99999999999',
      '/api/cycles/2023.0',
      `/api/cycles/${YEAR}/work-points/0`,
    ]) {
      expect((await app.inject({ method: 'GET', url, headers: ctx.viewer })).statusCode).toBe(400);
    }
    const unknown = await app.inject({
      method: 'GET',
      url: `/api/cycles/${YEAR}/work-points/1?lvie=true`,
      headers: ctx.viewer,
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.message).toContain('(did you mean "live"?)');
  });
});
