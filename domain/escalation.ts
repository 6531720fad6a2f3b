import { obligationState } from './light';
import type { Instant, Obligation, ObligationState } from './model';

/**
 * The one escalation rule: how far the chase of a unit that has not reported went. `overdue` = the overdue notice
 * (催办), `lead` = escalated to the lead units (督办), `office` = escalated to the office (通报). The work point's
 * result, the cycle view and the report read it from here.
 */
export const ESCALATION_RUNGS = ['none', 'overdue', 'lead', 'office'] as const;
export type EscalationRung = (typeof ESCALATION_RUNGS)[number];

const DONE: readonly ObligationState[] = ['submitted', 'late', 'waived'];

/** Whether the unit still owed the report at `at` (not reported, not waived). */
export function wasOpenAt(o: Obligation, at: Instant): boolean {
  return !DONE.includes(obligationState(o, at));
}

/** The highest milestone that fired while the obligation was still open: what the unit went through. */
export function obligationRung(o: Obligation): EscalationRung {
  const { fired } = o;
  if (fired.office !== undefined && wasOpenAt(o, fired.office)) return 'office';
  if (fired.lead !== undefined && wasOpenAt(o, fired.lead)) return 'lead';
  if (fired.overdue !== undefined && wasOpenAt(o, fired.overdue)) return 'overdue';
  return 'none';
}

/** The rung an obligation's current state stands on (reported, waived and not-yet-due ones stand on none). */
export function rungOfState(state: ObligationState): EscalationRung {
  if (state === 'escalated-office') return 'office';
  if (state === 'escalated-lead') return 'lead';
  if (state === 'overdue') return 'overdue';
  return 'none';
}

/** The highest of several rungs: a work point stands where its most chased unit stands. */
export function highestRung(rungs: Iterable<EscalationRung>): EscalationRung {
  let top = 0;
  for (const r of rungs) top = Math.max(top, ESCALATION_RUNGS.indexOf(r));
  return ESCALATION_RUNGS[top] ?? 'none';
}

/** A work point's rung from its count of obligations per state (what the cycle view holds). */
export function rungOfCounts(counts: Partial<Record<ObligationState, number>>): EscalationRung {
  return highestRung(
    (Object.keys(counts) as ObligationState[]).filter((s) => (counts[s] ?? 0) > 0).map((s) => rungOfState(s)),
  );
}

/**
 * How many of a work point's obligations (unit × period) the chase took to the lead units and to the office: the
 * escalation counts of the work point's result and of the annual report. An obligation escalated to the office went
 * through the lead rung first, so it counts in both.
 */
export function escalationCounts(obligations: Iterable<Obligation>): { lead: number; office: number } {
  const counts = { lead: 0, office: 0 };
  for (const o of obligations) {
    const rung = obligationRung(o);
    if (rung === 'lead' || rung === 'office') counts.lead += 1;
    if (rung === 'office') counts.office += 1;
  }
  return counts;
}
