import { z } from 'zod';
import type { ObligationState } from '../../../domain/model';

/*
 * The escalation rung the cycle API shows per work point. Its one rule is escalationRung below; when domain/ has the
 * escalation rule, that function is the one line to swap.
 */

export const ESCALATION_RUNGS = ['none', 'overdue', 'lead', 'office'] as const;
export type EscalationRung = (typeof ESCALATION_RUNGS)[number];

export const EscalationSchema = z
  .enum(ESCALATION_RUNGS)
  .describe('highest rung reached by a unit without a report: overdue (催办), lead (督办), office (通报)');

/** Reported, waived and not-yet-due units do not count: the rung says how far the chase of a late unit has gone. */
export function escalationRung(counts: Record<ObligationState, number>): EscalationRung {
  if (counts['escalated-office'] > 0) return 'office';
  if (counts['escalated-lead'] > 0) return 'lead';
  if (counts.overdue > 0) return 'overdue';
  return 'none';
}
