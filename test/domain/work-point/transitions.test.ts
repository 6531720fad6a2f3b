/**
 * The work point's rules without Temporal: transitions, the office actions' validators, milestones and status are
 * pure functions of (work point, message, now), so each case is a few lines.
 */
import { obligationRung, rungOfCounts } from '../../../domain/escalation';
import type { CycleSchedule, WorkPointInput } from '../../../domain/model';
import { initialState, workPointOf, type WorkPoint } from '../../../domain/work-point/context';
import { advance } from '../../../domain/work-point/milestones';
import * as actions from '../../../domain/work-point/office-actions';
import * as rules from '../../../domain/work-point/office-action-rules';
import { actionResult, buildResult, buildStatus, obligationSnapshot } from '../../../domain/work-point/status';
import { acceptReport, judgeReport, requestExtension } from '../../../domain/work-point/unit-messages';
import { tenDayPeriod } from '../../helpers/schedule';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-03-01T00:00:00+08:00');

const A = { id: 'a-ju', name: '甲局' };
const B = { id: 'b-ju', name: '乙局' };
const C = { id: 'c-ju', name: '丙局' };
const LEAD = { id: 'lead', name: '牵头办' };
const OFFICE = { id: 'office', name: '依法治区办' };

function schedule(): CycleSchedule {
  const period = tenDayPeriod;
  const h1 = period('H1', '上半年', T0);
  const annual = period('annual', '全年', h1.dueAt);
  const requestAt = annual.officeEscalationAt + DAY;
  return {
    periods: [h1, annual],
    review: {
      requestAt,
      summaryReminderAt: requestAt + DAY,
      summaryDueAt: requestAt + 2 * DAY,
      officeEscalationAt: requestAt + 3 * DAY,
      ratingDueAt: requestAt + 4 * DAY,
    },
  };
}

function fresh(): WorkPoint {
  const input: WorkPointInput = {
    cycleYear: 2030,
    planId: 1,
    number: 7,
    section: '一',
    title: '测试要点',
    leadUnits: [LEAD],
    responsibleUnits: [A, B],
    office: OFFICE,
    schedule: schedule(),
  };
  return workPointOf('wp-2030-07', input, initialState(input));
}

const at = (days: number) => T0 + days * DAY;
const report = (wp: WorkPoint, unitId: string, periodId: string, now: number) =>
  acceptReport(
    wp,
    { unitId, periodId, submissionId: `${unitId}-${periodId}-${now}`, text: '已完成', submittedAt: now },
    now,
  );
const stateOf = (wp: WorkPoint, unitId: string, periodId: string, now: number) =>
  buildStatus(wp, now).obligations.find((o) => o.unitId === unitId && o.periodId === periodId)?.state;

describe('waive', () => {
  test('waives the open obligations and records it; a second waive is refused as already_waived (409)', () => {
    const wp = fresh();
    expect(rules.checkWaive(wp, { unitId: A.id, periodId: 'H1', reason: '调整', by: 'office' })).toBeUndefined();
    expect(actions.waive(wp, { unitId: A.id, periodId: 'H1', reason: '调整', by: 'office' }, at(1))).toBeUndefined();
    expect(stateOf(wp, A.id, 'H1', at(1))).toBe('waived');
    expect(stateOf(wp, A.id, 'annual', at(1))).toBe('pending');
    expect(wp.state.timeline).toContainEqual(expect.objectContaining({ kind: 'waived', unitId: A.id, periodId: 'H1' }));

    const again = rules.checkWaive(wp, { unitId: A.id, periodId: 'H1', reason: '重复', by: 'office' });
    expect(again).toMatchObject({ code: 'already_waived', message: expect.stringMatching(/免报 \/ already waived/) });
    expect(rules.ACTION_REFUSALS[again!.code]).toBe('conflict');
    // The signal of an older client changes nothing and says why.
    expect(actions.waive(wp, { unitId: A.id, periodId: 'H1', reason: '重复', by: 'office' }, at(1))).toEqual({
      unitId: A.id,
      periodId: 'H1',
      detail: '没有可免报的任务 / nothing to waive',
    });
  });

  test('an unknown unit or period is invalid for this work point (422)', () => {
    const wp = fresh();
    expect(rules.checkWaive(wp, { unitId: C.id, reason: 'r', by: 'o' })).toMatchObject({
      code: 'unit_not_assigned',
      details: { assigned: [A.id, B.id] },
    });
    expect(rules.checkWaive(wp, { unitId: A.id, periodId: 'Q3', reason: 'r', by: 'o' })).toMatchObject({
      code: 'unknown_period',
      message: expect.stringContaining('H1、annual'),
    });
    expect(rules.ACTION_REFUSALS.unit_not_assigned).toBe('invalid');
  });
});

describe('rate', () => {
  test('rates once; a second rating is already_rated, and every other action then meets a closed work point', () => {
    const wp = fresh();
    const rate = { rating: '基本完成' as const, comment: '偏慢', by: 'office' };
    expect(rules.checkRate(wp, rate)).toBeUndefined();
    expect(actions.rateReview(wp, rate, at(40))).toBeUndefined();
    expect(rules.checkRate(wp, { ...rate, rating: '完成' })).toMatchObject({
      code: 'already_rated',
      details: { rating: '基本完成', by: 'office' },
    });
    expect(rules.checkRemind(wp, { requestId: 'r', by: 'o' }, at(40))?.code).toBe('work_point_closed');
    expect(rules.checkWaive(wp, { unitId: A.id, reason: 'r', by: 'o' })?.code).toBe('work_point_closed');
    expect(buildStatus(wp, at(40)).phase).toBe('closed');
    expect(buildResult(wp)).toMatchObject({ rating: '基本完成', ratedBy: 'office', ratedAt: at(40) });
  });
});

describe('extend and extension requests', () => {
  test('extend moves the due date and its milestones, tells the unit; a date in the past is refused (422)', () => {
    const wp = fresh();
    const newDueAt = at(20);
    expect(rules.checkExtend(wp, { periodId: 'H1', newDueAt: at(0.5), reason: 'r', by: 'o' }, at(1))?.code).toBe(
      'due_in_past',
    );
    expect(
      rules.checkExtend(wp, { periodId: 'H1', unitIds: [C.id], newDueAt, reason: 'r', by: 'o' }, at(1))?.code,
    ).toBe('unit_not_assigned');
    expect(
      actions.extendDeadline(wp, { periodId: 'H1', unitIds: [A.id], newDueAt, reason: '协调', by: 'o' }, at(1)),
    ).toBe(undefined);
    const o = wp.state.obligations.find((x) => x.unitId === A.id && x.periodId === 'H1')!;
    expect([o.dueAt, o.reminderAt, o.leadEscalationAt]).toEqual([newDueAt, newDueAt - 2 * DAY, newDueAt + 2 * DAY]);
    expect(wp.out.notices).toEqual([
      expect.objectContaining({
        kind: 'deadline-extended',
        unitId: A.id,
        key: `wp-2030-07:deadline-extended:H1:${newDueAt}:to:${A.id}`,
      }),
    ]);
    expect(wp.out.statusChanged).toBe(true);
  });

  test('a decision needs a pending request (409); approving moves the due date to the date asked for', () => {
    const wp = fresh();
    const decide = { unitId: A.id, periodId: 'H1', approved: true, by: 'office' };
    expect(rules.checkDecideExtension(wp, decide, at(2))?.code).toBe('no_pending_extension');
    requestExtension(
      wp,
      { unitId: A.id, periodId: 'H1', requestId: 'x1', reason: '数据未齐', wantedDueAt: at(25), at: at(2) },
      at(2),
    );
    expect(wp.out.notices.map((n) => [n.kind, n.unitId])).toEqual([['extension-request', OFFICE.id]]);
    expect(rules.checkDecideExtension(wp, { ...decide, newDueAt: at(1) }, at(2))?.code).toBe('due_in_past');
    expect(rules.checkDecideExtension(wp, decide, at(2))).toBeUndefined();
    expect(actions.decideExtension(wp, decide, at(2))).toBeUndefined();
    const o = wp.state.obligations.find((x) => x.unitId === A.id && x.periodId === 'H1')!;
    expect(o.dueAt).toBe(at(25));
    expect(o.extension).toMatchObject({ status: 'approved', decidedAt: at(2) });
  });
});

describe('return', () => {
  test('nothing to return before a report (409); after one, a new round with a later due date', () => {
    const wp = fresh();
    const ret = { unitId: A.id, periodId: 'H1', reason: '缺材料', by: 'office' };
    expect(rules.checkReturn(wp, ret, at(3))?.code).toBe('nothing_to_return');
    report(wp, A.id, 'H1', at(3));
    expect(
      judgeReport(
        wp,
        { unitId: A.id, periodId: 'H1', submissionId: `${A.id}-H1-${at(3)}`, text: '', submittedAt: at(3) },
        true,
        at(3),
      ),
    ).toEqual({ repeat: true });
    expect(rules.checkReturn(wp, ret, at(4))).toBeUndefined();
    expect(actions.returnReport(wp, ret, at(4))).toBeUndefined();
    expect(stateOf(wp, A.id, 'H1', at(4))).toBe('returned');
    expect(wp.out.notices.map((n) => n.key)).toEqual([`wp-2030-07:returned:H1:1:to:${A.id}`]);
  });
});

describe('units', () => {
  test('add, remove and reassign: assigned units are 409, unassigned ones 422; open obligations end, reports stay', () => {
    const wp = fresh();
    expect(rules.checkAddUnit(wp, { unit: A, reason: 'r', by: 'o' })?.code).toBe('unit_already_assigned');
    expect(rules.checkRemoveUnit(wp, { unitId: C.id, reason: 'r', by: 'o' })?.code).toBe('unit_not_assigned');
    expect(rules.checkReassign(wp, { fromUnitId: A.id, to: B, reason: 'r', by: 'o' })?.code).toBe(
      'unit_already_assigned',
    );

    report(wp, A.id, 'H1', at(3));
    // Joining after H1 is past: only the annual period is owed.
    expect(actions.reassign(wp, { fromUnitId: A.id, to: C, reason: '职能划转', by: 'o' }, at(11))).toBeUndefined();
    expect(wp.state.units.map((u) => u.id)).toEqual([B.id, C.id]);
    expect(wp.state.obligations.filter((o) => o.unitId === A.id).map((o) => o.periodId)).toEqual(['H1']);
    expect(wp.state.obligations.filter((o) => o.unitId === C.id).map((o) => o.periodId)).toEqual(['annual']);
    expect(wp.state.timeline.filter((e) => e.kind === 'reassigned').map((e) => e.detail)).toEqual([
      '职能划转（改由丙局承办）',
      '职能划转（原由甲局承办）',
    ]);
  });
});

describe('remind', () => {
  test('reminds who has not reported in an open period; nobody left is 409; bulk skips units the work point lacks', () => {
    const wp = fresh();
    report(wp, A.id, 'H1', at(1));
    expect(rules.checkRemind(wp, { requestId: 'q', unitIds: [A.id], periodId: 'H1', by: 'o' }, at(2))?.code).toBe(
      'nobody_to_remind',
    );
    expect(rules.checkRemind(wp, { requestId: 'q', unitIds: [C.id], by: 'o' }, at(2))?.code).toBe('unit_not_assigned');
    const bulk = { requestId: 'q', unitIds: [B.id, C.id], by: 'o', onlyAssigned: true };
    expect(rules.checkRemind(wp, bulk, at(2))).toBeUndefined();
    expect(actions.remindNow(wp, { ...bulk, unitIds: rules.remindUnits(wp, bulk) }, at(2))).toBeUndefined();
    // The annual period has not opened yet: only B's H1.
    expect(wp.out.notices.map((n) => n.key)).toEqual([`wp-2030-07:remind-now:q:H1:to:${B.id}`]);
  });
});

describe('milestones, status and escalation', () => {
  test('advance fires what is due, oldest first, and names the next instant; a report stops the chase', () => {
    const wp = fresh();
    expect(advance(wp, at(0))).toBe(at(8));
    expect(wp.out.notices.map((n) => [n.kind, n.unitId])).toEqual([
      ['assignment', A.id],
      ['assignment', B.id],
    ]);
    report(wp, A.id, 'H1', at(5));
    wp.out.notices = [];
    expect(advance(wp, at(12.5))).toBe(at(14));
    expect(wp.out.notices.map((n) => [n.kind, n.unitId])).toEqual([
      ['assignment', A.id],
      ['reminder', B.id],
      ['overdue', B.id],
      ['escalation-lead', LEAD.id],
      ['assignment', B.id],
    ]);
    const status = buildStatus(wp, at(12.5));
    expect(status.phase).toBe('escalated');
    expect(status.overdueUnits).toEqual([B]);
    const [oa, ob] = wp.state.obligations.filter((o) => o.periodId === 'H1');
    expect([obligationRung(oa!), obligationRung(ob!)]).toEqual(['none', 'lead']);
    expect(rungOfCounts({ overdue: 1, 'escalated-lead': 2, submitted: 3 })).toBe('lead');
    expect(rungOfCounts({ submitted: 3 })).toBe('none');
  });

  test("an action's answer holds only what it changed", () => {
    const wp = fresh();
    const before = obligationSnapshot(wp, at(1));
    actions.waive(wp, { unitId: B.id, periodId: 'annual', reason: 'r', by: 'o' }, at(1));
    const result = actionResult(wp, before, at(1));
    expect(result.obligations).toEqual([
      expect.objectContaining({ unitId: B.id, periodId: 'annual', state: 'waived' }),
    ]);
    expect(result).toMatchObject({ workflowId: 'wp-2030-07', phase: 'open', removedObligations: [], notices: [] });
  });
});
