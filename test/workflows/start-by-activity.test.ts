/**
 * The cycle starts its work points from an activity with the client (not as children) and each work point signals
 * its result back (issue #14). Time-skipping server, the production worker, real PostgreSQL.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { createActivities, type PrepareCycleInput } from '../../activities';
import type { StartWorkPointsInput, StartWorkPointsResult } from '../../activities/start-work-points';
import { savePlan } from '../../db/plans-repo';
import { createToken } from '../../db/tokens-repo';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { annualCycle, workPoint } from '../../workflows';
import {
  cycleProgressQuery,
  cycleWorkflowId,
  rateReviewSignal,
  SA,
  START_SLICE,
  workPointWorkflowId,
} from '../../workflows/shared';
import { bearer, build } from '../helpers/app';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { until } from '../helpers/wait';
import { createTestWorker } from '../helpers/worker';
import { useWorkflowTestContext } from '../helpers/workflow-context';

const EventType = temporal.api.enums.v1.EventType;
const TASK_QUEUE = 'start-by-activity';
const LINK_SECRET = 'test-link-secret-'.padEnd(48, 'x');

const ctx = useWorkflowTestContext(createTimeSkippingEnv);

/**
 * The seed plan's work points repeated to `size`, saved for `year`: those whose units the demo directory resolves
 * whatever their number (园区相关部门 and 园区各相关部门 are chosen per work point number).
 */
async function planOf(year: number, size: number): Promise<number> {
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const seed = parsePlan(text).plan!;
  const anyNumber = seed.workPoints.filter((wp) =>
    [...wp.leadUnits, ...wp.responsibleUnits].every((u) => !u.endsWith('相关部门')),
  );
  const workPoints = Array.from({ length: size }, (_, i) => ({
    ...anyNumber[i % anyNumber.length]!,
    number: i + 1,
  }));
  const { id } = await savePlan(ctx.db.pool, { ...seed, year, workPoints }, `${text}\n${year} × ${size}`, []);
  return id;
}

/** A drill whose first period opens in a minute: nothing is due while the tests run. */
async function drillOptions() {
  return {
    drill: true,
    startedAt: toShanghaiIso(await ctx.env.currentTimeMs()),
    periods: [{ id: 'P1', label: '演练', opens: 'PT1M', due: 'PT10M' }],
    reminderBefore: 'PT2M',
    leadEscalationAfter: 'PT2M',
    officeEscalationAfter: 'PT4M',
    review: { request: 'PT15M', summaryDue: 'PT5M', rating: 'PT5M' },
  };
}

async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await createTestWorker({
    connection: ctx.env.nativeConnection,
    pool: ctx.db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: LINK_SECRET,
  });
  return worker.runUntil(fn);
}

/**
 * The start activity as the worker runs it: in an activity context on TASK_QUEUE, with a client on the worker's
 * NativeConnection (the environment's own client stops and restarts time skipping around every result() it awaits).
 */
function runStart(input: StartWorkPointsInput, heartbeatDetails?: unknown): Promise<StartWorkPointsResult> {
  const activities = createActivities({
    pool: ctx.db.pool,
    publicBaseUrl: 'http://duban.test',
    linkSecret: LINK_SECRET,
  });
  const client = new Client({ connection: ctx.env.nativeConnection, namespace: ctx.env.namespace ?? 'default' });
  return new MockActivityEnvironment({ taskQueue: TASK_QUEUE, heartbeatDetails }, { client }).run(
    (i: StartWorkPointsInput) => activities.startWorkPoints(i),
    input,
  );
}

async function status(workflowId: string): Promise<{ status: string; runId: string } | undefined> {
  try {
    const d = await ctx.env.client.workflow.getHandle(workflowId).describe();
    return { status: d.status.name, runId: d.runId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The cycle's progress once it has one (the query is registered once the cycle is prepared). */
async function progressOf(year: number) {
  try {
    return await ctx.env.client.workflow.getHandle(cycleWorkflowId(year)).query(cycleProgressQuery);
  } catch (err) {
    const text = err instanceof Error ? `${err.message} ${String(err.cause)}` : '';
    if (/did not register a handler for progress/.test(text)) return undefined;
    throw err;
  }
}

const rate = (year: number, n: number) =>
  ctx.env.client.workflow
    .getHandle(workPointWorkflowId(year, n))
    .signal(rateReviewSignal, { rating: '完成', comment: `第${n}条`, by: 'office' });

test('a cycle starts its work points from an activity, slice by slice, and completes with every work point’s signalled result', async () => {
  const year = 2041;
  const size = START_SLICE + 10;
  const planId = await planOf(year, size);
  const options = await drillOptions();
  await withWorker(async () => {
    const cycle = await ctx.env.client.workflow.start(annualCycle, {
      taskQueue: TASK_QUEUE,
      workflowId: cycleWorkflowId(year),
      args: [{ year, planId, options }],
    });
    const progress = await until('every work point started', async () => {
      const p = await progressOf(year);
      return p?.started === size ? p : undefined;
    });
    expect(progress).toMatchObject({ year, started: size, closed: 0 });

    // Each one as its child start would have looked, but on its own: no parent, found by DubanYear.
    const first = await ctx.env.client.workflow.getHandle(workPointWorkflowId(year, 1)).describe();
    expect(first.parentExecution).toBeUndefined();
    expect(first.taskQueue).toBe(TASK_QUEUE);
    expect(first.typedSearchAttributes.get(SA.year)).toBe(year);
    expect(first.typedSearchAttributes.get(SA.workPoint)).toBe(1);
    expect(await first.staticSummary()).toMatch(/^【演练】1\. /);
    for (let n = 1; n <= size; n++) expect((await status(workPointWorkflowId(year, n)))?.status).toBe('RUNNING');

    for (let n = 1; n <= size; n++) await rate(year, n);
    const result = await cycle.result();
    expect(result.workPoints.map((r) => [r.number, r.rating])).toEqual(
      Array.from({ length: size }, (_, i) => [i + 1, '完成']),
    );
    expect(await cycle.query(cycleProgressQuery)).toMatchObject({ started: size, closed: size });
    const { rows } = await ctx.db.pool.query('SELECT result FROM cycles WHERE year = $1', [year]);
    expect(rows[0].result.workPoints).toHaveLength(size);

    // The cycle's history: one start activity per slice, a signal per work point, no child at all.
    const events = (await cycle.fetchHistory()).events ?? [];
    const count = (t: temporal.api.enums.v1.EventType) => events.filter((e) => e.eventType === t).length;
    expect(count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)).toBe(0);
    const activities = events
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
    expect(activities.filter((a) => a === 'startWorkPoints')).toHaveLength(Math.ceil(size / START_SLICE));
    const signals = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    expect(signals.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)).toEqual(
      Array.from({ length: size }, () => 'workPointClosed'),
    );

    // Started again (a re-run of a slice after the cycle closed): nothing starts twice, and the closed work points'
    // results are offered again (the cycle is gone: nobody takes them).
    const before = await Promise.all(Array.from({ length: size }, (_, i) => status(workPointWorkflowId(year, i + 1))));
    const again = await runStart({
      year,
      numbers: Array.from({ length: size }, (_, i) => i + 1),
      cycleWorkflowId: cycleWorkflowId(year),
      drill: true,
    });
    expect(again).toEqual({ started: size, resent: size });
    const after = await Promise.all(Array.from({ length: size }, (_, i) => status(workPointWorkflowId(year, i + 1))));
    expect(after).toEqual(before);
    expect(after.every((s) => s?.status === 'COMPLETED')).toBe(true);
  });
}, 240_000);

test('the start activity run twice for the same slice starts each work point once; a retry resumes after its heartbeat', async () => {
  const year = 2042;
  const planId = await planOf(year, 6);
  const options = await drillOptions();
  // The cycle's records as its prepare activity leaves them; no cycle workflow runs (nothing takes the results).
  const prepared: { numbers: number[] } = await new MockActivityEnvironment({
    workflowExecution: { workflowId: cycleWorkflowId(year), runId: randomUUID() },
  }).run(
    (i: PrepareCycleInput) =>
      createActivities({
        pool: ctx.db.pool,
        publicBaseUrl: 'http://duban.test',
        linkSecret: LINK_SECRET,
      }).prepareCycleRecorded(i),
    { year, planId, options, workflowId: cycleWorkflowId(year) },
  );
  expect(prepared.numbers).toEqual([1, 2, 3, 4, 5, 6]);
  const slice = { year, cycleWorkflowId: cycleWorkflowId(year), drill: true };
  const ids = [1, 2, 3, 4, 5, 6].map((n) => workPointWorkflowId(year, n));

  // A retry whose last attempt got through the first two (its heartbeat) starts only the rest.
  expect(await runStart({ ...slice, numbers: [1, 2, 3, 4] }, { done: 2 })).toEqual({ started: 4, resent: 0 });
  expect((await Promise.all(ids.map(status))).map((s) => s?.status)).toEqual([
    undefined,
    undefined,
    'RUNNING',
    'RUNNING',
    undefined,
    undefined,
  ]);
  const once = await Promise.all(ids.slice(2, 4).map(status));

  expect(await runStart({ ...slice, numbers: [1, 2, 3, 4, 5, 6] })).toEqual({ started: 6, resent: 0 });
  const first = await Promise.all(ids.map(status));
  expect(first.slice(2, 4)).toEqual(once);
  expect(await runStart({ ...slice, numbers: [1, 2, 3, 4, 5, 6] })).toEqual({ started: 6, resent: 0 });
  expect(await Promise.all(ids.map(status))).toEqual(first);
  for (const id of ids) {
    const events = (await ctx.env.client.workflow.getHandle(id).fetchHistory()).events ?? [];
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)).toHaveLength(1);
    const input = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(ctx.env.client.options.loadedDataConverter.payloadConverter.fromPayload(input!)).toMatchObject({
      cycleYear: year,
      cycleWorkflowId: cycleWorkflowId(year),
    });
  }
  for (const id of ids) await ctx.env.client.workflow.getHandle(id).terminate('test over');
});

test('a work point whose cycle is gone still completes with its result', async () => {
  const year = 2043;
  const planId = await planOf(year, 1);
  const options = await drillOptions();
  const goneCycle = `cycle-gone-${randomUUID()}`;
  await withWorker(async () => {
    // A cycle that ended (terminated) before its work point's result was final.
    const cycle = await ctx.env.client.workflow.start(annualCycle, {
      taskQueue: 'nobody-polls-this',
      workflowId: goneCycle,
      args: [{ year, planId, options }],
    });
    await cycle.terminate('gone');
    const prepared = await createActivities({
      pool: ctx.db.pool,
      publicBaseUrl: 'http://duban.test',
      linkSecret: LINK_SECRET,
    }).prepareCycle({ year, planId, options, workflowId: goneCycle });
    const input = { ...prepared.workPoints[0]!, cycleWorkflowId: goneCycle };
    const handle = await ctx.env.client.workflow.start(workPoint, {
      taskQueue: TASK_QUEUE,
      workflowId: workPointWorkflowId(year, 1),
      args: [input],
    });
    await handle.signal(rateReviewSignal, { rating: '基本完成', comment: '', by: 'office' });
    expect(await handle.result()).toMatchObject({ number: 1, rating: '基本完成' });
    const events = (await handle.fetchHistory()).events ?? [];
    expect(
      events.filter((e) => e.eventType === EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED),
    ).toHaveLength(1);
  });
});

test('cancelling a drill started this way terminates its work points, which are not the cycle’s children', async () => {
  const year = 2044;
  await planOf(year, 29);
  const { token } = await createToken(ctx.db.pool, { name: 'test-admin', role: 'admin' });
  const app = await build({ pool: ctx.db.pool, temporal: ctx.env.client }, { TEMPORAL_TASK_QUEUE: TASK_QUEUE });
  const { startedAt: _, ...options } = await drillOptions();
  await withWorker(async () => {
    const started = await app.inject({
      method: 'POST',
      url: '/api/cycles',
      headers: bearer(token),
      payload: { year, options },
    });
    expect(started.statusCode).toBe(202);
    await until('the drill’s work points started', async () =>
      (await progressOf(year))?.started === 29 ? true : undefined,
    );
    const cancelled = await app.inject({ method: 'DELETE', url: `/api/cycles/${year}`, headers: bearer(token) });
    expect(cancelled.statusCode).toBe(200);
    const ids = Array.from({ length: 29 }, (_, i) => workPointWorkflowId(year, i + 1));
    expect(cancelled.json<{ terminated: string[] }>().terminated.sort()).toEqual(
      [cycleWorkflowId(year), ...ids].sort(),
    );
    for (const id of [cycleWorkflowId(year), ...ids]) expect((await status(id))?.status).toBe('TERMINATED');
  });
});
