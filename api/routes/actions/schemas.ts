import { z } from 'zod';
import { tryParseInstant } from '../../../domain/schedule';
import { REVIEW_RATINGS, type ReviewRating } from '../../../domain/model';
import { strictObject, WorkPointParam, YearParam } from '../../schemas/input';

/** The request and answer shapes of the office's actions (single and bulk). */

export const ACTIONS = [
  'extend',
  'waive',
  'reassign',
  'add-unit',
  'remove-unit',
  'decide-extension',
  'return',
  'remind',
  'rate',
] as const;
export type ActionName = (typeof ACTIONS)[number];

export const WorkPointParams = z.object({ year: YearParam, n: WorkPointParam });
export const YearParams = WorkPointParams.pick({ year: true });

export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('optional: a repeat with the same key returns the first answer and does not act again'),
});

const Reason = z.string().trim().min(1).max(1000).describe('why (recorded in the audit trail and the timeline)');
export const UnitId = z.string().trim().min(1).max(100).describe('unit id from the directory, e.g. jingfa-ju');
const PeriodId = z.string().trim().min(1).max(32).describe('period id of the cycle schedule, e.g. H1 or annual');
const InstantInput = z
  .string()
  .refine((s) => tryParseInstant(s) !== undefined, {
    message: 'expected an ISO instant with offset, e.g. 2023-07-20T18:00:00+08:00',
  })
  .describe('ISO-8601 instant with offset, e.g. 2023-07-20T18:00:00+08:00');
const Rating = z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]);

export const ExtendBody = strictObject({
  periodId: PeriodId,
  newDueAt: InstantInput,
  unitIds: z.array(UnitId).min(1).optional().describe('default: every unit of the period'),
  reason: Reason,
});
export const WaiveBody = strictObject({
  unitId: UnitId,
  periodId: PeriodId.optional().describe('default: every period'),
  reason: Reason,
});
export const ReassignBody = strictObject({ fromUnitId: UnitId, toUnitId: UnitId, reason: Reason });
export const AddUnitBody = strictObject({ unitId: UnitId, reason: Reason });
export const RemoveUnitBody = strictObject({ reason: Reason });
export const DecideBody = strictObject({
  unitId: UnitId,
  periodId: PeriodId,
  approved: z.boolean(),
  comment: z.string().trim().max(1000).optional(),
  newDueAt: InstantInput.optional().describe('only when approved; default: the date the unit asked for'),
});
export const ReturnBody = strictObject({
  unitId: UnitId,
  periodId: PeriodId,
  reason: Reason,
  newDueAt: InstantInput.optional().describe('rework due date; default: the workflow gives the reminder lead time'),
});
export const RemindBody = strictObject({
  unitIds: z.array(UnitId).min(1).optional().describe('default: every unit that has not reported'),
  periodId: PeriodId.optional().describe('default: every open period'),
});
export const RateBody = strictObject({ rating: Rating, comment: z.string().trim().max(2000) });

const ObligationStateSchema = z.object({
  unitId: z.string(),
  unitName: z.string(),
  periodId: z.string(),
  state: z.string(),
  dueAt: z.number().describe('epoch milliseconds'),
  acknowledgedAt: z.number().optional(),
  lastSubmittedAt: z.number().optional(),
  submissions: z.number().int(),
  extension: z
    .object({
      requestId: z.string(),
      reason: z.string(),
      wantedDueAt: z.number(),
      requestedAt: z.number(),
      status: z.enum(['pending', 'approved', 'rejected']),
      decidedAt: z.number().optional(),
      comment: z.string().optional(),
    })
    .optional(),
});

export const ActionStateSchema = z
  .object({
    workflowId: z.string(),
    phase: z.string(),
    light: z.enum(['green', 'yellow', 'red']),
    units: z.array(z.object({ id: z.string(), name: z.string() })),
    obligations: z
      .array(ObligationStateSchema)
      .describe('the obligations the action changed or added, as they are now'),
    removedObligations: z.array(z.object({ unitId: z.string(), periodId: z.string() })),
    notices: z.array(z.object({ unitId: z.string(), kind: z.string(), periodId: z.string().optional() })),
    rating: z.object({ rating: z.string(), comment: z.string(), by: z.string(), at: z.number() }).optional(),
  })
  .describe('the work point after the action, as its workflow answered (only what the action changed)')
  .meta({ id: 'ActionState' });

export const AcceptedSchema = z
  .object({
    accepted: z.literal(true),
    workflowId: z.string(),
    auditId: z.number().int().describe('the audit_log row (GET /api/audit)'),
    requestId: z.string().optional().describe('remind: the id the reminders carry'),
    state: ActionStateSchema,
  })
  .meta({ id: 'ActionAccepted' });
export type Accepted = z.infer<typeof AcceptedSchema>;

const WorkPoints = z
  .array(z.number().int().min(1).max(999))
  .min(1)
  .max(500)
  .describe('work point numbers (第N条) to apply the action to');

export const BulkBody = z.discriminatedUnion('action', [
  ExtendBody.extend({ action: z.literal('extend'), workPoints: WorkPoints }),
  WaiveBody.omit({ unitId: true }).extend({
    action: z.literal('waive'),
    workPoints: WorkPoints,
    unitIds: z.array(UnitId).min(1).describe('one target per work point × unit'),
  }),
  ReassignBody.extend({ action: z.literal('reassign'), workPoints: WorkPoints }),
  AddUnitBody.extend({ action: z.literal('add-unit'), workPoints: WorkPoints }),
  RemoveUnitBody.extend({ action: z.literal('remove-unit'), workPoints: WorkPoints, unitId: UnitId }),
  DecideBody.extend({ action: z.literal('decide-extension'), workPoints: WorkPoints }),
  ReturnBody.extend({ action: z.literal('return'), workPoints: WorkPoints }),
  RemindBody.extend({
    action: z.literal('remind'),
    workPoints: WorkPoints,
    unitIds: z
      .array(UnitId)
      .min(1)
      .optional()
      .describe('default: every unit that has not reported; per work point, those of the listed units it has'),
  }),
  RateBody.extend({ action: z.literal('rate'), workPoints: WorkPoints }),
]);
export type BulkBody = z.infer<typeof BulkBody>;

export const TargetResultSchema = z.object({
  workPoint: z.number().int(),
  unitId: z.string().optional().describe('waive: the unit of this target'),
  ok: z.boolean().describe('true: the workflow accepted the action'),
  status: z
    .number()
    .int()
    .describe('what a single request for this target would have answered (200, 404, 409, 422, …)'),
  workflowId: z.string().optional(),
  auditId: z.number().int().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type TargetResult = z.infer<typeof TargetResultSchema>;

export const BulkResultSchema = z
  .object({
    action: z.enum(ACTIONS),
    accepted: z.number().int().describe('targets whose action the workflow accepted'),
    failed: z.number().int(),
    requestId: z.string().optional(),
    results: z.array(TargetResultSchema),
  })
  .meta({ id: 'BulkActionResult' });
