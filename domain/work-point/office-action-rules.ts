import { currentSubmission } from '../light';
import type { Instant, ObligationStatus, ReviewState, UnitRef, WorkPointPhase } from '../model';
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
import type { Light } from '../light';
import { isAssigned, obligationOf, type WorkPoint } from './context';
import { remindable, waivable } from './office-actions';

/**
 * The workflow-state rules of the office's actions: the validators of their Updates, and so the only judge of
 * whether an action fits the work point. A refusal carries a stable code (the ApplicationFailure's `type`), a
 * message in Chinese + " / " + English, and whether it conflicts with the current state or does not fit the work
 * point at all (the API answers 409 or 422).
 */

export const ACTION_REFUSALS = {
  work_point_closed: 'conflict',
  already_rated: 'conflict',
  already_waived: 'conflict',
  no_pending_extension: 'conflict',
  nothing_to_return: 'conflict',
  unit_already_assigned: 'conflict',
  nothing_to_extend: 'conflict',
  nobody_to_remind: 'conflict',
  unknown_period: 'invalid',
  unit_not_assigned: 'invalid',
  due_in_past: 'invalid',
} as const;
export type ActionRefusal = keyof typeof ACTION_REFUSALS;
export const isActionRefusal = (type: unknown): type is ActionRefusal =>
  typeof type === 'string' && Object.hasOwn(ACTION_REFUSALS, type);

export interface Refusal {
  code: ActionRefusal;
  message: string;
  details?: Record<string, unknown>;
}

/** What an accepted action answers: the work point after it, limited to what the action changed. */
export interface ActionResult {
  workflowId: string;
  phase: WorkPointPhase;
  light: Light;
  units: UnitRef[];
  /** Obligations the action changed, added or (removedObligations) ended, as they stand now. */
  obligations: ObligationStatus[];
  removedObligations: { unitId: string; periodId: string }[];
  /** The notices the action sent. */
  notices: { unitId: string; kind: string; periodId?: string }[];
  rating?: ReviewState['rating'];
}

/** Remind across several work points (bulk): listed units a work point does not have are skipped there. */
export interface RemindNowUpdate extends RemindNowSignal {
  onlyAssigned?: boolean;
}

function closed(wp: WorkPoint): Refusal | undefined {
  if (!wp.state.review.rating) return undefined;
  const n = wp.input.number;
  return {
    code: 'work_point_closed',
    message: `第${n}条已评定办结，不能再变更 / work point ${n} has been rated and closed`,
  };
}

function unknownPeriod(wp: WorkPoint, periodId: string | undefined): Refusal | undefined {
  if (periodId === undefined || wp.periods.has(periodId)) return undefined;
  const ids = [...wp.periods.keys()];
  return {
    code: 'unknown_period',
    message:
      `时段 “${periodId}” 不在 ${wp.input.cycleYear} 年度的报送安排中（可用：${ids.join('、')}） / ` +
      `period "${periodId}" is not in the ${wp.input.cycleYear} schedule (use one of: ${ids.join(', ')})`,
    details: { periods: ids },
  };
}

function notAssigned(wp: WorkPoint, unitId: string): Refusal {
  const n = wp.input.number;
  return {
    code: 'unit_not_assigned',
    message:
      `单位 “${unitId}” 不是第${n}条的责任单位（现有：${wp.state.units.map((u) => u.name).join('、') || '无'}） / ` +
      `unit "${unitId}" is not assigned to work point ${n}`,
    details: { assigned: wp.state.units.map((u) => u.id) },
  };
}

function owesNothing(wp: WorkPoint, unitId: string, periodId: string): Refusal | undefined {
  if (obligationOf(wp, unitId, periodId)) return undefined;
  const n = wp.input.number;
  return {
    code: 'unit_not_assigned',
    message:
      `单位 “${unitId}” 在第${n}条没有 ${periodId} 时段的报送任务 / ` +
      `unit "${unitId}" owes no report for period ${periodId} of work point ${n}`,
  };
}

function inPast(at: Instant | undefined, now: Instant): Refusal | undefined {
  if (at === undefined || at > now) return undefined;
  return {
    code: 'due_in_past',
    message: `newDueAt 必须晚于现在（收到 ${new Date(at).toISOString()}） / newDueAt must be in the future`,
    details: { newDueAt: at, now },
  };
}

const alreadyAssigned = (wp: WorkPoint, unit: UnitRef): Refusal => ({
  code: 'unit_already_assigned',
  message: `“${unit.name}” 已是第${wp.input.number}条的责任单位 / unit "${unit.id}" is already assigned to work point ${wp.input.number}`,
});

export function checkExtend(wp: WorkPoint, e: ExtendDeadlineSignal, now: Instant): Refusal | undefined {
  const first = closed(wp) ?? unknownPeriod(wp, e.periodId) ?? inPast(e.newDueAt, now);
  if (first) return first;
  for (const id of e.unitIds ?? []) {
    const r = owesNothing(wp, id, e.periodId);
    if (r) return r;
  }
  if (!wp.state.obligations.some((o) => o.periodId === e.periodId)) {
    const n = wp.input.number;
    return {
      code: 'nothing_to_extend',
      message: `第${n}条没有 ${e.periodId} 时段的报送任务 / no obligations for ${e.periodId}`,
    };
  }
  return undefined;
}

export function checkWaive(wp: WorkPoint, w: WaiveSignal): Refusal | undefined {
  const first = closed(wp) ?? unknownPeriod(wp, w.periodId);
  if (first) return first;
  const mine = wp.state.obligations.filter(
    (o) => o.unitId === w.unitId && (w.periodId === undefined || o.periodId === w.periodId),
  );
  if (mine.length === 0) {
    return w.periodId !== undefined && isAssigned(wp, w.unitId)
      ? owesNothing(wp, w.unitId, w.periodId)
      : notAssigned(wp, w.unitId);
  }
  if (waivable(wp, w).length === 0) {
    const n = wp.input.number;
    return {
      code: 'already_waived',
      message: `该单位在第${n}条的报送已免报 / already waived for work point ${n}`,
      details: { unitId: w.unitId, periodId: w.periodId },
    };
  }
  return undefined;
}

export function checkDecideExtension(wp: WorkPoint, d: DecideExtensionSignal, now: Instant): Refusal | undefined {
  const first = closed(wp) ?? unknownPeriod(wp, d.periodId) ?? owesNothing(wp, d.unitId, d.periodId);
  if (first) return first;
  const o = obligationOf(wp, d.unitId, d.periodId);
  if (o?.extension?.status !== 'pending') {
    return {
      code: 'no_pending_extension',
      message: `${d.unitId} 在第${wp.input.number}条 ${d.periodId} 时段没有待审批的延期申请 / no pending extension request`,
    };
  }
  return d.approved ? inPast(d.newDueAt, now) : undefined;
}

export function checkReturn(wp: WorkPoint, r: ReturnReportSignal, now: Instant): Refusal | undefined {
  const first = closed(wp) ?? unknownPeriod(wp, r.periodId) ?? owesNothing(wp, r.unitId, r.periodId);
  if (first) return first;
  const o = obligationOf(wp, r.unitId, r.periodId);
  if (!o || !currentSubmission(o, now)) {
    return {
      code: 'nothing_to_return',
      message: `${r.unitId} 在第${wp.input.number}条 ${r.periodId} 时段没有可退回的报告 / no report to return`,
    };
  }
  return inPast(r.newDueAt, now);
}

/** The units a remind names, as this work point takes them (bulk: those of the listed it has). */
export function remindUnits(wp: WorkPoint, r: RemindNowUpdate): string[] | undefined {
  if (!r.unitIds || !r.onlyAssigned) return r.unitIds;
  return r.unitIds.filter((id) => wp.state.obligations.some((o) => o.unitId === id));
}

export function checkRemind(wp: WorkPoint, r: RemindNowUpdate, now: Instant): Refusal | undefined {
  const first = closed(wp) ?? unknownPeriod(wp, r.periodId);
  if (first) return first;
  const unitIds = remindUnits(wp, r);
  if (unitIds?.length === 0) return notAssigned(wp, r.unitIds?.join(', ') ?? '');
  for (const id of unitIds ?? []) {
    if (!wp.state.obligations.some((o) => o.unitId === id)) return notAssigned(wp, id);
  }
  if (remindable(wp, { unitIds, periodId: r.periodId }, now).length === 0) {
    const n = wp.input.number;
    return {
      code: 'nobody_to_remind',
      message: `第${n}条没有需要提醒的单位（均已报送、免报或时段未开始） / nobody to remind on work point ${n}`,
    };
  }
  return undefined;
}

export function checkAddUnit(wp: WorkPoint, a: AddUnitSignal): Refusal | undefined {
  return closed(wp) ?? (isAssigned(wp, a.unit.id) ? alreadyAssigned(wp, a.unit) : undefined);
}

export function checkRemoveUnit(wp: WorkPoint, r: RemoveUnitSignal): Refusal | undefined {
  return closed(wp) ?? (isAssigned(wp, r.unitId) ? undefined : notAssigned(wp, r.unitId));
}

export function checkReassign(wp: WorkPoint, r: ReassignSignal): Refusal | undefined {
  return (
    closed(wp) ??
    (isAssigned(wp, r.fromUnitId) ? undefined : notAssigned(wp, r.fromUnitId)) ??
    (isAssigned(wp, r.to.id) ? alreadyAssigned(wp, r.to) : undefined)
  );
}

export function checkRate(wp: WorkPoint, _r: RateReviewSignal): Refusal | undefined {
  const rating = wp.state.review.rating;
  if (!rating) return undefined;
  return {
    code: 'already_rated',
    message: `第${wp.input.number}条已评定为“${rating.rating}”，不能再次评定 / work point ${wp.input.number} is already rated (${rating.rating})`,
    details: { rating: rating.rating, by: rating.by, at: rating.at },
  };
}
