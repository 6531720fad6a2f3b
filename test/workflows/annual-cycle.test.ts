/**
 * The whole 2023 cycle of the seed plan on the time-skipping test server, with scripted units.
 *
 * The test server's clock starts at the real present and cannot go back, so the real 2023 schedule
 * (working-day calendar and all) is computed first and then shifted, unchanged in shape, to start
 * now: every period and review instant is passed as an explicit instant and every offset as the
 * exact duration the calendar gave. The outbox must then hold exactly the expected notices at
 * exactly those instants.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { cycleSchedule } from '../../domain/cycle-schedule';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { annualCycle, workPoint } from '../../workflows';
import { type CycleSchedule, type ReviewRating, type WorkPointInput } from '../../domain/model';
import {
  cycleWorkflowId,
  decideExtensionSignal,
  rateReviewSignal,
  reportSignal,
  requestExtensionSignal,
  returnReportSignal,
  statusQuery,
  summarySignal,
  waiveSignal,
  workPointWorkflowId,
} from '../../workflows/shared';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { shiftedOptions } from '../helpers/schedule';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { createTestWorker } from '../helpers/worker';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const TASK_QUEUE = 'cycle-test';
const YEAR = 2023;

type Behaviour = 'on-time' | 'late' | 'never' | 'extension' | 'waived' | 'returned';
const BEHAVIOURS: Behaviour[] = ['on-time', 'late', 'never', 'extension', 'waived', 'returned'];

let env: TestWorkflowEnvironment;
let db: TestDatabase;

beforeAll(async () => {
  [env, db] = await Promise.all([createTimeSkippingEnv(), createTestDatabase()]);
  await importDirectory(db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
  await db?.drop();
});

const iso = (ms: number) => toShanghaiIso(ms);

interface Notice {
  wf: string;
  unit: string;
  kind: string;
  period: string | null;
  at: number;
}
const key = (n: Notice) => `${n.wf} ${n.kind} ${n.period ?? '-'} → ${n.unit} @ ${iso(n.at)}`;

test('a whole 2023 cycle of all 29 work points sends exactly the expected notices at the scheduled instants and ends with the expected outcomes', async () => {
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  const { id: planId } = await savePlan(db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);

  const real = cycleSchedule(YEAR, {});
  const t0 = await env.currentTimeMs();
  const shift = t0 + HOUR - real.periods[0]!.opensAt;
  const options = shiftedOptions(real, shift);
  const s = cycleSchedule(YEAR, options);
  // The shifted schedule is the real one, moved in time and nothing else.
  expect(s.periods.map((p) => Object.values(p).filter((v) => typeof v === 'number'))).toEqual(
    real.periods.map((p) =>
      Object.values(p)
        .filter((v) => typeof v === 'number')
        .map((v) => v + shift),
    ),
  );
  const [h1, annual] = s.periods as [CycleSchedule['periods'][number], CycleSchedule['periods'][number]];
  const review = s.review;

  const worker = await createTestWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: 'x'.repeat(40),
    config: { WORKER_MAX_CACHED_WORKFLOWS: 100 },
  });

  const started = Date.now();
  await worker.runUntil(async () => {
    const cycle = await env.client.workflow.start(annualCycle, {
      taskQueue: TASK_QUEUE,
      workflowId: cycleWorkflowId(YEAR),
      args: [{ year: YEAR, planId, options }],
    });
    const sleepUntil = async (t: number) => {
      const now = await env.currentTimeMs();
      if (t > now) await env.sleep(t - now);
    };

    // Wait for the children and read their inputs: who is assigned to what.
    await sleepUntil(t0 + 2 * HOUR);
    const wps: { input: WorkPointInput; handle: WorkflowHandle<typeof workPoint> }[] = [];
    for (let n = 1; n <= 29; n++) {
      const handle = env.client.workflow.getHandle<typeof workPoint>(workPointWorkflowId(YEAR, n));
      const history = await handle.fetchHistory();
      const input = env.client.options.loadedDataConverter.payloadConverter.fromPayload<WorkPointInput>(
        history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
      );
      wps.push({ input, handle });
    }
    const behaviourOf = (wp: WorkPointInput, unitIndex: number): Behaviour =>
      BEHAVIOURS[(wp.number + unitIndex) % BEHAVIOURS.length]!;
    const eachUnit = async (want: Behaviour, fn: (wp: (typeof wps)[number], unitId: string) => Promise<void>) => {
      for (const wp of wps) {
        for (const [i, u] of wp.input.responsibleUnits.entries()) {
          if (behaviourOf(wp.input, i) === want) await fn(wp, u.id);
        }
      }
    };
    const report = (wp: (typeof wps)[number], unitId: string, periodId: string, tag: string) =>
      env.currentTimeMs().then((at) =>
        wp.handle.signal(reportSignal, {
          unitId,
          periodId,
          submissionId: `${wp.input.number}-${unitId}-${periodId}-${tag}`,
          text: `${unitId} ${periodId} 进展报告（${tag}）`,
          submittedAt: at,
        }),
      );

    // H1: extension requests and waivers early on; the office approves the extensions.
    await sleepUntil(h1.opensAt + DAY);
    const extensionRequestedAt = await env.currentTimeMs();
    await eachUnit('extension', async (wp, unitId) => {
      await wp.handle.signal(requestExtensionSignal, {
        unitId,
        periodId: 'H1',
        requestId: `ext-${unitId}`,
        reason: '需要等待上级部门数据',
        wantedDueAt: h1.dueAt + 10 * DAY,
        at: extensionRequestedAt,
      });
    });
    await eachUnit('waived', (wp, unitId) =>
      wp.handle.signal(waiveSignal, { unitId, periodId: 'H1', reason: '本期无相关工作', by: 'office' }),
    );
    await sleepUntil(h1.opensAt + 2 * DAY);
    await eachUnit('extension', (wp, unitId) =>
      wp.handle.signal(decideExtensionSignal, {
        unitId,
        periodId: 'H1',
        approved: true,
        comment: '同意',
        by: 'office',
      }),
    );

    // Before the reminder: on-time reports, and the reports that will be returned.
    await sleepUntil(h1.reminderAt - DAY);
    await eachUnit('on-time', (wp, unitId) => report(wp, unitId, 'H1', 'v1'));
    await eachUnit('returned', (wp, unitId) => report(wp, unitId, 'H1', 'v1'));
    await sleepUntil(h1.reminderAt - 12 * HOUR);
    await eachUnit('returned', (wp, unitId) =>
      wp.handle.signal(returnReportSignal, { unitId, periodId: 'H1', reason: '缺少具体数据', by: 'lead' }),
    );
    // After the reminder the returned reports come back corrected, in time.
    await sleepUntil(h1.dueAt - DAY);
    await eachUnit('returned', (wp, unitId) => report(wp, unitId, 'H1', 'v2'));
    // A day after the due date the late units report; two days after, the extended ones (still in time).
    await sleepUntil(h1.dueAt + DAY);
    await eachUnit('late', (wp, unitId) => report(wp, unitId, 'H1', 'v1'));
    await sleepUntil(h1.dueAt + 2 * DAY);
    await eachUnit('extension', (wp, unitId) => report(wp, unitId, 'H1', 'v1'));

    // Mid-year status: never-reporting units are escalated to the office, the rest are fine.
    await sleepUntil(h1.officeEscalationAt + HOUR);
    const mid = await wps[0]!.handle.query(statusQuery);
    for (const o of mid.obligations.filter((o) => o.periodId === 'H1')) {
      const i = wps[0]!.input.responsibleUnits.findIndex((u) => u.id === o.unitId);
      const expected = {
        'on-time': 'submitted',
        late: 'late',
        never: 'escalated-office',
        extension: 'submitted',
        waived: 'waived',
        returned: 'submitted',
      }[behaviourOf(wps[0]!.input, i)];
      expect(`${o.unitId}:${o.state}`).toBe(`${o.unitId}:${expected}`);
    }
    expect(mid.light).toBe('red');

    // Annual period: everyone but the silent units reports before the reminder.
    await sleepUntil(annual.reminderAt - DAY);
    for (const b of BEHAVIOURS.filter((b) => b !== 'never')) {
      await eachUnit(b, (wp, unitId) => report(wp, unitId, 'annual', 'v1'));
    }

    // Year-end review: every fifth work point's lead units never send their summary.
    await sleepUntil(review.requestAt + HOUR);
    for (const wp of wps) {
      if (wp.input.number % 5 === 0) continue;
      for (const lead of wp.input.leadUnits) {
        await wp.handle.signal(summarySignal, {
          unitId: lead.id,
          submissionId: `sum-${wp.input.number}-${lead.id}`,
          text: '年度总结',
          selfAssessment: wp.input.number % 3 === 0 ? '基本完成' : '完成',
          submittedAt: await env.currentTimeMs(),
        });
      }
    }
    await sleepUntil(review.officeEscalationAt + HOUR);
    for (const wp of wps) {
      const rating: ReviewRating =
        wp.input.number % 5 === 0 ? '未完成' : wp.input.number % 3 === 0 ? '基本完成' : '完成';
      await wp.handle.signal(rateReviewSignal, { rating, comment: `第${wp.input.number}条评定`, by: 'office' });
    }
    const result = await cycle.result();

    // ── Outcomes ────────────────────────────────────────────────────────────────────────────────
    expect(result.workPoints).toHaveLength(29);
    for (const r of result.workPoints) {
      const wp = wps[r.number - 1]!.input;
      expect(r.rating).toBe(r.number % 5 === 0 ? '未完成' : r.number % 3 === 0 ? '基本完成' : '完成');
      for (const [i, u] of wp.responsibleUnits.entries()) {
        const b = behaviourOf(wp, i);
        const h1Outcome = r.outcomes.find((o) => o.unitId === u.id && o.periodId === 'H1');
        const annualOutcome = r.outcomes.find((o) => o.unitId === u.id && o.periodId === 'annual');
        const expected = {
          'on-time': { outcome: 'on-time', escalation: 'none' },
          late: { outcome: 'late', escalation: 'overdue' },
          never: { outcome: 'missing', escalation: 'office' },
          extension: { outcome: 'on-time', escalation: 'none' },
          waived: { outcome: 'waived', escalation: 'none' },
          returned: { outcome: 'on-time', escalation: 'none' },
        }[b];
        expect({ u: u.id, b, ...h1Outcome }).toMatchObject({ u: u.id, b, ...expected });
        expect({ u: u.id, ...annualOutcome }).toMatchObject({
          u: u.id,
          ...(b === 'never'
            ? { outcome: 'missing', escalation: 'office' }
            : { outcome: 'on-time', escalation: 'none' }),
        });
      }
    }
    const { rows: cycleRows } = await db.pool.query('SELECT result, finished_at FROM cycles WHERE year = $1', [YEAR]);
    expect(cycleRows[0].finished_at).not.toBeNull();
    expect(cycleRows[0].result.workPoints).toHaveLength(29);

    // ── Notices: exactly the expected ones, at the scheduled instants ──────────────────────────
    const expected: Notice[] = [];
    const office = wps[0]!.input.office.id;
    for (const { input: wp } of wps) {
      const wf = workPointWorkflowId(YEAR, wp.number);
      const add = (unit: string, kind: string, period: string | null, at: number) =>
        expected.push({ wf, unit, kind, period, at });
      for (const [i, u] of wp.responsibleUnits.entries()) {
        const b = behaviourOf(wp, i);
        add(u.id, 'assignment', 'H1', h1.opensAt);
        add(u.id, 'assignment', 'annual', annual.opensAt);
        if (b === 'late' || b === 'never') {
          add(u.id, 'reminder', 'H1', h1.reminderAt);
          add(u.id, 'overdue', 'H1', h1.dueAt);
        }
        if (b === 'returned') add(u.id, 'reminder', 'H1', h1.reminderAt);
        if (b === 'never') {
          for (const lead of wp.leadUnits) add(lead.id, 'escalation-lead', 'H1', h1.leadEscalationAt);
          add(office, 'escalation-office', 'H1', h1.officeEscalationAt);
          add(u.id, 'reminder', 'annual', annual.reminderAt);
          add(u.id, 'overdue', 'annual', annual.dueAt);
          for (const lead of wp.leadUnits) add(lead.id, 'escalation-lead', 'annual', annual.leadEscalationAt);
          add(office, 'escalation-office', 'annual', annual.officeEscalationAt);
        }
      }
      for (const lead of wp.leadUnits) {
        add(lead.id, 'review-request', 'review', review.requestAt);
        if (wp.number % 5 === 0) {
          add(lead.id, 'review-reminder', 'review', review.summaryReminderAt);
          add(lead.id, 'review-overdue', 'review', review.summaryDueAt);
        }
      }
      if (wp.number % 5 === 0 && wp.leadUnits.length > 0)
        add(office, 'review-escalation-office', 'review', review.officeEscalationAt);
    }
    const signalDriven = ['extension-request', 'extension-decision', 'returned'];
    const { rows } = await db.pool.query<{
      workflow_id: string;
      unit_id: string;
      kind: string;
      period: string | null;
      scheduled_for: Date;
    }>('SELECT workflow_id, unit_id, kind, period, scheduled_for FROM outbox');
    const actual: Notice[] = rows.map((r) => ({
      wf: r.workflow_id,
      unit: r.unit_id,
      kind: r.kind,
      period: r.period,
      at: r.scheduled_for.getTime(),
    }));
    console.log(
      `notices: expected ${expected.length}, outbox ${actual.length}`,
      [...new Set(expected.map((n) => n.kind))].join(','),
    );
    expect(
      actual
        .filter((n) => !signalDriven.includes(n.kind))
        .map(key)
        .sort(),
    ).toEqual(expected.map(key).sort());

    // Notices caused by office and unit actions: one each, to the right recipient.
    const count = (kind: string) => actual.filter((n) => n.kind === kind).length;
    let extensions = 0;
    let returned = 0;
    for (const { input: wp } of wps) {
      wp.responsibleUnits.forEach((_u, i) => {
        if (behaviourOf(wp, i) === 'extension') extensions += 1;
        if (behaviourOf(wp, i) === 'returned') returned += 1;
      });
    }
    expect(count('extension-request')).toBe(extensions);
    expect(actual.filter((n) => n.kind === 'extension-request').every((n) => n.unit === office)).toBe(true);
    expect(count('extension-decision')).toBe(extensions);
    expect(count('returned')).toBe(returned);

    // Every report is stored once, late ones marked late.
    const reports = await db.pool.query<{ n: number; late: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE late)::int AS late FROM reports WHERE kind = 'report'`,
    );
    let expectedReports = 0;
    let expectedLate = 0;
    for (const { input: wp } of wps) {
      wp.responsibleUnits.forEach((_u, i) => {
        const b = behaviourOf(wp, i);
        if (b === 'never') return;
        expectedReports += (b === 'returned' ? 2 : b === 'waived' ? 0 : 1) + 1;
        if (b === 'late') expectedLate += 1;
      });
    }
    expect(reports.rows[0]).toEqual({ n: expectedReports, late: expectedLate });

    if (process.env.DUBAN_EXPORT_HISTORIES) {
      const dir = path.join(__dirname, '..', 'histories', process.env.DUBAN_EXPORT_HISTORIES);
      mkdirSync(dir, { recursive: true });
      for (const id of [cycleWorkflowId(YEAR), ...wps.map((w) => w.handle.workflowId)]) {
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        writeFileSync(path.join(dir, `${id}.json.gz`), gzipSync(historyToJSON(history)));
      }
    }
  });
  console.log(`whole-cycle test: ${((Date.now() - started) / 1000).toFixed(1)} s wall time`);
}, 300_000);
