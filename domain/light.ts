import type { Instant, Obligation, ObligationState, ReviewSchedule, ReviewState } from './model';

/**
 * Traffic light of a work point — a pure function of its facts and an instant, so the workflow's
 * live status, the API's projection and a dashboard "as of" a past date all agree.
 *
 * - red:    a unit is overdue (past its due instant without a report; escalated or not), or the
 *           year-end summary is past due and missing while the item is not yet rated.
 * - yellow: something needs attention soon: a unit without a report inside its reminder window,
 *           a report returned for rework, an extension request awaiting the office, or the year-end
 *           summary missing after its reminder instant.
 * - green:  everything else (reports in, waived, or not yet due).
 *
 * Facts dated after `asOf` are ignored. Limitation: an obligation keeps only its current milestones,
 * so "as of" a date before an extension or return uses the new milestones.
 */
export type Light = 'green' | 'yellow' | 'red';

export const OVERDUE_STATES: readonly ObligationState[] = ['overdue', 'escalated-lead', 'escalated-office'];

export function currentRound(o: Obligation, asOf: Instant): number {
  return o.returns.filter((r) => r.at <= asOf).length;
}

export function currentSubmission(o: Obligation, asOf: Instant): Obligation['submissions'][number] | undefined {
  const round = currentRound(o, asOf);
  let found: Obligation['submissions'][number] | undefined;
  for (const s of o.submissions) if (s.round === round && s.submittedAt <= asOf) found = s;
  return found;
}

/** The state of one unit's duty for one period at `asOf`. */
export function obligationState(o: Obligation, asOf: Instant): ObligationState {
  if (o.waived && o.waived.at <= asOf) return 'waived';
  const submission = currentSubmission(o, asOf);
  if (submission) return submission.late ? 'late' : 'submitted';
  if (asOf >= o.officeEscalationAt) return 'escalated-office';
  if (asOf >= o.leadEscalationAt) return 'escalated-lead';
  if (asOf >= o.dueAt) return 'overdue';
  if (currentRound(o, asOf) > 0) return 'returned';
  if (o.acknowledgedAt !== undefined && o.acknowledgedAt <= asOf) return 'acknowledged';
  return 'pending';
}

export function missingSummaries(review: ReviewState, leadUnitIds: readonly string[], asOf: Instant): string[] {
  return leadUnitIds.filter((id) => {
    const s = review.summaries[id];
    return !s || s.submittedAt > asOf;
  });
}

export function trafficLight(
  obligations: readonly Obligation[],
  review: ReviewState,
  reviewSchedule: ReviewSchedule,
  leadUnitIds: readonly string[],
  asOf: Instant,
): Light {
  const rated = review.rating !== undefined && review.rating.at <= asOf;
  const missing = rated ? [] : missingSummaries(review, leadUnitIds, asOf);
  const states = obligations.map((o) => obligationState(o, asOf));
  if (states.some((s) => OVERDUE_STATES.includes(s))) return 'red';
  if (missing.length > 0 && asOf >= reviewSchedule.summaryDueAt) return 'red';
  const inReminderWindow = obligations.some((o, i) => {
    const s = states[i];
    return (s === 'pending' || s === 'acknowledged') && asOf >= o.reminderAt;
  });
  const pendingExtension = obligations.some(
    (o) =>
      o.extension !== undefined &&
      o.extension.requestedAt <= asOf &&
      (o.extension.status === 'pending' || (o.extension.decidedAt ?? 0) > asOf),
  );
  if (inReminderWindow || pendingExtension || states.includes('returned')) return 'yellow';
  if (missing.length > 0 && asOf >= reviewSchedule.summaryReminderAt) return 'yellow';
  return 'green';
}
