import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type CycleSchedule, type WorkPointInput } from '../../domain/model';
import {
  officeActionUpdates,
  rateReviewSignal,
  reportSignal,
  statusQuery,
  summarySignal,
  waiveSignal,
} from '../../workflows/shared';
import { workPoint } from '../../workflows/work-point';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { createTestWorker } from '../helpers/worker';
import { demoUnit, useWorkflowTestContext } from '../helpers/workflow-context';
import { tenDayPeriod } from '../helpers/schedule';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const TASK_QUEUE = 'wp-test';

const ctx = useWorkflowTestContext(createTimeSkippingEnv);
const unit = demoUnit;

/** Two periods, each due 10 days after it opens; reminder 2 days before, lead +2 days, office +4 days. */
function drillSchedule(start: number): CycleSchedule {
  const period = tenDayPeriod;
  const h1 = period('H1', '上半年', start);
  const annual = period('annual', '全年', h1.dueAt);
  const requestAt = annual.officeEscalationAt + DAY;
  return {
    periods: [h1, annual],
    review: {
      requestAt,
      summaryReminderAt: requestAt + 3 * DAY,
      summaryDueAt: requestAt + 5 * DAY,
      officeEscalationAt: requestAt + 7 * DAY,
      ratingDueAt: requestAt + 10 * DAY,
    },
  };
}

async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await createTestWorker({
    connection: ctx.env.nativeConnection,
    pool: ctx.db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: 'test-secret-test-secret-test-secret',
  });
  return worker.runUntil(fn);
}

async function outbox(workflowId: string) {
  const { rows } = await ctx.db.pool.query<{
    unit_id: string;
    kind: string;
    period: string | null;
    scheduled_for: Date;
  }>(
    'SELECT unit_id, kind, period, scheduled_for FROM outbox WHERE workflow_id = $1 ORDER BY scheduled_for, kind, unit_id',
    [workflowId],
  );
  return rows.map((r) => ({ unit: r.unit_id, kind: r.kind, period: r.period, at: r.scheduled_for.getTime() }));
}

test('a unit that never reports is reminded, chased, escalated to the lead unit and then the office; one that reports is not', async () => {
  const start = await ctx.env.currentTimeMs();
  const schedule = drillSchedule(start);
  const lead = unit('经发局');
  const [good, silent] = [unit('中川镇'), unit('综合办')];
  const office = unit('园区依法治区办');
  const workflowId = `wp-test-${randomUUID()}`;
  const input: WorkPointInput = {
    cycleYear: 2099,
    planId: 0,
    number: 6,
    section: '二',
    title: '持续优化政务服务体系',
    leadUnits: [lead],
    responsibleUnits: [good, silent],
    office,
    schedule,
  };

  await withWorker(async () => {
    const handle = await ctx.env.client.workflow.start(workPoint, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    const h1 = schedule.periods[0]!;
    await ctx.env.sleep(h1.reminderAt - start - HOUR);
    await handle.signal(reportSignal, {
      unitId: good.id,
      periodId: 'H1',
      submissionId: 's1',
      text: '上半年进展',
      submittedAt: await ctx.env.currentTimeMs(),
    });
    // The same form twice (double click) counts once.
    await handle.signal(reportSignal, {
      unitId: good.id,
      periodId: 'H1',
      submissionId: 's1',
      text: '上半年进展',
      submittedAt: await ctx.env.currentTimeMs(),
    });
    await ctx.env.sleep(h1.officeEscalationAt - (await ctx.env.currentTimeMs()) + HOUR);
    const status = await handle.query(statusQuery);
    expect(status.obligations.find((o) => o.unitId === good.id && o.periodId === 'H1')).toMatchObject({
      state: 'submitted',
      submissions: 1,
    });
    expect(status.obligations.find((o) => o.unitId === silent.id && o.periodId === 'H1')?.state).toBe(
      'escalated-office',
    );
    expect(status.light).toBe('red');

    const notices = await outbox(workflowId);
    const h1Notices = notices.filter((n) => n.period === 'H1');
    expect(h1Notices).toEqual([
      { unit: good.id, kind: 'assignment', period: 'H1', at: h1.opensAt },
      { unit: silent.id, kind: 'assignment', period: 'H1', at: h1.opensAt },
      { unit: silent.id, kind: 'reminder', period: 'H1', at: h1.reminderAt },
      { unit: silent.id, kind: 'overdue', period: 'H1', at: h1.dueAt },
      { unit: lead.id, kind: 'escalation-lead', period: 'H1', at: h1.leadEscalationAt },
      { unit: office.id, kind: 'escalation-office', period: 'H1', at: h1.officeEscalationAt },
    ]);
    const { rows } = await ctx.db.pool.query('SELECT count(*)::int AS n FROM reports WHERE workflow_id = $1', [
      workflowId,
    ]);
    expect(rows[0].n).toBe(1);

    // Late H1 report is accepted and marked late; escalation stops.
    await handle.signal(reportSignal, {
      unitId: silent.id,
      periodId: 'H1',
      submissionId: 's2',
      text: '迟到的报告',
      submittedAt: await ctx.env.currentTimeMs(),
    });
    const after = await handle.query(statusQuery);
    expect(after.obligations.find((o) => o.unitId === silent.id && o.periodId === 'H1')?.state).toBe('late');

    // Finish the year: annual reports in, summary in, office rates.
    const annual = schedule.periods[1]!;
    await ctx.env.sleep(annual.reminderAt - (await ctx.env.currentTimeMs()) - HOUR);
    for (const u of [good, silent]) {
      await handle.signal(reportSignal, {
        unitId: u.id,
        periodId: 'annual',
        submissionId: `a-${u.id}`,
        text: '全年',
        submittedAt: await ctx.env.currentTimeMs(),
      });
    }
    await ctx.env.sleep(schedule.review.requestAt - (await ctx.env.currentTimeMs()) + HOUR);
    await handle.signal(summarySignal, {
      unitId: lead.id,
      submissionId: 'sum-1',
      text: '年度总结',
      selfAssessment: '完成',
      submittedAt: await ctx.env.currentTimeMs(),
    });
    await handle.signal(rateReviewSignal, { rating: '基本完成', comment: '综合办上半年逾期', by: 'office-test' });
    const result = await handle.result();
    expect(result.rating).toBe('基本完成');
    expect(result.outcomes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ unitId: good.id, periodId: 'H1', outcome: 'on-time', escalation: 'none' }),
        expect.objectContaining({ unitId: silent.id, periodId: 'H1', outcome: 'late', escalation: 'office' }),
        expect.objectContaining({ unitId: silent.id, periodId: 'annual', outcome: 'on-time', escalation: 'none' }),
      ]),
    );
    expect(result.escalations).toEqual({ lead: 1, office: 1 });
  });
}, 120_000);

test('office actions as Updates: a refusal carries its code and leaves no trace in history; the signal of an older client is recorded as rejected', async () => {
  const start = await ctx.env.currentTimeMs();
  const [a, b] = [unit('中川镇'), unit('综合办')];
  const input: WorkPointInput = {
    cycleYear: 2099,
    planId: 0,
    number: 7,
    section: '二',
    title: '更新与信号',
    leadUnits: [unit('经发局')],
    responsibleUnits: [a, b],
    office: unit('园区依法治区办'),
    schedule: drillSchedule(start),
  };
  const workflowId = `wp-test-${randomUUID()}`;

  await withWorker(async () => {
    const handle = await ctx.env.client.workflow.start(workPoint, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    const waive = { unitId: a.id, periodId: 'H1', reason: '调整', by: 'office-test' };
    const state = await handle.executeUpdate(officeActionUpdates.waive, { args: [waive] });
    expect(state.obligations).toEqual([expect.objectContaining({ unitId: a.id, periodId: 'H1', state: 'waived' })]);

    const refused = await handle.executeUpdate(officeActionUpdates.waive, { args: [waive] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (refused as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'already_waived', message: expect.stringMatching(/已免报 \/ already waived/) });
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);

    // The same waive as a signal (running histories, older clients): recorded as rejected, as before.
    await handle.signal(waiveSignal, waive);
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((e) => e.kind === 'rejected')).toEqual([
      expect.objectContaining({ unitId: a.id, periodId: 'H1', detail: '没有可免报的任务 / nothing to waive' }),
    ]);

    const rated = await handle.executeUpdate(officeActionUpdates.rate, {
      args: [{ rating: '完成', comment: '', by: 'office-test' }],
    });
    expect(rated).toMatchObject({ phase: 'closed', rating: { rating: '完成', by: 'office-test' } });
    expect((await handle.result()).outcomes).toEqual(
      expect.arrayContaining([expect.objectContaining({ unitId: a.id, periodId: 'H1', outcome: 'waived' })]),
    );
  });
}, 120_000);
