import { z } from 'zod';
import { toShanghaiIso } from '../../../domain/schedule';
import { OBLIGATION_STATES, REVIEW_RATINGS, type ObligationState, type ReviewRating } from '../../../domain/model';
import { strictObject, WorkPointParam, YearParam } from '../../schemas/input';
import { ESCALATION_RUNGS } from '../../../domain/escalation';

/** The shapes the cycle routes take and answer (they make the OpenAPI document). */

/** The escalation rung the cycle API shows per work point (the rule is domain/escalation.ts). */
export const EscalationSchema = z
  .enum(ESCALATION_RUNGS)
  .describe('highest rung reached by a unit without a report: overdue (催办), lead (督办), office (通报)');

export const StartBodySchema = strictObject({
  year: z.number().int().min(2000).max(2100).describe('the cycle year'),
  planId: z.number().int().positive().optional().describe('defaults to the latest plan imported for the year'),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'cycle options (periods, due dates, reminder and escalation offsets, review dates; see README); ' +
        'an unknown option, at any level, is refused with 422 invalid_options',
    ),
});

export const CycleRefSchema = z.object({
  year: z.number().int(),
  planId: z.number().int(),
  workflowId: z.string(),
  runId: z.string(),
  workPoints: z.array(z.string()).describe('the work point workflow IDs (wp-<year>-<nn>)'),
  temporalUi: z.string().describe('link to the cycle in the Temporal UI'),
});

export const CycleSummarySchema = z.object({
  year: z.number().int(),
  planId: z.number().int(),
  workflowId: z.string(),
  runId: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  workPoints: z.number().int(),
  lights: z.object({ green: z.number().int(), yellow: z.number().int(), red: z.number().int() }),
  drill: z.boolean().describe('a rehearsal (演练), started with options.drill'),
});

export const YearParams = z.object({ year: YearParam });
export const WorkPointParams = YearParams.extend({ n: WorkPointParam });

export const instant = z.string().describe('ISO-8601 instant in Beijing time (+08:00)');
export const iso = (d: Date | number): string => toShanghaiIso(typeof d === 'number' ? d : d.getTime());

export const LightSchema = z.enum(['green', 'yellow', 'red']);
const UnitRefSchema = z.object({ id: z.string(), name: z.string() });
export const CountsSchema = z
  .record(z.enum(OBLIGATION_STATES), z.number().int())
  .describe('obligations (unit × period) per state, every state listed');

export const zeroCounts = (): Record<ObligationState, number> =>
  Object.fromEntries(OBLIGATION_STATES.map((s) => [s, 0])) as Record<ObligationState, number>;

export const WorkPointDetailSchema = z
  .object({
    year: z.number().int(),
    number: z.number().int(),
    workflowId: z.string(),
    title: z.string(),
    section: z.string().nullable(),
    text: z.string().nullable().describe('the work point as the plan states it'),
    source: z.enum(['projection', 'live']).describe('projection: as last recorded; live: the workflow answered'),
    phase: z.string(),
    light: LightSchema,
    escalation: EscalationSchema,
    asOf: instant.describe('the instant the state was computed for'),
    updatedAt: instant.describe('when the projection last changed'),
    temporalUi: z.string(),
    waitingOn: z.string().describe('what the work point waits for (Markdown, as shown in the Temporal UI)'),
    leadUnits: z.array(UnitRefSchema),
    units: z.array(UnitRefSchema).describe('the responsible units currently assigned'),
    overdueUnits: z.array(UnitRefSchema),
    counts: CountsSchema,
    periods: z.array(z.object({ id: z.string(), label: z.string(), opensAt: instant, dueAt: instant })),
    obligations: z.array(
      z.object({
        unitId: z.string(),
        unitName: z.string(),
        periodId: z.string(),
        periodLabel: z.string(),
        state: z.enum(OBLIGATION_STATES),
        dueAt: instant,
        acknowledgedAt: instant.nullable().describe('签收: when the unit first opened its link'),
        lastSubmittedAt: instant.nullable(),
        submissionCount: z.number().int(),
        submissions: z.array(
          z.object({
            submissionId: z.string(),
            submittedAt: instant,
            receivedAt: instant,
            late: z.boolean(),
            round: z.number().int().describe('rework round: 0 first, +1 after each return'),
            attachments: z.number().int(),
          }),
        ),
        extension: z
          .object({
            requestId: z.string(),
            reason: z.string(),
            wantedDueAt: instant,
            requestedAt: instant,
            status: z.enum(['pending', 'approved', 'rejected']),
            decidedAt: instant.nullable(),
            comment: z.string().nullable(),
          })
          .nullable()
          .describe('the latest extension request (延期申请)'),
        waived: z.object({ reason: z.string(), by: z.string(), at: instant }).nullable(),
        returns: z.array(z.object({ reason: z.string(), by: z.string(), at: instant })),
      }),
    ),
    review: z.object({
      requested: z.boolean().describe('the year-end summary (年终述职) has been asked for'),
      summaryDueAt: instant,
      ratingDueAt: instant,
      summaries: z.array(
        z.object({
          unitId: z.string(),
          unitName: z.string(),
          submissionId: z.string(),
          selfAssessment: z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]),
          submittedAt: instant,
          late: z.boolean(),
        }),
      ),
      rating: z
        .object({
          rating: z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]),
          comment: z.string(),
          by: z.string(),
          at: instant,
        })
        .nullable(),
    }),
    timeline: z.array(
      z.object({
        seq: z.number().int(),
        at: instant,
        kind: z.string().describe('notice, report, waived, deadline-extended, returned, rejected, …'),
        unitId: z.string().nullable(),
        unitName: z.string().nullable(),
        periodId: z.string().nullable(),
        detail: z.string(),
      }),
    ),
  })
  .meta({ id: 'WorkPointDetail' });
