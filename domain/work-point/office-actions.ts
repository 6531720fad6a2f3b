import { currentSubmission, obligationState } from '../light';
import type { Instant, Obligation, UnitRef } from '../model';
import type {
  AddUnitSignal,
  DecideExtensionSignal,
  ExtendDeadlineSignal,
  RateReviewSignal,
  ReassignSignal,
  RemindNowSignal,
  RemoveUnitSignal,
  ReturnReportSignal,
  WaiveSignal,
} from '../messages';
import {
  isAssigned,
  newObligation,
  notice,
  obligationOf,
  periodFields,
  record,
  unitRef,
  type WorkPoint,
} from './context';
import { moveDue } from './milestones';

/**
 * The office's actions as state transitions. Each applies the action to the work point and pushes its notices, or,
 * when the action does not fit the state, changes nothing and returns why (`Rejection`). The signals of older
 * clients record that rejection in the timeline; the Updates never get there, because their validator
 * (office-action-rules.ts) refuses first with a stable code.
 */

export interface Rejection {
  unitId?: string;
  periodId?: string;
  detail: string;
}

const DAY = 24 * 3600 * 1000;

export function extendDeadline(wp: WorkPoint, e: ExtendDeadlineSignal, now: Instant): Rejection | undefined {
  const p = wp.periods.get(e.periodId);
  if (!p) return { periodId: e.periodId, detail: `没有时段 ${e.periodId} / unknown period` };
  const targets = wp.state.obligations.filter(
    (o) => o.periodId === e.periodId && (!e.unitIds || e.unitIds.includes(o.unitId)),
  );
  if (targets.length === 0) return { periodId: e.periodId, detail: '没有可延期的单位 / no matching units' };
  for (const o of targets) {
    moveDue(wp, o, e.newDueAt, now);
    record(wp, now, { kind: 'deadline-extended', unitId: o.unitId, periodId: e.periodId, detail: e.reason });
    notice(wp, 'deadline-extended', o.unitId, `deadline-extended:${e.periodId}:${e.newDueAt}`, now, {
      ...periodFields(p, o),
      reason: e.reason,
      link: 'report',
    });
  }
  return undefined;
}

/** The obligations a waive applies to: the unit's (in the period, if named) not yet waived. */
export const waivable = (wp: WorkPoint, w: Pick<WaiveSignal, 'unitId' | 'periodId'>): Obligation[] =>
  wp.state.obligations.filter((o) => o.unitId === w.unitId && (!w.periodId || o.periodId === w.periodId) && !o.waived);

export function waive(wp: WorkPoint, w: WaiveSignal, now: Instant): Rejection | undefined {
  const targets = waivable(wp, w);
  if (targets.length === 0)
    return { unitId: w.unitId, periodId: w.periodId, detail: '没有可免报的任务 / nothing to waive' };
  for (const o of targets) {
    o.waived = { reason: w.reason, by: w.by, at: now };
    record(wp, now, { kind: 'waived', unitId: o.unitId, periodId: o.periodId, detail: w.reason });
  }
  return undefined;
}

export function decideExtension(wp: WorkPoint, d: DecideExtensionSignal, now: Instant): Rejection | undefined {
  const o = obligationOf(wp, d.unitId, d.periodId);
  const p = wp.periods.get(d.periodId);
  if (!o || !p || o.extension?.status !== 'pending') {
    return { unitId: d.unitId, periodId: d.periodId, detail: '没有待审批的延期申请 / no pending extension request' };
  }
  const ext = o.extension;
  ext.status = d.approved ? 'approved' : 'rejected';
  ext.decidedAt = now;
  ext.comment = d.comment;
  if (d.approved) moveDue(wp, o, d.newDueAt ?? ext.wantedDueAt, now);
  const decision = `${d.approved ? '批准' : '不批准'}${d.comment ? `：${d.comment}` : ''}`;
  record(wp, now, { kind: 'extension-decided', unitId: d.unitId, periodId: d.periodId, detail: decision });
  notice(wp, 'extension-decision', d.unitId, `extension-decision:${d.periodId}:${ext.requestId}`, now, {
    ...periodFields(p, o),
    reason: decision,
    link: 'report',
  });
  return undefined;
}

export function returnReport(wp: WorkPoint, r: ReturnReportSignal, now: Instant): Rejection | undefined {
  const o = obligationOf(wp, r.unitId, r.periodId);
  const p = wp.periods.get(r.periodId);
  if (!o || !p || !currentSubmission(o, now)) {
    return { unitId: r.unitId, periodId: r.periodId, detail: '没有可退回的报告 / no report to return' };
  }
  o.returns.push({ reason: r.reason, by: r.by, at: now });
  const reworkLead = p.dueAt - p.reminderAt;
  moveDue(wp, o, r.newDueAt ?? Math.max(o.dueAt, now + Math.max(reworkLead, DAY)), now);
  record(wp, now, { kind: 'returned', unitId: r.unitId, periodId: r.periodId, detail: r.reason });
  notice(wp, 'returned', r.unitId, `returned:${r.periodId}:${o.returns.length}`, now, {
    ...periodFields(p, o),
    reason: r.reason,
    link: 'report',
  });
  return undefined;
}

/** Who a reminder now goes to: matching obligations without a report in a period already open. */
export const remindable = (wp: WorkPoint, r: Pick<RemindNowSignal, 'unitIds' | 'periodId'>, at: Instant) =>
  wp.state.obligations.filter(
    (o) =>
      (!r.unitIds || r.unitIds.includes(o.unitId)) &&
      (!r.periodId || o.periodId === r.periodId) &&
      !['submitted', 'late', 'waived'].includes(obligationState(o, at)) &&
      at >= (wp.periods.get(o.periodId)?.opensAt ?? 0),
  );

export function remindNow(wp: WorkPoint, r: RemindNowSignal, now: Instant): Rejection | undefined {
  const targets = remindable(wp, r, now);
  if (targets.length === 0) return { periodId: r.periodId, detail: '没有需要提醒的单位 / nobody to remind' };
  for (const o of targets) {
    const p = wp.periods.get(o.periodId);
    if (!p) continue;
    notice(wp, 'reminder', o.unitId, `remind-now:${r.requestId}:${o.periodId}`, now, {
      ...periodFields(p, o),
      link: 'report',
    });
  }
  return undefined;
}

function join(wp: WorkPoint, unit: UnitRef, reason: string, kind: 'unit-added' | 'reassigned', now: Instant) {
  if (isAssigned(wp, unit.id)) return { unitId: unit.id, detail: '单位已在承办名单中 / already assigned' };
  wp.state.units.push(unit);
  for (const p of wp.input.schedule.periods) {
    // A period already past when the unit joins is not owed retroactively.
    if (p.dueAt >= now) wp.state.obligations.push(newObligation(unit.id, p));
  }
  record(wp, now, { kind, unitId: unit.id, detail: reason });
  return undefined;
}

function leave(wp: WorkPoint, unitId: string, reason: string, kind: 'unit-removed' | 'reassigned', now: Instant) {
  if (!isAssigned(wp, unitId)) return { unitId, detail: '单位不在承办名单中 / not assigned' };
  wp.state.units = wp.state.units.filter((u) => u.id !== unitId);
  // Obligations already fulfilled stay as records; open ones end here.
  wp.state.obligations = wp.state.obligations.filter(
    (o) => o.unitId !== unitId || currentSubmission(o, now) !== undefined,
  );
  record(wp, now, { kind, unitId, detail: reason });
  return undefined;
}

export const addUnit = (wp: WorkPoint, a: AddUnitSignal, now: Instant): Rejection | undefined =>
  join(wp, a.unit, a.reason, 'unit-added', now);

export const removeUnit = (wp: WorkPoint, r: RemoveUnitSignal, now: Instant): Rejection | undefined =>
  leave(wp, r.unitId, r.reason, 'unit-removed', now);

export function reassign(wp: WorkPoint, r: ReassignSignal, now: Instant): Rejection | undefined {
  if (!isAssigned(wp, r.fromUnitId)) return { unitId: r.fromUnitId, detail: '单位不在承办名单中 / not assigned' };
  if (isAssigned(wp, r.to.id)) return { unitId: r.to.id, detail: '单位已在承办名单中 / already assigned' };
  const fromName = unitRef(wp, r.fromUnitId).name;
  leave(wp, r.fromUnitId, `${r.reason}（改由${r.to.name}承办）`, 'reassigned', now);
  join(wp, r.to, `${r.reason}（原由${fromName}承办）`, 'reassigned', now);
  return undefined;
}

export function rateReview(wp: WorkPoint, r: RateReviewSignal, now: Instant): Rejection | undefined {
  if (wp.state.review.rating) return { detail: '已评定 / already rated' };
  wp.state.review.rating = { rating: r.rating, comment: r.comment, by: r.by, at: now };
  record(wp, now, { kind: 'rated', detail: `${r.rating}${r.comment ? `：${r.comment}` : ''}` });
  return undefined;
}
