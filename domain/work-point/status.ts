import { escalationCounts, obligationRung } from '../escalation';
import { currentSubmission, missingSummaries, obligationState, OVERDUE_STATES, trafficLight } from '../light';
import type {
  Instant,
  ObligationState,
  ObligationStatus,
  StatusUpdate,
  UnitOutcome,
  WorkPointPhase,
  WorkPointResult,
  WorkPointStatus,
} from '../model';
import { shanghaiDate } from '../instants';
import { unitRef, type WorkPoint } from './context';
import type { ActionResult } from './office-action-rules';

/** What the work point shows: its status (query, projection, Temporal UI details) and, once rated, its result. */

export function buildStatus(wp: WorkPoint, asOf: Instant): WorkPointStatus {
  const { input, state } = wp;
  const obligations = state.obligations.map((o) => obligationStatus(wp, o, asOf));
  const overdueIds = [...new Set(obligations.filter((o) => OVERDUE_STATES.includes(o.state)).map((o) => o.unitId))];
  const requested = state.review.fired.request !== undefined;
  return {
    workflowId: wp.workflowId,
    cycleYear: input.cycleYear,
    number: input.number,
    title: input.title,
    phase: phaseOf(
      wp,
      obligations.map((o) => o.state),
    ),
    light: trafficLight(state.obligations, state.review, input.schedule.review, wp.leadIds, asOf),
    asOf,
    leadUnits: input.leadUnits,
    units: state.units,
    obligations,
    overdueUnits: overdueIds.map((id) => unitRef(wp, id)),
    review: { ...state.review, requested },
    timeline: state.timeline,
    waitingOn: waitingOn(wp, asOf),
  };
}

export function obligationStatus(wp: WorkPoint, o: WorkPoint['state']['obligations'][number], asOf: Instant) {
  const last = o.submissions[o.submissions.length - 1];
  const status: ObligationStatus = {
    unitId: o.unitId,
    unitName: unitRef(wp, o.unitId).name,
    periodId: o.periodId,
    state: obligationState(o, asOf),
    dueAt: o.dueAt,
    acknowledgedAt: o.acknowledgedAt,
    lastSubmittedAt: last?.submittedAt,
    submissions: o.submissions.length,
    extension: o.extension,
  };
  return status;
}

export function phaseOf(wp: WorkPoint, states: readonly ObligationState[]): WorkPointPhase {
  if (wp.state.review.rating) return 'closed';
  if (states.includes('escalated-lead') || states.includes('escalated-office')) return 'escalated';
  if (states.includes('overdue')) return 'overdue';
  return wp.state.review.fired.request !== undefined ? 'review' : 'open';
}

/** Markdown for the Temporal UI: who the work point waits for. */
export function waitingOn(wp: WorkPoint, asOf: Instant): string {
  const { state } = wp;
  if (state.review.rating) return `已评定：${state.review.rating.rating}`;
  const open = state.obligations.filter((o) => {
    const s = obligationState(o, asOf);
    return s !== 'submitted' && s !== 'late' && s !== 'waived' && asOf >= (wp.periods.get(o.periodId)?.opensAt ?? 0);
  });
  const lines = open.slice(0, 10).map((o) => {
    const p = wp.periods.get(o.periodId);
    return `- ${unitRef(wp, o.unitId).name}：${p?.label ?? o.periodId}报告（${obligationState(o, asOf)}，截止 ${shanghaiDate(o.dueAt)}）`;
  });
  if (open.length > 10) lines.push(`- 另有 ${open.length - 10} 项`);
  if (state.review.fired.request !== undefined) {
    const missing = missingSummaries(state.review, wp.leadIds, asOf);
    lines.push(
      missing.length > 0
        ? `- 年度总结：${missing.map((id) => unitRef(wp, id).name).join('、')}`
        : '- 园区依法治区办评定年终述职',
    );
  }
  return lines.length > 0 ? `**等待 / waiting on**\n${lines.join('\n')}` : '暂无待办 / nothing due yet';
}

/**
 * The status projection's delta since the last save (bumps the state's version). Only what changed travels, so
 * history grows with events, not with units × events.
 */
export function statusUpdate(wp: WorkPoint, now: Instant): StatusUpdate {
  const { state } = wp;
  state.statusVersion += 1;
  const { timeline, obligations, ...summary } = buildStatus(wp, now);
  const facts = new Map(state.obligations.map((o) => [`${o.unitId}|${o.periodId}`, o]));
  const withFacts = obligations.flatMap((o) => {
    const f = facts.get(`${o.unitId}|${o.periodId}`);
    return f ? [{ ...o, facts: f }] : [];
  });
  const current = new Map(withFacts.map((o) => [`${o.unitId}|${o.periodId}`, o]));
  const changed = withFacts.filter((o) => state.savedObligations[`${o.unitId}|${o.periodId}`] !== JSON.stringify(o));
  const removed = Object.keys(state.savedObligations).filter((k) => !current.has(k));
  return {
    summary,
    version: state.statusVersion,
    obligations: changed,
    removedObligations: removed.map((k) => {
      const [unitId = '', periodId = ''] = k.split('|');
      return { unitId, periodId };
    }),
    timelineFrom: state.savedTimeline,
    timeline: timeline.slice(state.savedTimeline),
  };
}

/** The search attributes' values for a status summary, as one comparable string. */
export const searchKey = (summary: StatusUpdate['summary']): string =>
  JSON.stringify([summary.phase, summary.overdueUnits.map((u) => u.name)]);

/** Remembers what the projection now holds, so the next update carries only changes. */
export function statusSaved(wp: WorkPoint, update: StatusUpdate): void {
  const { state } = wp;
  state.savedTimeline = update.timelineFrom + update.timeline.length;
  for (const o of update.obligations) state.savedObligations[`${o.unitId}|${o.periodId}`] = JSON.stringify(o);
  for (const r of update.removedObligations) delete state.savedObligations[`${r.unitId}|${r.periodId}`];
}

/** The rated work point's result: each obligation's outcome and escalation rung, and how many were escalated. */
export function buildResult(wp: WorkPoint): WorkPointResult {
  const { state, input } = wp;
  const rating = state.review.rating;
  if (!rating) throw new Error('unreachable: result before rating');
  const outcomes: UnitOutcome[] = state.obligations.map((o) => {
    const sub = currentSubmission(o, rating.at);
    return {
      unitId: o.unitId,
      unitName: unitRef(wp, o.unitId).name,
      periodId: o.periodId,
      outcome: o.waived ? 'waived' : sub ? (sub.late ? 'late' : 'on-time') : 'missing',
      escalation: obligationRung(o),
    };
  });
  const escalations = escalationCounts(state.obligations);
  return {
    workflowId: wp.workflowId,
    number: input.number,
    title: input.title,
    rating: rating.rating,
    comment: rating.comment,
    ratedBy: rating.by,
    ratedAt: rating.at,
    summaries: state.review.summaries,
    outcomes,
    escalations,
  };
}

/** Each obligation's status as JSON, by "unit|period": taken before an action to tell what it changed. */
export function obligationSnapshot(wp: WorkPoint, asOf: Instant): Map<string, string> {
  return new Map(
    wp.state.obligations.map((o) => [`${o.unitId}|${o.periodId}`, JSON.stringify(obligationStatus(wp, o, asOf))]),
  );
}

/** What an accepted action answers: the work point after it, limited to what changed since `before`. */
export function actionResult(wp: WorkPoint, before: Map<string, string>, asOf: Instant): ActionResult {
  const obligations = wp.state.obligations.map((o) => obligationStatus(wp, o, asOf));
  const keys = new Set(obligations.map((o) => `${o.unitId}|${o.periodId}`));
  return {
    workflowId: wp.workflowId,
    phase: phaseOf(
      wp,
      obligations.map((o) => o.state),
    ),
    light: trafficLight(wp.state.obligations, wp.state.review, wp.input.schedule.review, wp.leadIds, asOf),
    units: wp.state.units,
    obligations: obligations.filter((o) => before.get(`${o.unitId}|${o.periodId}`) !== JSON.stringify(o)),
    removedObligations: [...before.keys()]
      .filter((k) => !keys.has(k))
      .map((k) => {
        const [unitId = '', periodId = ''] = k.split('|');
        return { unitId, periodId };
      }),
    notices: wp.out.notices.map((n) => ({ unitId: n.unitId, kind: n.kind, periodId: n.periodId })),
    ...(wp.state.review.rating ? { rating: wp.state.review.rating } : {}),
  };
}
