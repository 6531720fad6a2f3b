import { currentRound, missingSummaries, obligationState } from '../light';
import type { Instant, Milestone, Obligation, PeriodSchedule } from '../model';
import { notice, periodFields, unitRef, type WorkPoint } from './context';

/**
 * The work point's clock: each obligation's milestones (assignment, reminder, overdue notice, escalation to the
 * lead units, then to the office) and the year-end review's. `advance` fires what is due and says when to wake next.
 */

export const MILESTONES: readonly Milestone[] = ['assignment', 'reminder', 'overdue', 'lead', 'office'];

export function milestoneAt(periods: Map<string, PeriodSchedule>, o: Obligation, m: Milestone): Instant {
  switch (m) {
    case 'assignment':
      return Math.max(periods.get(o.periodId)?.opensAt ?? 0, 0);
    case 'reminder':
      return o.reminderAt;
    case 'overdue':
      return o.overdueNoticeAt;
    case 'lead':
      return o.leadEscalationAt;
    case 'office':
      return o.officeEscalationAt;
  }
}

/**
 * Move an obligation's due instant; the other milestones keep their distance to it. Milestones now in the future
 * are re-armed; a reminder whose new instant has already passed is skipped rather than sent late next to the notice
 * that announced the move.
 */
export function moveDue(wp: WorkPoint, o: Obligation, newDueAt: Instant, now: Instant): void {
  const delta = newDueAt - o.dueAt;
  o.dueAt = newDueAt;
  o.reminderAt += delta;
  o.overdueNoticeAt += delta;
  o.leadEscalationAt += delta;
  o.officeEscalationAt += delta;
  for (const m of ['reminder', 'overdue', 'lead', 'office'] as const) {
    if (milestoneAt(wp.periods, o, m) > now) delete o.fired[m];
    else if (m === 'reminder') o.fired.reminder ??= o.reminderAt;
  }
  wp.out.statusChanged = true;
}

/** Fire every milestone whose instant has come, oldest first. Returns the next instant to wake at. */
export function advance(wp: WorkPoint, at: Instant): Instant | undefined {
  const { input, state } = wp;
  let next: Instant | undefined;
  const later = (t: Instant) => {
    if (t > at && (next === undefined || t < next)) next = t;
  };
  for (const o of state.obligations) {
    const p = wp.periods.get(o.periodId);
    if (!p) continue;
    for (const m of MILESTONES) {
      if (o.fired[m] !== undefined) continue;
      const due = milestoneAt(wp.periods, o, m);
      if (due > at) {
        later(due);
        continue;
      }
      o.fired[m] = due;
      const s = obligationState(o, at);
      const done = s === 'submitted' || s === 'late' || s === 'waived';
      const base = `${m}:${o.periodId}:${o.unitId}:r${currentRound(o, at)}:${o.dueAt}`;
      const fields = periodFields(p, o);
      if (m === 'assignment') {
        notice(wp, 'assignment', o.unitId, `assignment:${o.periodId}`, due, { ...fields, link: 'report' });
      } else if (done) {
        continue;
      } else if (m === 'reminder') {
        notice(wp, 'reminder', o.unitId, base, due, { ...fields, link: 'report' });
      } else if (m === 'overdue') {
        notice(wp, 'overdue', o.unitId, base, due, { ...fields, link: 'report' });
      } else if (m === 'lead') {
        for (const lead of input.leadUnits) {
          notice(wp, 'escalation-lead', lead.id, base, due, { ...fields, aboutUnits: [unitRef(wp, o.unitId)] });
        }
      } else {
        notice(wp, 'escalation-office', input.office.id, base, due, {
          ...fields,
          aboutUnits: [unitRef(wp, o.unitId)],
        });
      }
      wp.out.statusChanged = true;
    }
  }

  const r = input.schedule.review;
  const fired = state.review.fired;
  const reviewEvents: [keyof typeof fired, Instant][] = [
    ['request', r.requestAt],
    ['reminder', r.summaryReminderAt],
    ['overdue', r.summaryDueAt],
    ['office', r.officeEscalationAt],
    ['ratingDue', r.ratingDueAt],
  ];
  for (const [event, due] of reviewEvents) {
    if (fired[event] !== undefined || state.review.rating) continue;
    if (due > at) {
      later(due);
      continue;
    }
    fired[event] = due;
    wp.out.statusChanged = true;
    const missing = missingSummaries(state.review, wp.leadIds, at);
    const reviewFields = { periodId: 'review', periodLabel: '年度总结', dueAt: r.summaryDueAt };
    if (event === 'request') {
      for (const lead of input.leadUnits) {
        notice(wp, 'review-request', lead.id, 'review-request', due, { ...reviewFields, link: 'summary' });
      }
    } else if (event === 'reminder' || event === 'overdue') {
      for (const id of missing) {
        notice(wp, event === 'reminder' ? 'review-reminder' : 'review-overdue', id, `review-${event}`, due, {
          ...reviewFields,
          link: 'summary',
        });
      }
    } else if (event === 'office') {
      if (missing.length > 0) {
        notice(wp, 'review-escalation-office', input.office.id, 'review-office', due, {
          ...reviewFields,
          aboutUnits: missing.map((id) => unitRef(wp, id)),
        });
      }
    } else {
      notice(wp, 'rating-due', input.office.id, 'rating-due', due, { ...reviewFields, dueAt: r.ratingDueAt });
    }
  }
  return next;
}
