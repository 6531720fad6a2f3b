import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CycleSchedule, type WorkPointInput } from '../../domain/model';
import { reportSignal, statusQuery } from '../../workflows/shared';
import { workPoint } from '../../workflows/work-point';
import { createDevServerEnv } from '../helpers/temporal';
import { demoUnit, useWorkflowTestContext } from '../helpers/workflow-context';
import { until } from '../helpers/wait';
import { createTestWorker } from '../helpers/worker';

const SECOND = 1000;
const TASK_QUEUE = 'restart-test';

const ctx = useWorkflowTestContext(createDevServerEnv);
const unit = demoUnit;

const newWorker = async () =>
  createTestWorker({
    connection: ctx.env.nativeConnection,
    pool: ctx.db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: 'x'.repeat(40),
  });

test('with the worker stopped while every milestone passes, a new worker sends each missed notice exactly once and keeps the report sent meanwhile', async () => {
  // The worker first: building it (the workflow bundle, on a busy machine) can take longer than the schedule's
  // first seconds, and the first worker must see the assignments before the reminders are due.
  const first = await newWorker();
  // A drill schedule in seconds on a real dev server: nobody waits for real days, but real time passes.
  const start = Date.now() + 2 * SECOND;
  const dueAt = start + 6 * SECOND;
  const period = {
    id: 'H1',
    label: '上半年',
    opensAt: start,
    dueAt,
    reminderAt: dueAt - 2 * SECOND,
    overdueNoticeAt: dueAt,
    leadEscalationAt: dueAt + 2 * SECOND,
    officeEscalationAt: dueAt + 4 * SECOND,
  };
  const far = dueAt + 3600 * SECOND;
  const schedule: CycleSchedule = {
    periods: [period],
    review: {
      requestAt: far,
      summaryReminderAt: far + 1,
      summaryDueAt: far + 2,
      officeEscalationAt: far + 3,
      ratingDueAt: far + 4,
    },
  };
  const lead = unit('经发局');
  const office = unit('园区依法治区办');
  const [a, b, c] = [unit('中川镇'), unit('综合办'), unit('财政局')];
  const input: WorkPointInput = {
    cycleYear: 2099,
    planId: 0,
    number: 9,
    section: '三',
    title: '不断强化依法决策意识',
    leadUnits: [lead],
    responsibleUnits: [a, b, c],
    office,
    schedule,
  };
  const workflowId = `wp-restart-${randomUUID()}`;
  const outboxCount = async () =>
    (
      await ctx.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE workflow_id = $1', [
        workflowId,
      ])
    ).rows[0]!.n;

  const handle = await first.runUntil(async () => {
    const h = await ctx.env.client.workflow.start(workPoint, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    await until('the assignment notices', async () => ((await outboxCount()) === 3 ? true : undefined));
    return h;
  });

  // No worker now. The server accepts a report, and every milestone passes.
  await handle.signal(reportSignal, {
    unitId: a.id,
    periodId: 'H1',
    submissionId: 'while-down',
    text: '停机期间提交',
    submittedAt: Date.now(),
  });
  await sleep(Math.max(0, period.officeEscalationAt + SECOND - Date.now()));
  expect(await outboxCount()).toBe(3);

  const second = await newWorker();
  await second.runUntil(async () => {
    await until('the escalations', async () => ((await outboxCount()) >= 11 ? true : undefined));
    const status = await handle.query(statusQuery);
    expect(status.obligations.map((o) => `${o.unitId}:${o.state}`).sort()).toEqual(
      [`${a.id}:submitted`, `${b.id}:escalated-office`, `${c.id}:escalated-office`].sort(),
    );
    await sleep(SECOND); // anything duplicated would land now
  });

  const { rows } = await ctx.db.pool.query<{ unit_id: string; kind: string; scheduled_for: Date; n: number }>(
    `SELECT unit_id, kind, scheduled_for, count(*)::int AS n FROM outbox WHERE workflow_id = $1
     GROUP BY unit_id, kind, scheduled_for`,
    [workflowId],
  );
  const seen = rows.map((r) => `${r.kind} → ${r.unit_id} @ ${r.scheduled_for.getTime() - start} ×${r.n}`);
  const expected = [
    ...[a, b, c].map((u) => `assignment → ${u.id} @ 0 ×1`),
    ...[b, c].map((u) => `reminder → ${u.id} @ ${period.reminderAt - start} ×1`),
    ...[b, c].map((u) => `overdue → ${u.id} @ ${period.dueAt - start} ×1`),
    `escalation-lead → ${lead.id} @ ${period.leadEscalationAt - start} ×2`,
    `escalation-office → ${office.id} @ ${period.officeEscalationAt - start} ×2`,
  ];
  expect(seen.sort()).toEqual(expected.sort());
  const { rows: reports } = await ctx.db.pool.query('SELECT count(*)::int AS n FROM reports WHERE workflow_id = $1', [
    workflowId,
  ]);
  expect(reports[0].n).toBe(1);
}, 120_000);
