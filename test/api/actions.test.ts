/**
 * The office's actions on a running cycle, against a time-skipping Temporal server with a real worker and the
 * real activities: each action is an Update the work point workflow judges. An accepted one answers 200 with the
 * resulting state; one the workflow refuses answers 409 / 422 with its reason in the same request (the audit row
 * says refused); without Temporal, 503. The tests build on one cycle, each on its own work point; the last ones skip
 * time past the H1 due date and then rate every work point.
 *
 * Above ~400 lines on purpose: the tests build on one time-skipped cycle (each on its own work point), which is
 * too slow to build once per file.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { cycleSchedule } from '../../domain/cycle-schedule';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { type WorkPointStatus } from '../../domain/model';
import type { ActionResult } from '../../domain/work-point/office-action-rules';
import {
  officeActionUpdates,
  remindNowSignal,
  reportSignal,
  requestExtensionSignal,
  statusQuery,
  workPointWorkflowId,
} from '../../workflows/shared';
import { build, TEST_LINK_SECRET, useApiTestContext } from '../helpers/app';
import { until } from '../helpers/wait';
import { createTestWorker } from '../helpers/worker';

// Declared before useApiTestContext: afterAll hooks run in declaration order, and the worker must stop
// before the context tears down the Temporal environment whose connection it holds.
afterAll(async () => {
  worker?.shutdown();
  await running;
});
const ctx = useApiTestContext();
const TASK_QUEUE = 'api-actions-test';
const YEAR = 2023;
const DAY = 86_400_000;
const WP_COUNT = 29;

let app: FastifyInstance;
let worker: Worker;
let running: Promise<void>;
let options: Record<string, unknown>;

const wf = (n: number) => workPointWorkflowId(YEAR, n);

interface Accepted {
  accepted: true;
  workflowId: string;
  auditId: number;
  requestId?: string;
  state: ActionResult;
}
const url = (n: number, action: string) => `/api/cycles/${YEAR}/work-points/${n}/${action}`;

function act(n: number, action: string, payload: object, headers: Record<string, string> = ctx.admin) {
  return app.inject({ method: 'POST', url: url(n, action), headers, payload });
}

async function status(n: number): Promise<WorkPointStatus> {
  return ctx.env.client.workflow.getHandle(wf(n)).query(statusQuery);
}

/** The shared waitFor() for conditions: false (like undefined) means "not yet". */
function waitFor<T>(what: string, fn: () => Promise<T | false | undefined>, timeoutMs?: number): Promise<T> {
  return until(what, async () => (await fn()) || undefined, timeoutMs);
}

/** Waits until the projection (what pre-validation reads) shows the unit's state. */
async function projected(n: number, unitId: string, periodId: string, state: string): Promise<void> {
  await waitFor(`${wf(n)} ${unitId} ${periodId} = ${state} in the projection`, async () => {
    const { rows } = await ctx.db.pool.query<{ state: string }>(
      'SELECT state FROM work_point_obligations WHERE workflow_id = $1 AND unit_id = $2 AND period = $3',
      [wf(n), unitId, periodId],
    );
    return rows[0]?.state === state;
  });
}

async function auditRow(id: number) {
  const { rows } = await ctx.db.pool.query<{
    actor: string;
    action: string;
    target: string;
    reason: string | null;
    details: Record<string, unknown>;
  }>('SELECT actor, action, target, reason, details FROM audit_log WHERE id = $1', [id]);
  return rows[0];
}

async function auditCount(where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await ctx.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_log WHERE ${where}`,
    params,
  );
  return rows[0]?.n ?? 0;
}

/** A directory unit that is neither responsible for nor leading work point n. */
function outsider(s: WorkPointStatus, not: string[] = []): { id: string; name: string } {
  const taken = new Set([...s.units, ...s.leadUnits].map((u) => u.id).concat(not));
  const unit = DEMO_UNIT_DIRECTORY.units.find((u) => u.kind !== 'office' && u.active && !taken.has(u.id));
  if (!unit) throw new Error('no free unit in the demo directory');
  return { id: unit.id, name: unit.name };
}

beforeAll(async () => {
  await importDirectory(ctx.db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  await savePlan(ctx.db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);
  // A unit that exists but may not take over work (reassign must refuse it).
  await ctx.db.pool.query(
    "INSERT INTO units (id, name, kind, active) VALUES ('retired-unit', '已撤销局', 'department', false)",
  );

  worker = await createTestWorker({
    connection: ctx.env.nativeConnection,
    pool: ctx.db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: TEST_LINK_SECRET,
  });
  running = worker.run();

  // The real 2023 dates lie in the test server's past: H1 opens now and is due in 2 days, escalating fast.
  const now = await ctx.env.currentTimeMs();
  options = {
    periods: [
      { id: 'H1', label: '上半年', opens: toShanghaiIso(now - 60_000), due: toShanghaiIso(now + 2 * DAY) },
      { id: 'annual', label: '全年', due: toShanghaiIso(now + 30 * DAY) },
    ],
    reminderBefore: 'P1D',
    leadEscalationAfter: 'PT1H',
    officeEscalationAfter: 'PT3H',
    review: {
      request: toShanghaiIso(now + 31 * DAY),
      summaryDue: toShanghaiIso(now + 40 * DAY),
      rating: toShanghaiIso(now + 45 * DAY),
    },
  };
  app = await ctx.build({ TEMPORAL_TASK_QUEUE: TASK_QUEUE });
  const started = await app.inject({
    method: 'POST',
    url: '/api/cycles',
    headers: ctx.admin,
    payload: { year: YEAR, options },
  });
  expect(started.statusCode).toBe(202);
  await waitFor('the projection of every work point', async () => {
    const { rows } = await ctx.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM work_point_status WHERE cycle_year = $1',
      [YEAR],
    );
    return rows[0]?.n === WP_COUNT;
  });
}, 60_000);

// useApiTestContext closes every app built in a test after it; this one lives for the file.
beforeEach(async () => {
  app = await ctx.build({ TEMPORAL_TASK_QUEUE: TASK_QUEUE });
});

describe('single actions change what the workflow reports, and each lands in the audit trail', () => {
  test('extend (延期): the unit’s due date moves; 200 names the workflow, the audit row and the new state', async () => {
    const before = await status(1);
    const unit = before.units[0]!;
    const other = before.obligations.find((o) => o.unitId !== unit.id && o.periodId === 'H1');
    const newDueAt = (await ctx.env.currentTimeMs()) + 10 * DAY;
    const res = await act(1, 'extend', {
      periodId: 'H1',
      newDueAt: toShanghaiIso(newDueAt),
      unitIds: [unit.id],
      reason: '需协调市级部门',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<Accepted>();
    expect(body).toEqual({ accepted: true, workflowId: wf(1), auditId: expect.any(Number), state: expect.any(Object) });
    // The answer is the workflow's state after the action: the moved obligation, and only what changed.
    expect(body.state.obligations).toEqual([
      expect.objectContaining({ unitId: unit.id, periodId: 'H1', dueAt: newDueAt }),
    ]);
    expect(body.state.notices).toEqual([{ unitId: unit.id, kind: 'deadline-extended', periodId: 'H1' }]);

    const after = await waitFor('the new due date', async () => {
      const s = await status(1);
      return s.obligations.find((o) => o.unitId === unit.id && o.periodId === 'H1')?.dueAt === newDueAt && s;
    });
    if (other) {
      expect(after.obligations.find((o) => o.unitId === other.unitId && o.periodId === 'H1')?.dueAt).toBe(other.dueAt);
    }
    expect(after.timeline).toContainEqual(expect.objectContaining({ kind: 'deadline-extended', unitId: unit.id }));
    expect(await auditRow(body.auditId)).toEqual({
      actor: 'test-admin',
      action: 'extend',
      target: wf(1),
      reason: '需协调市级部门',
      details: expect.objectContaining({
        outcome: 'accepted',
        year: YEAR,
        workPoint: 1,
        request: { periodId: 'H1', newDueAt: toShanghaiIso(newDueAt), unitIds: [unit.id] },
      }),
    });
  });

  test('waive (免报): the unit’s state becomes waived, and the detail view shows it with the reason', async () => {
    const unit = (await status(2)).units[0]!;
    const res = await act(2, 'waive', { unitId: unit.id, periodId: 'H1', reason: '机构调整，本期不涉及' });
    expect(res.statusCode).toBe(200);
    expect(res.json<Accepted>().state.obligations).toEqual([
      expect.objectContaining({ unitId: unit.id, periodId: 'H1', state: 'waived' }),
    ]);
    await waitFor('waived', async () => {
      const s = await status(2);
      return s.obligations.find((o) => o.unitId === unit.id && o.periodId === 'H1')?.state === 'waived';
    });
    expect((await auditRow(res.json<Accepted>().auditId))?.action).toBe('waive');
    await projected(2, unit.id, 'H1', 'waived');

    const detail = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}/work-points/2`, headers: ctx.viewer });
    expect(detail.statusCode).toBe(200);
    const d = detail.json<{ timeline: { seq: number }[]; obligations: unknown[]; counts: Record<string, number> }>();
    expect(d).toMatchObject({ year: YEAR, number: 2, workflowId: wf(2), source: 'projection' });
    expect(d.obligations).toContainEqual(
      expect.objectContaining({
        unitId: unit.id,
        periodId: 'H1',
        periodLabel: '上半年',
        state: 'waived',
        waived: expect.objectContaining({ reason: '机构调整，本期不涉及', by: 'test-admin' }),
      }),
    );
    expect(d.timeline).toContainEqual(
      expect.objectContaining({ kind: 'waived', unitId: unit.id, unitName: unit.name }),
    );
    expect(d.timeline.map((e) => e.seq)).toEqual([...d.timeline.keys()]);
    expect(d.counts.waived).toBe(1);

    const live = await app.inject({
      method: 'GET',
      url: `/api/cycles/${YEAR}/work-points/2?live=true`,
      headers: ctx.viewer,
    });
    expect(live.statusCode).toBe(200);
    expect(live.json().source).toBe('live');
    expect(live.json().obligations).toContainEqual(expect.objectContaining({ unitId: unit.id, state: 'waived' }));

    // Waiving again: the workflow refuses, in the same request, with its reason; the audit row says so.
    const again = await act(2, 'waive', { unitId: unit.id, periodId: 'H1', reason: '重复' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({
      code: 'already_waived',
      message: expect.stringMatching(/^该单位在第2条的报送已免报 \/ already waived/),
    });
    const { rows } = await ctx.db.pool.query<{ details: Record<string, unknown> }>(
      "SELECT details FROM audit_log WHERE target = $1 AND reason = '重复'",
      [wf(2)],
    );
    expect(rows).toEqual([
      {
        details: expect.objectContaining({ outcome: 'refused', error: 'already_waived', message: expect.any(String) }),
      },
    ]);
  });

  test('return (退回): a submitted report goes back for rework and the state is returned', async () => {
    const unit = (await status(3)).units[0]!;
    const nothing = await act(3, 'return', { unitId: unit.id, periodId: 'H1', reason: '内容不全' });
    expect(nothing.statusCode).toBe(409);
    expect(nothing.json().error.code).toBe('nothing_to_return');

    await ctx.env.client.workflow.getHandle(wf(3)).signal(reportSignal, {
      unitId: unit.id,
      periodId: 'H1',
      submissionId: randomUUID(),
      text: '已完成。',
      submittedAt: await ctx.env.currentTimeMs(),
    });
    await projected(3, unit.id, 'H1', 'submitted');
    const res = await act(3, 'return', { unitId: unit.id, periodId: 'H1', reason: '缺少佐证材料' });
    expect(res.statusCode).toBe(200);
    await waitFor('returned', async () => {
      const s = await status(3);
      return s.obligations.find((o) => o.unitId === unit.id && o.periodId === 'H1')?.state === 'returned';
    });
  });

  test('decide an extension request (延期审批): approved with another date, the due date follows', async () => {
    const unit = (await status(4)).units[0]!;
    const now = await ctx.env.currentTimeMs();
    const none = await act(4, 'extension-requests/decide', { unitId: unit.id, periodId: 'H1', approved: true });
    expect(none.statusCode).toBe(409);
    expect(none.json().error.code).toBe('no_pending_extension');

    await ctx.env.client.workflow.getHandle(wf(4)).signal(requestExtensionSignal, {
      unitId: unit.id,
      periodId: 'H1',
      requestId: randomUUID(),
      reason: '数据尚未汇总',
      wantedDueAt: now + 20 * DAY,
      at: now,
    });
    await waitFor('the pending request in the projection', async () => {
      const { rows } = await ctx.db.pool.query<{ status: string | null }>(
        "SELECT extension->>'status' AS status FROM work_point_obligations WHERE workflow_id = $1 AND unit_id = $2 AND period = 'H1'",
        [wf(4), unit.id],
      );
      return rows[0]?.status === 'pending';
    });
    const granted = now + 12 * DAY;
    const res = await act(4, 'extension-requests/decide', {
      unitId: unit.id,
      periodId: 'H1',
      approved: true,
      comment: '同意延期至下月',
      newDueAt: toShanghaiIso(granted),
    });
    expect(res.statusCode).toBe(200);
    const o = await waitFor('the decision', async () => {
      const s = await status(4);
      const x = s.obligations.find((y) => y.unitId === unit.id && y.periodId === 'H1');
      return x?.extension?.status === 'approved' && x;
    });
    expect(o.dueAt).toBe(granted);
    expect((await auditRow(res.json<Accepted>().auditId))?.reason).toBe('同意延期至下月');
  });

  test('reassign, add and remove units: the assignment changes; unknown or inactive units are 422, assigned ones 409', async () => {
    // A work point with two units and two free units in the demo directory (groups like 园区各部门 take them all).
    let n = 0;
    let s: WorkPointStatus | undefined;
    for (const c of [6, 16, 17, 18, 19, 21, 22, 23, 24, 25]) {
      s = await status(c);
      const taken = new Set([...s.units, ...s.leadUnits].map((u) => u.id));
      const free = DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind !== 'office' && !taken.has(u.id));
      if (s.units.length >= 2 && free.length >= 2) {
        n = c;
        break;
      }
    }
    if (!s || n === 0) throw new Error('no suitable work point in the seed plan');
    const [from, stays] = s.units;
    const to = outsider(s);
    const extra = outsider(s, [to.id]);

    const inactive = await act(n, 'reassign', { fromUnitId: from!.id, toUnitId: 'retired-unit', reason: '调整' });
    expect(inactive.statusCode).toBe(422);
    expect(inactive.json().error.code).toBe('unit_inactive');
    const unknown = await act(n, 'reassign', { fromUnitId: from!.id, toUnitId: 'no-such-unit', reason: '调整' });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error).toMatchObject({
      code: 'unknown_unit',
      message: expect.stringMatching(/单位目录.*\//),
    });
    const notAssigned = await act(n, 'reassign', { fromUnitId: to.id, toUnitId: extra.id, reason: '调整' });
    expect(notAssigned.statusCode).toBe(422);
    expect(notAssigned.json().error.code).toBe('unit_not_assigned');

    const reassigned = await act(n, 'reassign', { fromUnitId: from!.id, toUnitId: to.id, reason: '职能划转' });
    expect(reassigned.statusCode).toBe(200);
    await waitFor('the reassignment', async () => {
      const ids = (await status(n)).units.map((u) => u.id);
      return ids.includes(to.id) && !ids.includes(from!.id);
    });
    expect((await auditRow(reassigned.json<Accepted>().auditId))?.details).toMatchObject({
      from,
      to,
      outcome: 'accepted',
    });

    await waitFor('the projection to list the new unit', async () => {
      const { rows } = await ctx.db.pool.query<{ ids: string[] }>(
        "SELECT array(SELECT jsonb_array_elements(snapshot->'units')->>'id') AS ids FROM work_point_status WHERE workflow_id = $1",
        [wf(n)],
      );
      return rows[0]?.ids.includes(to.id);
    });
    const twice = await act(n, 'units', { unitId: to.id, reason: '重复添加' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.code).toBe('unit_already_assigned');

    const added = await act(n, 'units', { unitId: extra.id, reason: '新增配合单位' });
    expect(added.statusCode).toBe(200);
    if (stays) {
      const removed = await app.inject({
        method: 'DELETE',
        url: url(n, `units/${stays.id}`),
        headers: ctx.admin,
        payload: { reason: '不再承担' },
      });
      expect(removed.statusCode).toBe(200);
    }
    const after = await waitFor('add and remove', async () => {
      const x = await status(n);
      const ids = x.units.map((u) => u.id);
      return ids.includes(extra.id) && (!stays || !ids.includes(stays.id)) && x;
    });
    expect(after.obligations.filter((o) => o.unitId === extra.id).map((o) => o.periodId)).toEqual(['H1', 'annual']);
  });

  test('remind (立即提醒): a reminder notice per unit without a report is in the outbox, tagged with the request id', async () => {
    const res = await act(7, 'remind', { periodId: 'H1' });
    expect(res.statusCode).toBe(200);
    const { requestId, auditId } = res.json<{ requestId: string; auditId: number }>();
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const units = (await status(7)).units;
    const rows = await waitFor('the reminders in the outbox', async () => {
      const { rows: r } = await ctx.db.pool.query<{ unit_id: string; kind: string }>(
        'SELECT unit_id, kind FROM outbox WHERE workflow_id = $1 AND idempotency_key LIKE $2',
        [wf(7), `%remind-now:${requestId}:%`],
      );
      return r.length === units.length && r;
    });
    expect(rows.map((r) => r.kind)).toEqual(units.map(() => 'reminder'));
    expect(rows.map((r) => r.unit_id).sort()).toEqual(units.map((u) => u.id).sort());
    expect(await auditRow(auditId)).toMatchObject({ action: 'remind', reason: null, details: { requestId } });
  });

  test('rate (年终评定): the workflow completes with the rating; afterwards the work point refuses changes', async () => {
    const res = await act(8, 'rate', { rating: '基本完成', comment: '上半年进度偏慢' });
    expect(res.statusCode).toBe(200);
    expect(res.json<Accepted>().state).toMatchObject({ phase: 'closed', rating: { rating: '基本完成' } });
    const handle = ctx.env.client.workflow.getHandle(wf(8));
    await waitFor('completion', async () => (await handle.describe()).status.name === 'COMPLETED');
    expect(await handle.result()).toMatchObject({
      rating: '基本完成',
      comment: '上半年进度偏慢',
      ratedBy: 'test-admin',
    });

    // Temporal says the workflow has completed: refused before anything is audited.
    const rows = await auditCount('target = $1', [wf(8)]);
    const closed = await act(8, 'rate', { rating: '完成', comment: '' });
    expect(closed.statusCode).toBe(409);
    expect(closed.json().error.code).toBe('already_rated');
    const waived = await act(8, 'waive', { unitId: (await status(8)).units[0]!.id, reason: '测试' });
    expect(waived.statusCode).toBe(409);
    expect(waived.json().error).toMatchObject({
      code: 'work_point_closed',
      message: expect.stringMatching(/已评定办结.*\//),
    });
    expect(await auditCount('target = $1', [wf(8)])).toBe(rows);
  });
});

describe('the workflow is the only judge: races between actions', () => {
  test('two waives of the same unit sent at once: exactly one 200 and one 409 already_waived', async () => {
    const unit = (await status(27)).units[0]!;
    const both = await Promise.all(
      ['第一次', '第二次'].map((reason) => act(27, 'waive', { unitId: unit.id, periodId: 'H1', reason })),
    );
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect(both.find((r) => r.statusCode === 409)?.json().error.code).toBe('already_waived');
    const outcomes = await ctx.db.pool.query<{ outcome: string }>(
      "SELECT details->>'outcome' AS outcome FROM audit_log WHERE target = $1 AND action = 'waive' ORDER BY outcome",
      [wf(27)],
    );
    expect(outcomes.rows.map((r) => r.outcome)).toEqual(['accepted', 'refused']);
    const waived = (await status(27)).timeline.filter((e) => e.kind === 'waived');
    expect(waived).toHaveLength(1);
  });

  test('rate twice at once: one 200, the other 409 already_rated with the reason', async () => {
    const both = await Promise.all(['完成', '未完成'].map((rating) => act(26, 'rate', { rating, comment: '' })));
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const refused = both.find((r) => r.statusCode === 409)?.json();
    expect(refused.error).toMatchObject({
      code: 'already_rated',
      message: expect.stringMatching(/评定.* \/ .*already rated/),
    });
    const result = await ctx.env.client.workflow.getHandle(wf(26)).result();
    expect(result.rating).toBe(both.find((r) => r.statusCode === 200)?.json<Accepted>().state.rating?.rating);
  });
});

describe('refusals', () => {
  test('a viewer token may not act (403); nothing is audited', async () => {
    const before = await auditCount();
    const res = await act(9, 'waive', { unitId: 'x', reason: 'r' }, ctx.viewer);
    expect(res.statusCode).toBe(403);
    expect(await auditCount()).toBe(before);
  });

  test('unknown unit or period → 422, unknown work point or cycle → 404, malformed body → 400, all with zh/en messages', async () => {
    const unit = (await status(9)).units[0]!;
    const audits = await auditCount('target = $1', [wf(9)]);
    const unknownUnit = await act(9, 'waive', { unitId: 'no-such-unit', reason: '测试' });
    expect(unknownUnit.statusCode).toBe(422);
    expect(unknownUnit.json().error).toMatchObject({
      code: 'unit_not_assigned',
      message: expect.stringMatching(
        /^单位 “no-such-unit” 不是第9条的责任单位.* \/ unit "no-such-unit" is not assigned/,
      ),
    });
    const unknownPeriod = await act(9, 'extend', {
      periodId: 'Q3',
      newDueAt: toShanghaiIso(Date.now() + 5 * DAY),
      reason: '测试',
    });
    expect(unknownPeriod.statusCode).toBe(422);
    expect(unknownPeriod.json().error).toMatchObject({
      code: 'unknown_period',
      message: expect.stringContaining('H1、annual'),
    });
    const past = await act(9, 'extend', { periodId: 'H1', newDueAt: '2020-01-01T18:00:00+08:00', reason: '测试' });
    expect(past.statusCode).toBe(422);
    expect(past.json().error.code).toBe('due_in_past');
    const noWorkPoint = await act(99, 'waive', { unitId: unit.id, reason: '测试' });
    expect(noWorkPoint.statusCode).toBe(404);
    expect(noWorkPoint.json().error.code).toBe('work_point_not_found');
    const noCycle = await app.inject({
      method: 'POST',
      url: `/api/cycles/2031/work-points/1/waive`,
      headers: ctx.admin,
      payload: { unitId: unit.id, reason: '测试' },
    });
    expect(noCycle.statusCode).toBe(404);
    expect(noCycle.json().error.code).toBe('cycle_not_found');
    const malformed = await act(9, 'extend', { periodId: 'H1', newDueAt: 'next week', reason: '' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.message).toMatch(/newDueAt/);
    expect((await act(9, 'rate', { rating: '优秀', comment: '' })).statusCode).toBe(400);
    expect(
      (await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}/work-points/99`, headers: ctx.viewer })).statusCode,
    ).toBe(404);
    // The workflow's refusals (unit, period, past date) are in the audit trail as refused; the others never got there.
    expect(await auditCount("target = $1 AND details->>'outcome' = 'refused'", [wf(9)])).toBe(audits + 3);
    expect(await auditCount('target = $1', [wf(9)])).toBe(audits + 3);
  });

  test('remind with unitId (for unitIds) is 422 naming it; nothing is signalled, reminded or audited', async () => {
    const unit = (await status(16)).units[0]!;
    const signalled = async () =>
      (await ctx.env.client.workflow.getHandle(wf(16)).fetchHistory()).events?.filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === remindNowSignal.name,
      ).length;
    const res = await act(16, 'remind', { unitId: unit.id, periodId: 'H1' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'unknown_field',
      message: expect.stringContaining('未知字段 "unitId"（是否应为 "unitIds"？）'),
      details: [expect.objectContaining({ where: 'body', unknown: ['unitId'] })],
    });
    const query = await app.inject({
      method: 'POST',
      url: `${url(16, 'remind')}?dryRun=true`,
      headers: ctx.admin,
      payload: { unitIds: [unit.id] },
    });
    expect(query.statusCode).toBe(422);
    expect(query.json().error.details).toEqual([
      expect.objectContaining({ where: 'querystring', unknown: ['dryRun'] }),
    ]);
    const bulk = await app.inject({
      method: 'POST',
      url: `/api/cycles/${YEAR}/actions`,
      headers: ctx.admin,
      payload: { action: 'remind', workPoints: [16], unitId: unit.id },
    });
    expect(bulk.statusCode).toBe(422);
    expect(bulk.json().error.message).toContain('(did you mean "unitIds"?)');
    // Before this refusal, the first request was accepted and reminded every unit of the work point.
    expect(await auditCount('target = $1', [wf(16)])).toBe(0);
    expect(await signalled()).toBe(0);
    const { rows } = await ctx.db.pool.query(
      `SELECT 1 FROM outbox WHERE workflow_id = $1 AND idempotency_key LIKE '%remind-now%'`,
      [wf(16)],
    );
    expect(rows).toEqual([]);
  });

  test('Temporal unreachable: 503 saying nothing was done, and no audit row; ?live=true is 503 too', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
    try {
      const down = await build({ pool: ctx.db.pool, temporal: new Client({ connection }) });
      const unit = (await status(9)).units[0]!;
      const audits = await auditCount('target = $1', [wf(9)]);
      const res = await down.inject({
        method: 'POST',
        url: url(9, 'waive'),
        headers: ctx.admin,
        payload: { unitId: unit.id, reason: '测试' },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toMatchObject({
        code: 'temporal_unavailable',
        message: expect.stringContaining('未执行'),
      });
      expect(await auditCount('target = $1', [wf(9)])).toBe(audits);
      const live = await down.inject({
        method: 'GET',
        url: `/api/cycles/${YEAR}/work-points/9?live=true`,
        headers: ctx.viewer,
      });
      expect(live.statusCode).toBe(503);
      // The projection still answers without Temporal.
      const plain = await down.inject({ method: 'GET', url: `/api/cycles/${YEAR}/work-points/9`, headers: ctx.viewer });
      expect(plain.statusCode).toBe(200);
    } finally {
      await connection.close();
    }
  });

  test('an Update Temporal refuses after the workflow was found: 503, the audit row says failed (unknown on a timeout), never accepted', async () => {
    const refuse = (code: number): WorkflowClientInterceptor => ({
      startUpdate: async () => {
        throw Object.assign(new Error(code === 14 ? 'UNAVAILABLE' : 'DEADLINE_EXCEEDED'), {
          code,
          details: 'forced by the test',
          metadata: {},
        });
      },
    });
    for (const [code, outcome, errorCode] of [
      [14, 'failed', 'temporal_unavailable'],
      [4, 'unknown', 'temporal_timeout'],
    ] as const) {
      const client = new Client({
        connection: ctx.env.connection,
        namespace: ctx.env.namespace,
        interceptors: { workflow: [refuse(code)] },
      });
      const flaky = await build({ pool: ctx.db.pool, temporal: client });
      const unit = (await status(9)).units[0]!;
      const res = await flaky.inject({
        method: 'POST',
        url: url(9, 'waive'),
        headers: ctx.admin,
        payload: { unitId: unit.id, reason: '测试' },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe(errorCode);
      const { rows } = await ctx.db.pool.query<{ outcome: string }>(
        "SELECT details->>'outcome' AS outcome FROM audit_log WHERE target = $1 ORDER BY id DESC LIMIT 1",
        [wf(9)],
      );
      expect(rows).toEqual([{ outcome }]);
    }
    expect(await auditCount("target = $1 AND details->>'outcome' = 'accepted'", [wf(9)])).toBe(0);
    expect((await status(9)).obligations.every((o) => o.state !== 'waived')).toBe(true);
  });
});

describe('Idempotency-Key', () => {
  test('a repeat returns the first answer without acting again; the key with another body is 422', async () => {
    const key = `remind-${randomUUID()}`;
    const headers = { ...ctx.admin, 'idempotency-key': key };
    const first = await act(10, 'remind', { periodId: 'H1' }, headers);
    expect(first.statusCode).toBe(200);
    const { requestId } = first.json<{ requestId: string }>();
    const units = (await status(10)).units.length;
    await waitFor('a reminder to every unit', async () => {
      const { rows } = await ctx.db.pool.query<{ n: number }>(
        'SELECT count(DISTINCT unit_id)::int AS n FROM outbox WHERE workflow_id = $1 AND idempotency_key LIKE $2',
        [wf(10), `%remind-now:${requestId}:%`],
      );
      return rows[0]?.n === units;
    });
    const audits = await auditCount('target = $1', [wf(10)]);

    const again = await act(10, 'remind', { periodId: 'H1' }, headers);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await auditCount('target = $1', [wf(10)])).toBe(audits);
    // The workflow's history is the proof: one remind Update, not two.
    const history = await ctx.env.client.workflow.getHandle(wf(10)).fetchHistory();
    const reminds = (history.events ?? []).filter(
      (e) =>
        e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ===
        officeActionUpdates.remind.name,
    );
    expect(reminds).toHaveLength(1);

    const other = await act(10, 'remind', { periodId: 'annual' }, headers);
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('idempotency_key_reused');
  });

  test('a refused request frees its key: the corrected retry with the same key acts', async () => {
    const key = randomUUID();
    const headers = { ...ctx.admin, 'idempotency-key': key };
    const unit = (await status(11)).units[0]!;
    const bad = await act(11, 'waive', { unitId: 'no-such-unit', reason: '测试' }, headers);
    expect(bad.statusCode).toBe(422);
    // Same key, different body: allowed, because the refused attempt did nothing and left no answer behind.
    const good = await act(11, 'waive', { unitId: unit.id, periodId: 'annual', reason: '测试' }, headers);
    expect(good.statusCode).toBe(200);
  });
});

describe('bulk actions', () => {
  test('extend on several work points: 200 listing per target what was accepted and what was refused', async () => {
    const newDueAt = toShanghaiIso((await ctx.env.currentTimeMs()) + 15 * DAY);
    const res = await app.inject({
      method: 'POST',
      url: `/api/cycles/${YEAR}/actions`,
      headers: ctx.admin,
      payload: { action: 'extend', workPoints: [12, 13, 99, 8], periodId: 'H1', newDueAt, reason: '统一延期' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ action: 'extend', accepted: 2, failed: 2 });
    expect(body.results).toEqual([
      { workPoint: 12, ok: true, status: 200, workflowId: wf(12), auditId: expect.any(Number) },
      { workPoint: 13, ok: true, status: 200, workflowId: wf(13), auditId: expect.any(Number) },
      expect.objectContaining({
        workPoint: 99,
        ok: false,
        status: 404,
        error: expect.objectContaining({ code: 'work_point_not_found' }),
      }),
      expect.objectContaining({
        workPoint: 8,
        ok: false,
        status: 409,
        error: expect.objectContaining({ code: 'work_point_closed' }),
      }),
    ]);
    await waitFor('the moved due dates', async () => {
      const [a, b] = await Promise.all([status(12), status(13)]);
      return [a, b].every((s) =>
        s.obligations.filter((o) => o.periodId === 'H1').every((o) => o.dueAt === Date.parse(newDueAt)),
      );
    });
  });

  test('waive several units on several work points: one target per work point × unit', async () => {
    const [s14, s15] = await Promise.all([status(14), status(15)]);
    const u14 = s14.units[0]!.id;
    const res = await app.inject({
      method: 'POST',
      url: `/api/cycles/${YEAR}/actions`,
      headers: ctx.admin,
      payload: {
        action: 'waive',
        workPoints: [14, 15],
        unitIds: [u14, 'no-such-unit'],
        periodId: 'H1',
        reason: '批量免报',
      },
    });
    expect(res.statusCode).toBe(200);
    const results = res.json().results as {
      workPoint: number;
      unitId: string;
      ok: boolean;
      status: number;
      error?: { code: string };
    }[];
    expect(results).toHaveLength(4);
    const u14On15 = s15.units.some((u) => u.id === u14);
    const refused = results.filter((r) => !r.ok);
    expect(refused.map((r) => [r.status, r.error?.code])).toContainEqual([422, 'unit_not_assigned']);
    expect(results.filter((r) => r.ok).map((r) => `${r.workPoint}:${r.unitId}`)).toEqual([
      `14:${u14}`,
      ...(u14On15 ? [`15:${u14}`] : []),
    ]);
    await waitFor('waived', async () =>
      (await status(14)).obligations.some((o) => o.unitId === u14 && o.periodId === 'H1' && o.state === 'waived'),
    );
  });

  test('when every target is refused the answer is 422 with the reasons; a malformed body is 400', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/cycles/${YEAR}/actions`,
      headers: ctx.admin,
      payload: { action: 'remind', workPoints: [98, 99] },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'no_valid_target',
      details: [expect.anything(), expect.anything()],
    });
    const bad = await app.inject({
      method: 'POST',
      url: `/api/cycles/${YEAR}/actions`,
      headers: ctx.admin,
      payload: { action: 'celebrate', workPoints: [1] },
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('the cycle view, the audit trail, and the end of the cycle', () => {
  test('GET /api/cycles/:year: past the lead escalation, late work points show rung lead and the late units by name', async () => {
    const s = cycleSchedule(YEAR, options).periods[0]!;
    await ctx.env.sleep((s.leadEscalationAt + s.officeEscalationAt) / 2 - (await ctx.env.currentTimeMs()));
    const res = await waitFor('the escalations in the projection', async () => {
      const r = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}`, headers: ctx.viewer });
      const wps = r.json<{ workPoints: { number: number; escalation: string }[] }>().workPoints;
      return wps.find((w) => w.number === 20)?.escalation === 'lead' && r;
    });
    const body = res.json<{ workPoints: Record<string, unknown>[] }>();
    const wp = (n: number) => body.workPoints.find((w) => w.number === n);
    const wp20 = wp(20);
    const names = (await status(20)).overdueUnits.map((u) => u.name);
    expect(wp20).toMatchObject({
      workflowId: wf(20),
      light: 'red',
      phase: 'escalated',
      escalation: 'lead',
      overdueUnits: names,
      temporalUi: expect.stringContaining(`/workflows/${wf(20)}`),
    });
    expect(wp20?.counts).toMatchObject({ 'escalated-lead': names.length });
    expect(wp20?.title).toEqual(expect.any(String));
    // Extended to 15 days later, 12 is not late; 8 was rated.
    expect(wp(12)?.escalation).toBe('none');
    expect(wp(8)?.phase).toBe('closed');
  });

  test('GET /api/audit: viewers read it, filtered and paged newest first', async () => {
    const all = await app.inject({ method: 'GET', url: '/api/audit?limit=500', headers: ctx.viewer });
    expect(all.statusCode).toBe(200);
    const page = all.json<{ items: { id: number }[]; total: number }>();
    const ids = page.items.map((e) => e.id);
    expect(page.total).toBe(await auditCount());
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const waives = await app.inject({
      method: 'GET',
      url: `/api/audit?action=waive&target=${wf(2)}&actor=test-admin&outcome=accepted`,
      headers: ctx.viewer,
    });
    expect(waives.json().items).toEqual([
      expect.objectContaining({
        action: 'waive',
        target: wf(2),
        actor: 'test-admin',
        outcome: 'accepted',
        reason: '机构调整，本期不涉及',
        at: expect.stringMatching(/\+08:00$/),
      }),
    ]);
    const failed = await app.inject({ method: 'GET', url: '/api/audit?outcome=failed', headers: ctx.viewer });
    expect(failed.json<{ items: { target: string }[] }>().items.map((e) => e.target)).toEqual([wf(9)]);

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const r: { json<T>(): T } = await app.inject({
        method: 'GET',
        url: `/api/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        headers: ctx.viewer,
      });
      const p = r.json<{ items: { id: number }[]; nextCursor: string | null }>();
      seen.push(...p.items.map((e) => e.id));
      cursor = p.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect((await app.inject({ method: 'GET', url: '/api/audit?cursor=xyz', headers: ctx.viewer })).statusCode).toBe(
      400,
    );
  });

  test('bulk rate of every work point closes the cycle; then every action is 409 cycle_finished', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/cycles/${YEAR}/actions`,
      headers: { ...ctx.admin, 'idempotency-key': `rate-all-${randomUUID()}` },
      payload: {
        action: 'rate',
        workPoints: Array.from({ length: WP_COUNT }, (_, i) => i + 1),
        rating: '完成',
        comment: '',
      },
    });
    expect(res.statusCode).toBe(200);
    // 8 and 26 were rated before.
    expect(res.json()).toMatchObject({ accepted: WP_COUNT - 2, failed: 2 });
    await waitFor(
      'the finished cycle',
      async () => {
        const { rows } = await ctx.db.pool.query<{ finished_at: Date | null }>(
          'SELECT finished_at FROM cycles WHERE year = $1',
          [YEAR],
        );
        return rows[0]?.finished_at !== null;
      },
      30_000,
    );
    const late = await act(20, 'remind', {});
    expect(late.statusCode).toBe(409);
    expect(late.json().error).toMatchObject({ code: 'cycle_finished', message: expect.stringMatching(/已办结.*\//) });
    const view = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}`, headers: ctx.viewer });
    expect(view.json().finishedAt).toEqual(expect.stringMatching(/\+08:00$/));
  });
});
