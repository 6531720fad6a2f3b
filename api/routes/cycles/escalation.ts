import { z } from 'zod';
import { ESCALATION_RUNGS } from '../../../domain/escalation';

/** The escalation rung the cycle API shows per work point (the rule is domain/escalation.ts). */
export const EscalationSchema = z
  .enum(ESCALATION_RUNGS)
  .describe('highest rung reached by a unit without a report: overdue (催办), lead (督办), office (通报)');
