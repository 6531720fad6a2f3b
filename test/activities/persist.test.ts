/**
 * The `persist` activity against a real PostgreSQL database: one batch writes reports, outbox rows and the status
 * projection with one statement per table, and a retry of the same batch (what Temporal does after a worker dies
 * mid-activity) writes nothing twice.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { NoticeRequest, PersistBatch, ReportRecord, StatusUpdate } from '../../domain/model';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(
    `INSERT INTO units (id, name, kind, contacts) VALUES
       ('a', '甲单位', 'department', '[{"channel":"email","address":"a@example.test"},{"channel":"webhook","address":"https://a.example.test/hook"}]'),
       ('b', '乙单位', 'department', '[]')`,
  );
});
afterAll(() => db.drop());

const T0 = Date.UTC(2023, 2, 1, 1, 2, 3, 456);
const wf = 'wp-2023-01';
/** The activity as the worker runs it, inside an activity context (its logger needs one). */
const persist = (batch: PersistBatch) => {
  const activities = createActivities({
    pool: db.pool,
    publicBaseUrl: 'http://duban.test',
    linkSecret: 'k'.repeat(32),
  });
  return new MockActivityEnvironment().run((b: PersistBatch) => activities.persist(b), batch);
};

const notice = (unitId: string): NoticeRequest => ({
  key: `${wf}:assign:H1:to:${unitId}`,
  workflowId: wf,
  cycleYear: 2023,
  workPoint: 1,
  workPointTitle: '要点一',
  unitId,
  kind: 'assignment',
  periodId: 'H1',
  periodLabel: '上半年',
  dueAt: T0 + 86_400_000,
  scheduledFor: T0,
  link: 'report',
});
const report = (unitId: string, submissionId: string): ReportRecord => ({
  submissionId,
  workflowId: wf,
  cycleYear: 2023,
  workPoint: 1,
  unitId,
  periodId: 'H1',
  kind: 'report',
  text: `${unitId} 的报告`,
  attachments: [],
  late: false,
  submittedAt: T0 + 1000,
});
function status(version: number, states: Record<string, 'pending' | 'submitted'>, timelineFrom = 0): StatusUpdate {
  const obligations = Object.entries(states).map(([unitId, state]) => ({
    unitId,
    unitName: unitId === 'a' ? '甲单位' : '乙单位',
    periodId: 'H1',
    state,
    dueAt: T0 + 86_400_000,
    submissions: state === 'submitted' ? 1 : 0,
    ...(state === 'submitted' ? { lastSubmittedAt: T0 + 1000 } : {}),
    facts: {
      unitId,
      periodId: 'H1',
      dueAt: T0 + 86_400_000,
      reminderAt: T0,
      overdueNoticeAt: T0,
      leadEscalationAt: T0,
      officeEscalationAt: T0,
      fired: {},
      submissions: [],
      returns: [],
    },
  }));
  return {
    summary: {
      workflowId: wf,
      cycleYear: 2023,
      number: 1,
      title: '要点一',
      phase: 'open',
      light: 'green',
      asOf: T0,
      leadUnits: [],
      units: [],
      overdueUnits: [],
      review: { fired: {}, summaries: {}, requested: false },
      waitingOn: '',
    },
    version,
    obligations,
    removedObligations: [],
    timelineFrom,
    timeline: [
      { at: T0, kind: 'notice', unitId: 'a', periodId: 'H1', detail: 'assignment' },
      { at: T0 + 1, kind: 'notice', unitId: 'b', detail: 'assignment' },
    ],
  };
}
const count = async (table: string) =>
  Number((await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

test('one batch writes every table; a retry of the same batch writes nothing twice', async () => {
  const batch: PersistBatch = {
    reports: [report('a', 'sub-a-1'), report('b', 'sub-b-1')],
    notices: [notice('a'), notice('b')],
    status: status(1, { a: 'submitted', b: 'pending' }),
  };
  // Unit a has two contacts (email, webhook), b none (the log channel): three outbox rows.
  expect(await persist(batch)).toEqual({ stored: 2, written: 3 });
  expect(await persist(batch)).toEqual({ stored: 0, written: 0 });
  expect(await count('reports')).toBe(2);
  expect(await count('outbox')).toBe(3);
  expect(await count('work_point_obligations')).toBe(2);
  expect(await count('work_point_timeline')).toBe(2);

  const outbox = await db.pool.query<{ channel: string; scheduled_for: Date; due_at: Date; link: string | null }>(
    "SELECT channel, scheduled_for, due_at, link FROM outbox WHERE unit_id = 'a' ORDER BY channel",
  );
  expect(outbox.rows.map((r) => r.channel)).toEqual(['email', 'webhook']);
  expect(outbox.rows[0]?.scheduled_for.getTime()).toBe(T0);
  expect(outbox.rows[0]?.due_at.getTime()).toBe(T0 + 86_400_000);
  expect(outbox.rows[0]?.link).toMatch(/^http:\/\/duban\.test\/r\//);

  const ob = await db.pool.query<{ unit_id: string; state: string; last_submitted_at: Date | null; facts: unknown }>(
    'SELECT unit_id, state, last_submitted_at, facts FROM work_point_obligations ORDER BY unit_id',
  );
  expect(ob.rows.map((r) => [r.unit_id, r.state, r.last_submitted_at?.getTime() ?? null])).toEqual([
    ['a', 'submitted', T0 + 1000],
    ['b', 'pending', null],
  ]);
  const tl = await db.pool.query<{ seq: number; at: Date; unit_id: string; period: string | null }>(
    'SELECT seq, at, unit_id, period FROM work_point_timeline ORDER BY seq',
  );
  expect(tl.rows.map((r) => [r.seq, r.at.getTime(), r.unit_id, r.period])).toEqual([
    [0, T0, 'a', 'H1'],
    [1, T0 + 1, 'b', null],
  ]);
});

test('a newer status version updates and removes obligations; an older one never overwrites it', async () => {
  const v2 = status(2, { b: 'submitted' }, 2);
  v2.removedObligations = [{ unitId: 'a', periodId: 'H1' }];
  await persist({ status: v2 });
  await persist({ status: status(1, { b: 'pending' }) });
  const ob = await db.pool.query<{ unit_id: string; state: string; version: string }>(
    'SELECT unit_id, state, version FROM work_point_obligations ORDER BY unit_id',
  );
  expect(ob.rows.map((r) => [r.unit_id, r.state, Number(r.version)])).toEqual([['b', 'submitted', 2]]);
  expect(await count('work_point_timeline')).toBe(4);
  const st = await db.pool.query<{ version: string }>('SELECT version FROM work_point_status');
  expect(Number(st.rows[0]?.version)).toBe(2);
});

test('an empty batch writes nothing', async () => {
  expect(await persist({})).toEqual({ stored: 0, written: 0 });
});
