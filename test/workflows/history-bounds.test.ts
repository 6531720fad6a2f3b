/**
 * History bounds: the worst case the README quotes — one work point with 60 units and 4 periods,
 * every unit reporting on its own (one workflow task each), a third never reporting (so every
 * reminder, overdue notice and escalation fires). Every run must stay under Temporal's warning
 * thresholds (10,240 events, 10 MB); the workflow continues as new before that.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { importDirectory } from '../../db/units-repo';
import { UnitDirectorySchema } from '../../domain/units';
import { type CycleSchedule, type UnitRef, type WorkPointInput } from '../../domain/model';
import { rateReviewSignal, reportSignal } from '../../workflows/shared';
import { workPoint } from '../../workflows/work-point';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { createTestWorker } from '../helpers/worker';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const TASK_QUEUE = 'bounds-test';
const UNITS = 60;
const PERIODS = 4;

let env: TestWorkflowEnvironment;
let db: TestDatabase;

beforeAll(async () => {
  [env, db] = await Promise.all([createTimeSkippingEnv(), createTestDatabase()]);
  const extra = Array.from({ length: UNITS }, (_, i) => ({
    id: `bench-unit-${i + 1}`,
    name: `测试单位${i + 1}`,
    kind: 'department' as const,
    contacts: [{ channel: 'log' as const, address: `bench-unit-${i + 1}` }],
  }));
  await importDirectory(db.pool, UnitDirectorySchema.parse({ units: [...DEMO_UNIT_DIRECTORY.units, ...extra] }));
}, 120_000);

afterAll(async () => {
  await env?.teardown();
  await db?.drop();
});

test(`a work point with ${UNITS} units × ${PERIODS} periods stays under the history warning thresholds in every run`, async () => {
  const start = await env.currentTimeMs();
  const periods = Array.from({ length: PERIODS }, (_, i) => {
    const opensAt = start + i * 90 * DAY;
    const dueAt = opensAt + 80 * DAY;
    return {
      id: `Q${i + 1}`,
      label: `第${i + 1}季度`,
      opensAt,
      dueAt,
      reminderAt: dueAt - 3 * DAY,
      overdueNoticeAt: dueAt,
      leadEscalationAt: dueAt + 3 * DAY,
      officeEscalationAt: dueAt + 5 * DAY,
    };
  });
  const requestAt = start + 365 * DAY;
  const schedule: CycleSchedule = {
    periods,
    review: {
      requestAt,
      summaryReminderAt: requestAt + 10 * DAY,
      summaryDueAt: requestAt + 15 * DAY,
      officeEscalationAt: requestAt + 20 * DAY,
      ratingDueAt: requestAt + 30 * DAY,
    },
  };
  const units: UnitRef[] = Array.from({ length: UNITS }, (_, i) => ({
    id: `bench-unit-${i + 1}`,
    name: `测试单位${i + 1}`,
  }));
  const office = DEMO_UNIT_DIRECTORY.units.find((u) => u.kind === 'office')!;
  const input: WorkPointInput = {
    cycleYear: 2099,
    planId: 0,
    number: 1,
    section: '一',
    title: '历史长度最坏情形',
    leadUnits: [units[0]!, units[1]!],
    responsibleUnits: units,
    office: { id: office.id, name: office.name },
    schedule,
  };
  const workflowId = 'wp-bounds-worst-case';
  const worker = await createTestWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: 'x'.repeat(40),
  });
  const runs = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(workPoint, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    // A second copy continues as new every 300 events: the state it carries must lose nothing.
    const chained = await env.client.workflow.start(workPoint, {
      taskQueue: TASK_QUEUE,
      workflowId: `${workflowId}-chained`,
      args: [{ ...input, continueAsNewAfterEvents: 300 }],
    });
    for (const p of periods) {
      await env.sleep(p.opensAt + DAY - (await env.currentTimeMs()));
      // Two thirds report, each in its own workflow task (the server time advances between them).
      for (const [i, u] of units.entries()) {
        if (i % 3 === 2) continue;
        for (const h of [handle, chained]) {
          await h.signal(reportSignal, {
            unitId: u.id,
            periodId: p.id,
            submissionId: `${h.workflowId}-${p.id}-${u.id}`,
            text: '进展'.repeat(200),
            submittedAt: await env.currentTimeMs(),
          });
        }
        await env.sleep(HOUR);
      }
    }
    await env.sleep(requestAt + DAY - (await env.currentTimeMs()));
    await handle.signal(rateReviewSignal, { rating: '基本完成', comment: '最坏情形', by: 'office' });
    await chained.signal(rateReviewSignal, { rating: '基本完成', comment: '最坏情形', by: 'office' });
    // One result at a time: two concurrent result() calls of the time-skipping client each unlock time skipping,
    // and the server then sometimes skips past a workflow still processing its last signal, to the default
    // execution timeout ("Workflow execution timed out"; 4 of 8 runs with continue-as-new every 120 events,
    // 0 of 24 awaiting one at a time — with activities or local activities alike).
    const continued = await chained.result();
    const plain = await handle.result();
    // Same outcome with and without continue-as-new, and the chain really continued.
    expect(continued.outcomes).toEqual(plain.outcomes);
    expect(continued.escalations).toEqual(plain.escalations);
    const chainDescription = await chained.describe();
    expect(chainDescription.runId).not.toBe(chained.firstExecutionRunId);
    const notices = async (id: string) =>
      (
        await db.pool.query<{ k: string }>(
          "SELECT kind || ' ' || unit_id || ' ' || coalesce(period, '') || ' ' || scheduled_for AS k FROM outbox WHERE workflow_id = $1 ORDER BY 1",
          [id],
        )
      ).rows.map((r) => r.k);
    expect(await notices(chained.workflowId)).toEqual(await notices(workflowId));

    // Walk the continue-as-new chain back from the last run.
    const sizes: { events: number; bytes: number }[] = [];
    let runId: string | undefined = (await handle.describe()).runId;
    while (runId) {
      const d = await env.client.workflow.getHandle(workflowId, runId).describe();
      // The test server does not report historySizeBytes: measure the encoded history itself.
      const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      sizes.unshift({
        events: d.historyLength,
        bytes: temporal.api.history.v1.History.encode(history).finish().length,
      });
      const first: {
        history?: {
          events?:
            { workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string | null } | null }[] | null;
        } | null;
      } = await env.client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId, runId },
        maximumPageSize: 1,
      });
      runId = first.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    return sizes;
  });
  const total = runs.reduce((n, r) => n + r.events, 0);
  console.log(
    `history bounds (${UNITS} units × ${PERIODS} periods): ${runs.length} run(s), events per run ${runs.map((r) => r.events).join(' + ')} = ${total}, bytes per run ${runs.map((r) => `${(r.bytes / 1e6).toFixed(1)} MB`).join(', ')}`,
  );
  for (const r of runs) {
    expect(r.events).toBeLessThan(10_240);
    expect(r.bytes).toBeLessThan(10 * 1024 * 1024);
  }
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reports WHERE workflow_id = $1', [
    workflowId,
  ]);
  expect(rows[0]!.n).toBe(PERIODS * units.filter((_, i) => i % 3 !== 2).length);
}, 300_000);
