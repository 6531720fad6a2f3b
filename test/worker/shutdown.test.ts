/**
 * Stopping a worker while the dispatcher's delivery pass is busy (the launcher's Ctrl-C, a deploy): the pass
 * stops before its next send and leaves the rest queued, so the worker drains within its grace period instead
 * of sending everything first and being killed mid-send. Real parts: the worker as production assembles it,
 * the dispatcher workflow, PostgreSQL, and a webhook that answers slowly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { loadWorkerConfig } from '../../config';
import { DEFAULT_DELIVERY_POLICY } from '../../domain/delivery-time';
import { parseInstant } from '../../domain/schedule';
import type { NoticeRequest } from '../../domain/model';
import { createWorker } from '../../worker/create-worker';
import { ensureDispatcher } from '../../worker/dispatcher';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTimeSkippingEnv, workflowBundle } from '../helpers/temporal';
import { until } from '../helpers/wait';

const TASK_QUEUE = 'worker-shutdown-test';
const LINK_SECRET = 'shutdown-test-secret-'.padEnd(40, 'x');
const GRACE_MS = 5_000;
const NOTICES = 40;
/** Each webhook request takes this long: the whole pass would need NOTICES × SLOW_MS = 12 s, over the grace. */
const SLOW_MS = 300;

let db: TestDatabase;
let env: TestWorkflowEnvironment;
let hook: Server;
let hookUrl = '';
let received = 0;

beforeAll(async () => {
  [db, env] = await Promise.all([createTestDatabase(), createTimeSkippingEnv()]);
  hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      setTimeout(() => res.writeHead(204).end(), SLOW_MS);
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', () => resolve()));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
}, 60_000);

afterAll(async () => {
  await env?.teardown();
  await db?.drop();
  hook?.closeAllConnections();
  await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
});

function notice(i: number): NoticeRequest {
  return {
    key: `shutdown-test:${i}`,
    workflowId: 'wp-2025-01',
    cycleYear: 2025,
    workPoint: 1,
    workPointTitle: '持续优化政务服务体系',
    unitId: 'office',
    kind: 'escalation-office',
    periodId: 'H1',
    periodLabel: '上半年',
    dueAt: parseInstant('2025-03-14T18:00:00+08:00'),
    scheduledFor: parseInstant('2025-03-20T10:00:00+08:00') + i * 60_000,
    link: 'none',
    aboutUnits: [{ id: 'town', name: '中川镇' }],
  };
}

test('a worker shut down mid-delivery stops before its next send, within its grace; the unsent notices stay queued', async () => {
  await db.pool.query(
    `INSERT INTO units (id, name, kind, contacts) VALUES ('office', '园区依法治区办', 'office', $1)`,
    [JSON.stringify([{ channel: 'webhook', address: hookUrl }])],
  );
  // Office escalations bypass the digest: one webhook request per notice.
  await createActivities({
    pool: db.pool,
    publicBaseUrl: 'http://duban.test',
    linkSecret: LINK_SECRET,
    delivery: { policy: { ...DEFAULT_DELIVERY_POLICY, quietHours: null } },
  }).notify(Array.from({ length: NOTICES }, (_, i) => notice(i)));

  const worker = await createWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    workflowBundle: await workflowBundle(),
    config: loadWorkerConfig({
      DATABASE_URL: db.url,
      LINK_SECRET,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      QUIET_HOURS: 'off',
    }),
  });
  const running = worker.run();
  await ensureDispatcher(env.client, TASK_QUEUE);
  await until('the delivery pass to be sending', () => (received >= 2 ? true : undefined));

  const stopAt = Date.now();
  worker.shutdown();
  await running;
  const stoppedAfterMs = Date.now() - stopAt;

  expect(stoppedAfterMs).toBeLessThan(GRACE_MS);
  const { rows } = await db.pool.query<{ status: string; attempts: number; n: number }>(
    'SELECT status, attempts, count(*)::int AS n FROM outbox GROUP BY status, attempts ORDER BY status',
  );
  const sent = rows.find((r) => r.status === 'sent')?.n ?? 0;
  // Every request the webhook received was recorded as sent; nothing is left claimed ('sending'), which would
  // otherwise be settled as "outcome unknown" and never resent; the rest waits, unattempted, for the next worker.
  expect(sent).toBe(received);
  expect(sent).toBeLessThan(NOTICES);
  expect(rows).toEqual([
    { status: 'pending', attempts: 0, n: NOTICES - sent },
    { status: 'sent', attempts: 1, n: sent },
  ]);
}, 60_000);
