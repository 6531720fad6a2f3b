/**
 * What a work point asks of the server per wake-up: a report leaves the milestone timer armed (no cancel and
 * re-arm per message), and a catch-up — a schedule whose milestones have all passed — writes its hundreds of notices
 * through activities scheduled on the server, in bounded batches, not inside one long workflow task.
 */
import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import { type CycleSchedule, type PersistBatch, type WorkPointInput } from '../../domain/model';
import { submitReportUpdate } from '../../workflows/shared';
import { workPoint } from '../../workflows/work-point';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { createTestWorker } from '../helpers/worker';
import { tenDayPeriod } from '../helpers/schedule';
import { until } from '../helpers/wait';
import { demoUnit, useWorkflowTestContext } from '../helpers/workflow-context';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const TASK_QUEUE = 'lean-loop-test';

const ctx = useWorkflowTestContext(createTimeSkippingEnv);
const office = demoUnit('园区依法治区办');
const lead = demoUnit('经发局');

const period = (id: string, opensAt: number) => tenDayPeriod(id, id, opensAt);

function schedule(periods: CycleSchedule['periods'], reviewAt: number): CycleSchedule {
  return {
    periods,
    review: {
      requestAt: reviewAt,
      summaryReminderAt: reviewAt + DAY,
      summaryDueAt: reviewAt + 2 * DAY,
      officeEscalationAt: reviewAt + 3 * DAY,
      ratingDueAt: reviewAt + 4 * DAY,
    },
  };
}

const input = (responsible: WorkPointInput['responsibleUnits'], s: CycleSchedule): WorkPointInput => ({
  cycleYear: 2099,
  planId: 0,
  number: 3,
  section: '一',
  title: '测试要点',
  leadUnits: [lead],
  responsibleUnits: responsible,
  office,
  schedule: s,
});

async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await createTestWorker({
    connection: ctx.env.nativeConnection,
    pool: ctx.db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: 'lean-loop-secret-'.padEnd(40, 'x'),
  });
  return worker.runUntil(fn);
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const count = (events: HistoryEvent[], pick: (e: HistoryEvent) => unknown) => events.filter((e) => pick(e)).length;

test('reports that leave the next milestone where it was leave its timer armed', async () => {
  const start = await ctx.env.currentTimeMs();
  const units = ['中川镇', '综合办', '财政局'].map(demoUnit);
  const workflowId = `wp-lean-${randomUUID()}`;
  const s = schedule([period('H1', start)], start + 60 * DAY);
  await withWorker(async () => {
    const handle = await ctx.env.client.workflow.start(workPoint, {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [input(units, s)],
    });
    for (const [i, u] of units.entries()) {
      await handle.executeUpdate(submitReportUpdate, {
        args: [{ unitId: u.id, periodId: 'H1', submissionId: `s-${i}`, text: '进展', submittedAt: start }],
      });
    }
    const events = (await handle.fetchHistory()).events ?? [];
    // One timer, for the reminder, armed before the first report and still armed after the third.
    expect(count(events, (e) => e.timerStartedEventAttributes)).toBe(1);
    expect(count(events, (e) => e.timerCanceledEventAttributes)).toBe(0);
    expect(count(events, (e) => e.workflowExecutionUpdateCompletedEventAttributes)).toBe(3);
  });
});

test('a schedule whose milestones have all passed sends every notice once, in bounded batches outside the workflow task', async () => {
  const now = await ctx.env.currentTimeMs();
  // Twelve monthly periods that ended months ago, twelve units: 12 × 12 × 5 = 720 notices at once.
  const first = now - 400 * DAY;
  const periods = Array.from({ length: 12 }, (_, i) => period(`M${i + 1}`, first + i * 30 * DAY));
  const units = DEMO_UNIT_DIRECTORY.units
    .filter((u) => u.id !== office.id && u.id !== lead.id)
    .slice(0, 12)
    .map((u) => ({ id: u.id, name: u.name }));
  expect(units).toHaveLength(12);
  const workflowId = `wp-catch-up-${randomUUID()}`;
  await withWorker(async () => {
    const handle = await ctx.env.client.workflow.start(workPoint, {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [input(units, schedule(periods, now + 30 * DAY))],
    });
    const outbox = async () =>
      (
        await ctx.db.pool.query<{ kind: string; n: number }>(
          'SELECT kind, count(*)::int AS n FROM outbox WHERE workflow_id = $1 GROUP BY kind ORDER BY kind',
          [workflowId],
        )
      ).rows;
    const total = async () => (await outbox()).reduce((sum, r) => sum + r.n, 0);
    await until('every notice of the catch-up', async () => ((await total()) >= 720 ? true : undefined));
    const events = (await handle.fetchHistory()).events ?? [];
    const converter = ctx.env.client.options.loadedDataConverter.payloadConverter;
    const batches = events
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'persist')
      .map((a) => converter.fromPayload<PersistBatch>(a!.input!.payloads![0]!));
    const rows = batches.map((b) => (b.notices?.length ?? 0) + (b.reports?.length ?? 0));
    expect(rows).toEqual([500, 220]);
    // Each of the 144 obligations (12 units × 12 months) once per milestone.
    const kinds = ['assignment', 'escalation-lead', 'escalation-office', 'overdue', 'reminder'];
    expect(await outbox()).toEqual(kinds.map((kind) => ({ kind, n: 144 })));
    expect(await handle.describe()).toMatchObject({ status: { name: 'RUNNING' } });
  });
});
