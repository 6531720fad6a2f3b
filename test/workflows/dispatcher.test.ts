import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { DeliveryLogger } from '../../activities/delivery';
import { DEFAULT_DELIVERY_POLICY } from '../../domain/delivery-time';
import { ensureDispatcher } from '../../worker/dispatcher';
import type { NoticeRequest } from '../../domain/model';
import { dispatcher, DISPATCHER_WORKFLOW_ID, dispatchNowSignal } from '../../workflows/dispatcher';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTimeSkippingEnv, workflowBundle } from '../helpers/temporal';

const MINUTE = 60_000;
const TASK_QUEUE = 'dispatcher-test';

let env: TestWorkflowEnvironment;
let db: TestDatabase;
const delivered: { message: string; at: number }[] = [];

beforeAll(async () => {
  [env, db] = await Promise.all([createTimeSkippingEnv(), createTestDatabase()]);
  await db.pool.query(
    `INSERT INTO units (id, name, kind, contacts) VALUES ('jingfa', '经发局', 'department', '[{"channel":"log","address":"jingfa"}]')`,
  );
}, 120_000);

afterAll(async () => {
  await env?.teardown();
  await db?.drop();
});

function makeActivities() {
  const logger: DeliveryLogger = {
    // The log channel's delivery is this line; the test server's clock says when it happened.
    info: (message) => void env.currentTimeMs().then((at) => delivered.push({ message, at })),
    warn: () => undefined,
  };
  return createActivities({
    pool: db.pool,
    publicBaseUrl: 'http://duban.test',
    linkSecret: 'test-secret-test-secret-test-secret',
    // The test server's clock starts at the real time of day: without quiet hours the result does not depend on it.
    delivery: { logger, policy: { ...DEFAULT_DELIVERY_POLICY, quietHours: null } },
  });
}

const notice = (key: string, scheduledFor: number): NoticeRequest => ({
  key,
  workflowId: 'wp-2099-06',
  cycleYear: 2099,
  workPoint: 6,
  workPointTitle: '持续优化政务服务体系',
  unitId: 'jingfa',
  kind: 'escalation-office',
  periodId: 'H1',
  periodLabel: '上半年',
  scheduledFor,
  aboutUnits: [{ id: 'zhongchuan-zhen', name: '中川镇' }],
  link: 'none',
});

async function status(key: string) {
  const { rows } = await db.pool.query<{ status: string; delivered_at: Date | null; deliver_after: Date }>(
    'SELECT status, delivered_at, deliver_after FROM outbox WHERE idempotency_key = $1',
    [key],
  );
  return rows[0];
}

test('the dispatcher delivers due rows on its interval, once, and later rows when they fall due', async () => {
  const activities = makeActivities();
  // Not createTestWorker: the activities carry a logger that records each delivery on the test server's clock.
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities,
  });
  await worker.runUntil(async () => {
    const start = await env.currentTimeMs();
    await activities.notify([notice('soon', start + 10 * MINUTE), notice('later', start + 3 * 60 * MINUTE)]);

    const handle = await ensureDispatcher(env.client, TASK_QUEUE, { intervalMs: MINUTE });
    // A second worker booting finds the same run and leaves it alone.
    const again = await ensureDispatcher(env.client, TASK_QUEUE, { intervalMs: MINUTE });
    expect(handle.workflowId).toBe(DISPATCHER_WORKFLOW_ID);
    expect(again.signaledRunId).toBe(handle.signaledRunId);

    await env.sleep(5 * MINUTE);
    expect((await status('soon'))?.status).toBe('pending');

    await env.sleep(7 * MINUTE);
    const soon = await status('soon');
    expect(soon?.status).toBe('sent');
    // Sent by the first pass at or after its deliver_after: within one interval (plus the pass itself).
    const lag = soon!.delivered_at!.getTime() - soon!.deliver_after.getTime();
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThanOrEqual(MINUTE + 5_000);
    expect((await status('later'))?.status).toBe('pending');

    await env.sleep(3 * 60 * MINUTE);
    expect((await status('later'))?.status).toBe('sent');
    expect(delivered.filter((d) => d.message.includes('【通报】'))).toHaveLength(2);

    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    await handle.terminate('test done');
  });
});

test('the dispatcher continues as new after its pass budget, so its history stays short, and keeps running', async () => {
  // Not createTestWorker: the activities carry a logger that records each delivery on the test server's clock.
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: makeActivities(),
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(dispatcher, {
      taskQueue: TASK_QUEUE,
      workflowId: `${DISPATCHER_WORKFLOW_ID}-can`,
      args: [{ intervalMs: 2 * MINUTE, passesPerRun: 3 }],
    });
    const firstRun = handle.firstExecutionRunId;
    await env.sleep(15 * MINUTE);
    const latest = env.client.workflow.getHandle(handle.workflowId);
    const d = await latest.describe();
    expect(d.status.name).toBe('RUNNING');
    expect(d.runId).not.toBe(firstRun);
    // 15 minutes at a 2-minute interval with 3 passes per run: at least two continue-as-new hops.
    const history = await latest.fetchHistory();
    expect(history.events?.length ?? 0).toBeLessThan(60);
    await latest.terminate('test done');
  });
});

test('the dispatchNow signal runs a pass at once instead of at the next interval', async () => {
  const activities = makeActivities();
  // Not createTestWorker: the activities carry a logger that records each delivery on the test server's clock.
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities,
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(dispatcher, {
      taskQueue: TASK_QUEUE,
      workflowId: `${DISPATCHER_WORKFLOW_ID}-now`,
      args: [{ intervalMs: 6 * 60 * MINUTE }],
    });
    // Let the first pass run and the six-hour wait begin.
    await env.sleep(MINUTE);
    const start = await env.currentTimeMs();
    await activities.notify([notice('now', start)]);
    await handle.signal(dispatchNowSignal);
    for (let i = 0; i < 50 && (await status('now'))?.status !== 'sent'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await status('now'))?.status).toBe('sent');
    expect((await env.currentTimeMs()) - start).toBeLessThan(60 * MINUTE);
    await handle.terminate('test done');
  });
});
