import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Pool } from 'pg';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { isGrpcServiceError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { cycleScheduleFor } from '../../services/cycle-preparation';
import { tryParseInstant } from '../../domain/schedule';
import {
  answerActionKey,
  claimActionKey,
  insertPendingAudit,
  releaseActionKey,
  settleAudit,
} from '../../db/audit-repo';
import { getCycle, getUnit, getWorkPoint } from '../../db/replies-repo';
import type { Actor } from '../../db/tokens-repo';
import {
  REVIEW_RATINGS,
  type ExtensionRequest,
  type ObligationState,
  type PeriodSchedule,
  type ReviewRating,
  type UnitRef,
  type WorkPointStatus,
} from '../../domain/model';
import {
  addUnitSignal,
  decideExtensionSignal,
  extendDeadlineSignal,
  rateReviewSignal,
  reassignSignal,
  remindNowSignal,
  removeUnitSignal,
  returnReportSignal,
  waiveSignal,
  workPointWorkflowId,
} from '../../workflows/shared';
import { DomainError, errorResponses } from '../errors';
import { NoQuery, strictObject, WorkPointParam, YearParam } from '../schemas/input';

/**
 * The office's actions on a running cycle (admin tokens only; api/plugins/auth.ts refuses viewers):
 * each one becomes a signal to the work point workflow, and each one lands in the audit trail.
 *
 * Order of one action, and why:
 * 1. Idempotency-Key: a repeat of an answered request gets the stored answer; nothing is sent again.
 * 2. Pre-validation against the status projection: an unknown unit or period, a closed work point, … is a
 *    4xx before anything is written or sent (the workflow would reject it too, but only into its timeline).
 * 3. `describe` the workflow (same 5 s deadline as the signal): when Temporal does not answer, the action
 *    is refused with 503 *before* an audit row exists, so an outage leaves no trace claiming anything.
 * 4. Audit row with outcome 'pending', then the signal, then the row settles: 'accepted' (Temporal durably
 *    accepted the signal), 'failed' (Temporal refused or was unreachable: nothing happened) or 'unknown'
 *    (no answer in time: the signal may or may not have landed). Never 'accepted' for something that did not
 *    happen, and every signal Temporal accepted has a row.
 *
 * 'accepted' means the workflow has the signal, not that it agreed: a request the projection could not
 * catch (e.g. racing another change) is still rejected by the workflow and shows as 'rejected' in its timeline.
 */

/** How long an action waits for Temporal (describe + signal) before answering 503. */
const SIGNAL_DEADLINE_MS = 5_000;
/** Bulk targets processed at once. */
const BULK_CONCURRENCY = 8;
const GRPC_UNAVAILABLE = 14;

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

// ─── Schemas ─────────────────────────────────────────────────────────────────────────────────────

const WorkPointParams = z.object({ year: YearParam, n: WorkPointParam });
const YearParams = WorkPointParams.pick({ year: true });

const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('optional: a repeat with the same key returns the first answer and does not act again'),
});

const Reason = z.string().trim().min(1).max(1000).describe('why (recorded in the audit trail and the timeline)');
const UnitId = z.string().trim().min(1).max(100).describe('unit id from the directory, e.g. jingfa-ju');
const PeriodId = z.string().trim().min(1).max(32).describe('period id of the cycle schedule, e.g. H1 or annual');
const InstantInput = z
  .string()
  .refine((s) => tryParseInstant(s) !== undefined, {
    message: 'expected an ISO instant with offset, e.g. 2023-07-20T18:00:00+08:00',
  })
  .describe('ISO-8601 instant with offset, e.g. 2023-07-20T18:00:00+08:00');
const Rating = z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]);

const ExtendBody = strictObject({
  periodId: PeriodId,
  newDueAt: InstantInput,
  unitIds: z.array(UnitId).min(1).optional().describe('default: every unit of the period'),
  reason: Reason,
});
const WaiveBody = strictObject({
  unitId: UnitId,
  periodId: PeriodId.optional().describe('default: every period'),
  reason: Reason,
});
const ReassignBody = strictObject({ fromUnitId: UnitId, toUnitId: UnitId, reason: Reason });
const AddUnitBody = strictObject({ unitId: UnitId, reason: Reason });
const RemoveUnitBody = strictObject({ reason: Reason });
const DecideBody = strictObject({
  unitId: UnitId,
  periodId: PeriodId,
  approved: z.boolean(),
  comment: z.string().trim().max(1000).optional(),
  newDueAt: InstantInput.optional().describe('only when approved; default: the date the unit asked for'),
});
const ReturnBody = strictObject({
  unitId: UnitId,
  periodId: PeriodId,
  reason: Reason,
  newDueAt: InstantInput.optional().describe('rework due date; default: the workflow gives the reminder lead time'),
});
const RemindBody = strictObject({
  unitIds: z.array(UnitId).min(1).optional().describe('default: every unit that has not reported'),
  periodId: PeriodId.optional().describe('default: every open period'),
});
const RateBody = strictObject({ rating: Rating, comment: z.string().trim().max(2000) });

const AcceptedSchema = z
  .object({
    accepted: z.literal(true),
    workflowId: z.string(),
    auditId: z.number().int().describe('the audit_log row (GET /api/audit)'),
    requestId: z.string().optional().describe('remind: the id the reminders carry'),
  })
  .meta({ id: 'ActionAccepted' });
type Accepted = z.infer<typeof AcceptedSchema>;

const WorkPoints = z
  .array(z.number().int().min(1).max(999))
  .min(1)
  .max(500)
  .describe('work point numbers (第N条) to apply the action to');

const BulkBody = z.discriminatedUnion('action', [
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
type BulkBody = z.infer<typeof BulkBody>;

const TargetResultSchema = z.object({
  workPoint: z.number().int(),
  unitId: z.string().optional().describe('waive: the unit of this target'),
  ok: z.boolean().describe('true: Temporal accepted the signal'),
  status: z.number().int().describe('what a single request for this target would have answered (202, 404, 422, …)'),
  workflowId: z.string().optional(),
  auditId: z.number().int().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
type TargetResult = z.infer<typeof TargetResultSchema>;
const BulkResultSchema = z
  .object({
    action: z.enum(ACTIONS),
    accepted: z.number().int().describe('targets whose signal Temporal accepted'),
    failed: z.number().int(),
    requestId: z.string().optional(),
    results: z.array(TargetResultSchema),
  })
  .meta({ id: 'BulkActionResult' });

// ─── The projection of a work point, as pre-validation sees it ───────────────────────────────────

interface CycleContext {
  year: number;
  planId: number;
  periods: PeriodSchedule[];
}

interface Target {
  year: number;
  number: number;
  workflowId: string;
  title: string;
  periods: PeriodSchedule[];
  units: UnitRef[];
  obligations: {
    unitId: string;
    unitName: string;
    periodId: string;
    state: ObligationState;
    extension: ExtensionRequest | null;
  }[];
}

/** What one action sends and what its audit row says. */
interface Prepared {
  reason: string | null;
  details: Record<string, unknown>;
  send(handle: WorkflowHandle): Promise<void>;
}

const REPORTED: readonly ObligationState[] = ['submitted', 'late'];
const DONE: readonly ObligationState[] = ['submitted', 'late', 'waived'];

const invalid = (code: string, message: string, details?: unknown) => new DomainError(422, code, message, details);

function periodOf(t: Target, periodId: string): PeriodSchedule {
  const p = t.periods.find((x) => x.id === periodId);
  if (!p) {
    const known = t.periods.map((x) => x.id).join('、');
    throw invalid(
      'unknown_period',
      `时段 “${periodId}” 不在 ${t.year} 年度的报送安排中（可用：${known}） / ` +
        `period "${periodId}" is not in the ${t.year} schedule (use one of: ${t.periods.map((x) => x.id).join(', ')})`,
    );
  }
  return p;
}

function assignedUnit(t: Target, unitId: string): UnitRef {
  const unit = t.units.find((u) => u.id === unitId);
  if (!unit) throw notAssigned(t, unitId);
  return unit;
}

function notAssigned(t: Target, unitId: string): DomainError {
  return invalid(
    'unit_not_assigned',
    `单位 “${unitId}” 不是第${t.number}条的责任单位（现有：${t.units.map((u) => u.name).join('、') || '无'}） / ` +
      `unit "${unitId}" is not assigned to work point ${t.number}`,
    { assigned: t.units.map((u) => u.id) },
  );
}

function obligationOf(t: Target, unitId: string, periodId: string) {
  periodOf(t, periodId);
  const o = t.obligations.find((x) => x.unitId === unitId && x.periodId === periodId);
  if (!o) {
    throw invalid(
      'unit_not_assigned',
      `单位 “${unitId}” 在第${t.number}条没有 ${periodId} 时段的报送任务 / ` +
        `unit "${unitId}" owes no report for period ${periodId} of work point ${t.number}`,
    );
  }
  return o;
}

function futureInstant(value: string, field: string): number {
  const at = tryParseInstant(value);
  if (at === undefined) throw invalid('invalid_instant', `${field} 不是有效时间 / ${field} is not a valid instant`);
  if (at <= Date.now()) {
    throw invalid(
      'due_in_past',
      `${field} 必须晚于现在（收到 ${value}） / ${field} must be in the future (got ${value})`,
    );
  }
  return at;
}

/** An active unit of the directory, for units joining a work point. */
async function directoryUnit(db: Pool, unitId: string): Promise<UnitRef> {
  const unit = await getUnit(db, unitId);
  if (!unit) {
    throw invalid(
      'unknown_unit',
      `单位目录中没有 “${unitId}”：请先在 PUT /api/units 中添加 / no unit "${unitId}" in the directory`,
    );
  }
  if (!unit.active) {
    throw invalid(
      'unit_inactive',
      `单位 “${unit.name}” 已停用，不能承办：请先在单位目录中启用 / unit "${unitId}" is inactive in the directory`,
    );
  }
  return { id: unit.id, name: unit.name };
}

// ─── Preparation of each action (pre-validation + the signal it sends) ───────────────────────────

function prepareExtend(t: Target, b: z.infer<typeof ExtendBody>, by: string): Prepared {
  periodOf(t, b.periodId);
  const newDueAt = futureInstant(b.newDueAt, 'newDueAt');
  const targets = t.obligations.filter((o) => o.periodId === b.periodId);
  for (const id of b.unitIds ?? []) obligationOf(t, id, b.periodId);
  if (targets.length === 0) {
    throw invalid(
      'nothing_to_extend',
      `第${t.number}条没有 ${b.periodId} 时段的报送任务 / no obligations for ${b.periodId}`,
    );
  }
  const { reason, ...request } = b;
  return {
    reason,
    details: { request },
    send: (h) => h.signal(extendDeadlineSignal, { unitIds: b.unitIds, periodId: b.periodId, newDueAt, reason, by }),
  };
}

function prepareWaive(t: Target, b: z.infer<typeof WaiveBody>, by: string): Prepared {
  if (b.periodId !== undefined) obligationOf(t, b.unitId, b.periodId);
  const mine = t.obligations.filter(
    (o) => o.unitId === b.unitId && (b.periodId === undefined || o.periodId === b.periodId),
  );
  if (mine.length === 0) throw notAssigned(t, b.unitId);
  if (mine.every((o) => o.state === 'waived')) {
    throw invalid('already_waived', `该单位在第${t.number}条的报送已免报 / already waived for work point ${t.number}`);
  }
  const { reason, ...request } = b;
  return {
    reason,
    details: { request, unitId: b.unitId },
    send: (h) => h.signal(waiveSignal, { unitId: b.unitId, periodId: b.periodId, reason, by }),
  };
}

async function prepareReassign(db: Pool, t: Target, b: z.infer<typeof ReassignBody>, by: string): Promise<Prepared> {
  const from = assignedUnit(t, b.fromUnitId);
  const to = await directoryUnit(db, b.toUnitId);
  if (t.units.some((u) => u.id === to.id)) {
    throw invalid(
      'unit_already_assigned',
      `“${to.name}” 已是第${t.number}条的责任单位 / unit "${to.id}" is already assigned to work point ${t.number}`,
    );
  }
  const { reason, ...request } = b;
  return {
    reason,
    details: { request, from, to },
    send: (h) => h.signal(reassignSignal, { fromUnitId: from.id, to, reason, by }),
  };
}

async function prepareAddUnit(db: Pool, t: Target, b: z.infer<typeof AddUnitBody>, by: string): Promise<Prepared> {
  const unit = await directoryUnit(db, b.unitId);
  if (t.units.some((u) => u.id === unit.id)) {
    throw invalid(
      'unit_already_assigned',
      `“${unit.name}” 已是第${t.number}条的责任单位 / unit "${unit.id}" is already assigned to work point ${t.number}`,
    );
  }
  return {
    reason: b.reason,
    details: { unit },
    send: (h) => h.signal(addUnitSignal, { unit, reason: b.reason, by }),
  };
}

function prepareRemoveUnit(t: Target, unitId: string, b: z.infer<typeof RemoveUnitBody>, by: string): Prepared {
  const unit = assignedUnit(t, unitId);
  return {
    reason: b.reason,
    details: { unit },
    send: (h) => h.signal(removeUnitSignal, { unitId, reason: b.reason, by }),
  };
}

function prepareDecide(t: Target, b: z.infer<typeof DecideBody>, by: string): Prepared {
  const o = obligationOf(t, b.unitId, b.periodId);
  if (o.extension?.status !== 'pending') {
    throw invalid(
      'no_pending_extension',
      `${o.unitName}在第${t.number}条 ${b.periodId} 时段没有待审批的延期申请 / no pending extension request`,
    );
  }
  if (b.newDueAt !== undefined && !b.approved) {
    throw invalid('due_without_approval', '不批准时不能指定新截止时间 / newDueAt goes with approved: true only');
  }
  const newDueAt = b.newDueAt !== undefined ? futureInstant(b.newDueAt, 'newDueAt') : undefined;
  return {
    reason: b.comment ?? null,
    details: { request: b, unitId: b.unitId, extensionRequestId: o.extension.requestId },
    send: (h) =>
      h.signal(decideExtensionSignal, {
        unitId: b.unitId,
        periodId: b.periodId,
        approved: b.approved,
        comment: b.comment,
        newDueAt,
        by,
      }),
  };
}

function prepareReturn(t: Target, b: z.infer<typeof ReturnBody>, by: string): Prepared {
  const o = obligationOf(t, b.unitId, b.periodId);
  if (!REPORTED.includes(o.state)) {
    throw invalid(
      'nothing_to_return',
      `${o.unitName}在第${t.number}条 ${b.periodId} 时段没有可退回的报告（状态：${o.state}） / ` +
        `no report to return (state ${o.state})`,
    );
  }
  const newDueAt = b.newDueAt !== undefined ? futureInstant(b.newDueAt, 'newDueAt') : undefined;
  const { reason, ...request } = b;
  return {
    reason,
    details: { request, unitId: b.unitId },
    send: (h) => h.signal(returnReportSignal, { unitId: b.unitId, periodId: b.periodId, reason, by, newDueAt }),
  };
}

function prepareRemind(t: Target, b: z.infer<typeof RemindBody>, by: string, requestId: string): Prepared {
  if (b.periodId !== undefined) periodOf(t, b.periodId);
  for (const id of b.unitIds ?? []) {
    if (!t.obligations.some((o) => o.unitId === id)) throw notAssigned(t, id);
  }
  const now = Date.now();
  const targets = t.obligations.filter(
    (o) =>
      (b.unitIds === undefined || b.unitIds.includes(o.unitId)) &&
      (b.periodId === undefined || o.periodId === b.periodId) &&
      !DONE.includes(o.state) &&
      (t.periods.find((p) => p.id === o.periodId)?.opensAt ?? 0) <= now,
  );
  if (targets.length === 0) {
    throw invalid(
      'nobody_to_remind',
      `第${t.number}条没有需要提醒的单位（均已报送、免报或时段未开始） / nobody to remind on work point ${t.number}`,
    );
  }
  return {
    reason: null,
    details: { request: b, requestId, reminded: targets.map((o) => ({ unitId: o.unitId, periodId: o.periodId })) },
    send: (h) => h.signal(remindNowSignal, { requestId, unitIds: b.unitIds, periodId: b.periodId, by }),
  };
}

function prepareRate(_t: Target, b: z.infer<typeof RateBody>, by: string): Prepared {
  return {
    reason: b.comment || null,
    details: { rating: b.rating },
    send: (h) => h.signal(rateReviewSignal, { rating: b.rating, comment: b.comment, by }),
  };
}

// ─── Helpers ─────────────────────────────────────────────────────────────────────────────────────

function actorOf(request: FastifyRequest): Actor {
  // The auth hook guarantees an admin on every non-GET /api route; this only narrows the type.
  if (!request.actor) throw new DomainError(401, 'unauthorized', '需要 API 令牌 / an API token is required');
  return request.actor;
}

/** JSON with sorted keys, so the same request fingerprints the same whatever the key order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function grpcCode(err: unknown): number | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth += 1) {
    if (isGrpcServiceError(e)) return e.code;
    e = e.cause;
  }
  return undefined;
}

const UNAVAILABLE_MESSAGE =
  '督办服务（Temporal）暂时不可用，操作未执行，请稍后重试 / Temporal is unavailable: the action was not carried out, retry later';

const actions: FastifyPluginAsyncZod = async (app) => {
  async function loadCycle(year: number): Promise<CycleContext> {
    const cycle = await getCycle(app.db, year);
    if (!cycle) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
    if (cycle.finishedAt) {
      throw new DomainError(
        409,
        'cycle_finished',
        `${year} 年度周期已办结，不能再变更 / the ${year} cycle has finished; nothing can change any more`,
      );
    }
    return { year, planId: cycle.planId, periods: cycleScheduleFor(year, cycle.options).periods };
  }

  async function loadTarget(cycle: CycleContext, n: number): Promise<Target> {
    const workflowId = workPointWorkflowId(cycle.year, n);
    const [status, obligations] = await Promise.all([
      app.db.query<{ status: string; snapshot: Partial<WorkPointStatus> }>(
        'SELECT status, snapshot FROM work_point_status WHERE workflow_id = $1',
        [workflowId],
      ),
      app.db.query<{
        unit_id: string;
        unit_name: string;
        period: string;
        state: ObligationState;
        extension: ExtensionRequest | null;
      }>('SELECT unit_id, unit_name, period, state, extension FROM work_point_obligations WHERE workflow_id = $1', [
        workflowId,
      ]),
    ]);
    const row = status.rows[0];
    if (!row) {
      const wp = await getWorkPoint(app.db, cycle.planId, n);
      if (!wp) {
        throw new DomainError(
          404,
          'work_point_not_found',
          `${cycle.year} 年度没有第${n}条 / no work point ${n} in ${cycle.year}`,
        );
      }
      throw new DomainError(
        409,
        'work_point_not_started',
        `第${n}条的督办流程尚未运行，请稍后再试 / work point ${n} has not started yet; retry shortly`,
      );
    }
    if (row.status === 'closed' || row.snapshot.review?.rating) {
      throw new DomainError(
        409,
        'work_point_closed',
        `第${n}条已评定办结，不能再变更 / work point ${n} has been rated and closed`,
      );
    }
    return {
      year: cycle.year,
      number: n,
      workflowId,
      title: row.snapshot.title ?? '',
      periods: cycle.periods,
      units: row.snapshot.units ?? [],
      obligations: obligations.rows.map((o) => ({
        unitId: o.unit_id,
        unitName: o.unit_name,
        periodId: o.period,
        state: o.state,
        extension: o.extension,
      })),
    };
  }

  /** Describe (is Temporal there, does the workflow run?), audit 'pending', signal, settle. Returns the audit id. */
  async function execute(
    t: Target,
    action: ActionName,
    p: Prepared,
    actor: Actor,
    extra: Record<string, unknown>,
  ): Promise<number> {
    const deadline = Date.now() + SIGNAL_DEADLINE_MS;
    const handle = app.temporal.workflow.getHandle(t.workflowId);
    let runId: string;
    try {
      const d = await app.temporal.withDeadline(deadline, () => handle.describe());
      if (d.status.name !== 'RUNNING') {
        throw new DomainError(
          409,
          'workflow_closed',
          `第${t.number}条的督办流程已结束（${d.status.name}），操作未执行 / ` +
            `the workflow of work point ${t.number} has ended (${d.status.name}); nothing was changed`,
        );
      }
      runId = d.runId;
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof WorkflowNotFoundError) {
        throw new DomainError(
          404,
          'workflow_not_found',
          `Temporal 中没有第${t.number}条的督办流程 ${t.workflowId} / workflow ${t.workflowId} does not exist`,
        );
      }
      app.log.warn({ err, workflowId: t.workflowId, action }, 'Temporal did not answer; action refused');
      throw new DomainError(503, 'temporal_unavailable', UNAVAILABLE_MESSAGE);
    }

    const auditId = await insertPendingAudit(app.db, {
      actor: actor.name,
      action,
      target: t.workflowId,
      reason: p.reason,
      details: { ...p.details, ...extra, year: t.year, workPoint: t.number, runId, tokenId: actor.tokenId },
    });
    try {
      await app.temporal.withDeadline(deadline, () => p.send(handle));
    } catch (err) {
      const notFound = err instanceof WorkflowNotFoundError;
      // UNAVAILABLE: the request never reached the server. Anything else without an answer may have landed.
      const outcome = notFound || grpcCode(err) === GRPC_UNAVAILABLE ? 'failed' : 'unknown';
      const failure = notFound
        ? new DomainError(
            409,
            'workflow_closed',
            `第${t.number}条的督办流程已结束，操作未执行 / the workflow of work point ${t.number} has ended; nothing was changed`,
          )
        : outcome === 'failed'
          ? new DomainError(503, 'temporal_unavailable', UNAVAILABLE_MESSAGE)
          : new DomainError(
              503,
              'temporal_timeout',
              `督办服务（Temporal）${SIGNAL_DEADLINE_MS / 1000} 秒内未确认，操作可能未执行：请先查看该要点的时间线再决定是否重试（审计编号 ${auditId}） / ` +
                `Temporal did not confirm within ${SIGNAL_DEADLINE_MS / 1000} s: check the work point's timeline before retrying (audit ${auditId})`,
              { auditId },
            );
      app.log.warn({ err, workflowId: t.workflowId, action, auditId, outcome }, 'signal not confirmed');
      await settleAudit(app.db, auditId, outcome, { error: failure.code }).catch((e: unknown) =>
        app.log.error({ err: e, auditId }, 'could not settle the audit row; it stays pending'),
      );
      throw failure;
    }
    // The signal is in: answer success even if the bookkeeping fails (the row then honestly stays 'pending').
    await settleAudit(app.db, auditId, 'accepted').catch((e: unknown) =>
      app.log.error({ err: e, auditId }, 'could not settle the audit row; it stays pending'),
    );
    return auditId;
  }

  /**
   * Runs `act` at most once per Idempotency-Key: a repeat gets the stored answer back (header
   * idempotent-replayed: true). Only successful answers are stored; a failed attempt frees the key.
   */
  async function idempotent<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    schema: z.ZodType<T>,
    statusCode: number,
    act: (key: string | undefined) => Promise<T>,
  ): Promise<T> {
    const header = request.headers['idempotency-key'];
    const key = typeof header === 'string' && header.length > 0 ? header : undefined;
    if (key === undefined) return act(undefined);
    const actor = actorOf(request);
    const fingerprint = sha256(
      JSON.stringify([
        actor.tokenId,
        request.method,
        request.routeOptions.url,
        request.params,
        canonical(request.body),
      ]),
    );
    const claim = await claimActionKey(app.db, { key, fingerprint, actor: actor.name });
    if (claim.kind === 'answered') {
      void reply.header('idempotent-replayed', 'true');
      return schema.parse(claim.response);
    }
    if (claim.kind === 'mismatch') {
      throw invalid(
        'idempotency_key_reused',
        'Idempotency-Key 已用于另一个请求：每个不同的操作请使用新的键 / this Idempotency-Key was used for a different request',
      );
    }
    if (claim.kind === 'in-flight') {
      throw new DomainError(
        409,
        'idempotency_key_in_flight',
        '使用同一 Idempotency-Key 的请求正在处理，请稍后重试 / a request with this Idempotency-Key is still being processed',
      );
    }
    let result: T;
    try {
      result = await act(key);
    } catch (err) {
      await releaseActionKey(app.db, key).catch((e: unknown) => app.log.error({ err: e, key }, 'could not free key'));
      throw err;
    }
    await answerActionKey(app.db, key, statusCode, result).catch((e: unknown) =>
      app.log.error({ err: e, key }, 'could not store the answer of an idempotency key'),
    );
    return result;
  }

  /** A stable request id per key, so a retried remind produces the same notice keys (the outbox dedupes them). */
  const requestIdFor = (actor: Actor, key: string | undefined): string => {
    if (key === undefined) return randomUUID();
    const h = sha256(`${actor.tokenId}:${key}`);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  };

  type Prepare = (t: Target, actor: Actor, requestId: string) => Prepared | Promise<Prepared>;

  /** One action on one work point: 202 once Temporal accepted the signal. */
  async function single(
    request: FastifyRequest,
    reply: FastifyReply,
    params: { year: number; n: number },
    action: ActionName,
    prepare: Prepare,
  ): Promise<Accepted> {
    const actor = actorOf(request);
    return idempotent(request, reply, AcceptedSchema, 202, async (key) => {
      const cycle = await loadCycle(params.year);
      const target = await loadTarget(cycle, params.n);
      const requestId = requestIdFor(actor, key);
      const prepared = await prepare(target, actor, requestId);
      const auditId = await execute(target, action, prepared, actor, key ? { idempotencyKey: key } : {});
      return {
        accepted: true as const,
        workflowId: target.workflowId,
        auditId,
        ...(action === 'remind' ? { requestId } : {}),
      };
    });
  }

  const schemaFor = <B extends z.ZodType>(summary: string, description: string, body: B) => ({
    tags: ['actions'],
    summary,
    description:
      `${description} 202 once Temporal accepted the signal; 404 unknown cycle or work point; 409 closed work ` +
      'point or finished cycle; 422 when the request does not fit the work point (unknown unit or period, …); ' +
      '503 when Temporal does not answer (nothing is done). Every accepted action is in GET /api/audit.',
    params: WorkPointParams,
    querystring: NoQuery,
    headers: IdempotencyHeaders,
    body,
    response: { 202: AcceptedSchema, ...errorResponses },
  });

  const wpPath = '/api/cycles/:year/work-points/:n';

  app.post(
    `${wpPath}/extend`,
    {
      schema: schemaFor(
        'Extend a deadline (延期) for a period, for some or all units',
        'Moves the due date; reminder and escalations keep their distance to it. Units are told.',
        ExtendBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'extend', (t, a) => prepareExtend(t, body, a.name));
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/waive`,
    {
      schema: schemaFor(
        "Waive a unit's report (免报) for one or every period",
        'The unit is no longer chased.',
        WaiveBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'waive', (t, a) => prepareWaive(t, body, a.name));
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/reassign`,
    {
      schema: schemaFor(
        'Reassign (改由…承办): another unit takes over from an assigned one',
        'toUnitId must be an active unit of the directory not yet on the work point. Reports already in stay.',
        ReassignBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'reassign', (t, a) =>
        prepareReassign(app.db, t, body, a.name),
      );
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/units`,
    {
      schema: schemaFor(
        'Add a responsible unit',
        'An active unit of the directory joins the work point for the periods not yet past.',
        AddUnitBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'add-unit', (t, a) =>
        prepareAddUnit(app.db, t, body, a.name),
      );
      return reply.status(202).send(result);
    },
  );

  app.delete(
    `${wpPath}/units/:unitId`,
    {
      schema: {
        ...schemaFor(
          'Remove a responsible unit',
          'Open obligations of the unit end; reports it already sent stay on record. The body carries the reason.',
          RemoveUnitBody,
        ),
        params: WorkPointParams.extend({ unitId: UnitId }),
      },
    },
    async (request, reply) => {
      const { unitId, ...params } = request.params;
      const body = request.body;
      const result = await single(request, reply, params, 'remove-unit', (t, a) =>
        prepareRemoveUnit(t, unitId, body, a.name),
      );
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/extension-requests/decide`,
    {
      schema: schemaFor(
        "Decide a unit's extension request (延期申请审批)",
        'Approve (optionally with another date than asked) or refuse the pending request; the unit is told.',
        DecideBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'decide-extension', (t, a) =>
        prepareDecide(t, body, a.name),
      );
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/return`,
    {
      schema: schemaFor(
        'Return a report for rework (退回)',
        'The unit must report again by the new due date and is chased as before.',
        ReturnBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'return', (t, a) => prepareReturn(t, body, a.name));
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/remind`,
    {
      schema: schemaFor(
        'Remind now (立即提醒) the units that have not reported',
        'Sends a reminder notice to every matching unit without a report in an open period.',
        RemindBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'remind', (t, a, requestId) =>
        prepareRemind(t, body, a.name, requestId),
      );
      return reply.status(202).send(result);
    },
  );

  app.post(
    `${wpPath}/rate`,
    {
      schema: schemaFor(
        'Rate the year-end review (年终评定: 完成 / 基本完成 / 未完成)',
        'Closes the work point: its workflow completes with the rating.',
        RateBody,
      ),
    },
    async (request, reply) => {
      const body = request.body;
      const result = await single(request, reply, request.params, 'rate', (t, a) => prepareRate(t, body, a.name));
      return reply.status(202).send(result);
    },
  );

  // ─── Bulk ──────────────────────────────────────────────────────────────────────────────────────

  app.post(
    '/api/cycles/:year/actions',
    {
      schema: {
        tags: ['actions'],
        summary: 'One action on several work points (and, for waive, several units)',
        description:
          'Same fields as the single actions plus `action` and `workPoints`. Each work point (× unit for waive) is ' +
          'a target with its own signal and audit row. 200 with a result per target, even when some failed; ' +
          '422 when every target was refused, 503 when Temporal answered for none. When Temporal stops answering, ' +
          'the targets not yet tried are reported as not attempted.',
        params: YearParams,
        querystring: NoQuery,
        headers: IdempotencyHeaders,
        body: BulkBody,
        response: { 200: BulkResultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const body = request.body;
      const result = await idempotent(request, reply, BulkResultSchema, 200, async (key) => {
        const cycle = await loadCycle(request.params.year);
        const requestId = requestIdFor(actor, key);
        const bulkId = randomUUID();
        const extra = { bulkId, ...(key ? { idempotencyKey: key } : {}) };
        const targets = bulkTargets(body, actor.name, requestId);
        let temporalDown = false;
        const results: TargetResult[] = new Array<TargetResult>(targets.length);

        const runOne = async (i: number) => {
          const target = targets[i];
          if (!target) return;
          const base = { workPoint: target.workPoint, ...(target.unitId ? { unitId: target.unitId } : {}) };
          try {
            const t = await loadTarget(cycle, target.workPoint);
            const prepared = await target.prepare(t);
            if (temporalDown) throw new DomainError(503, 'temporal_unavailable', `未尝试：${UNAVAILABLE_MESSAGE}`);
            const auditId = await execute(t, body.action, prepared, actor, extra);
            results[i] = { ...base, ok: true, status: 202, workflowId: t.workflowId, auditId };
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            if (err.statusCode === 503) temporalDown = true;
            results[i] = {
              ...base,
              ok: false,
              status: err.statusCode,
              workflowId: workPointWorkflowId(cycle.year, target.workPoint),
              error: { code: err.code, message: err.message },
            };
          }
        };
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(BULK_CONCURRENCY, targets.length) }, async () => {
            while (next < targets.length) await runOne(next++);
          }),
        );

        const accepted = results.filter((r) => r.ok).length;
        if (accepted === 0) {
          const unavailable = results.some((r) => r.status === 503);
          throw new DomainError(
            unavailable ? 503 : 422,
            unavailable ? 'temporal_unavailable' : 'no_valid_target',
            unavailable
              ? UNAVAILABLE_MESSAGE
              : '没有一个目标可以执行，详见 details / no target could be acted on; see details',
            results,
          );
        }
        return {
          action: body.action,
          accepted,
          failed: results.length - accepted,
          ...(body.action === 'remind' ? { requestId } : {}),
          results,
        };
      });
      return reply.status(200).send(result);
    },
  );

  /** Expands a bulk body into targets, each with the preparation of its single form. */
  function bulkTargets(
    body: BulkBody,
    by: string,
    requestId: string,
  ): { workPoint: number; unitId?: string; prepare: (t: Target) => Prepared | Promise<Prepared> }[] {
    const workPoints = [...new Set(body.workPoints)];
    const each = (prepare: (t: Target) => Prepared | Promise<Prepared>) =>
      workPoints.map((workPoint) => ({ workPoint, prepare }));
    switch (body.action) {
      case 'extend': {
        const { action: _a, workPoints: _w, ...b } = body;
        return each((t) => prepareExtend(t, b, by));
      }
      case 'waive': {
        const { action: _a, workPoints: _w, unitIds, ...b } = body;
        return workPoints.flatMap((workPoint) =>
          [...new Set(unitIds)].map((unitId) => ({
            workPoint,
            unitId,
            prepare: (t: Target) => prepareWaive(t, { ...b, unitId }, by),
          })),
        );
      }
      case 'reassign': {
        const { action: _a, workPoints: _w, ...b } = body;
        return each((t) => prepareReassign(app.db, t, b, by));
      }
      case 'add-unit': {
        const { action: _a, workPoints: _w, ...b } = body;
        return each((t) => prepareAddUnit(app.db, t, b, by));
      }
      case 'remove-unit': {
        const { action: _a, workPoints: _w, unitId, ...b } = body;
        return each((t) => prepareRemoveUnit(t, unitId, b, by));
      }
      case 'decide-extension': {
        const { action: _a, workPoints: _w, ...b } = body;
        return each((t) => prepareDecide(t, b, by));
      }
      case 'return': {
        const { action: _a, workPoints: _w, ...b } = body;
        return each((t) => prepareReturn(t, b, by));
      }
      case 'remind': {
        const { action: _a, workPoints: _w, unitIds, ...b } = body;
        return each((t) => {
          // Across work points the listed units are "whichever of these the work point has".
          const mine = unitIds?.filter((id) => t.units.some((u) => u.id === id));
          if (mine !== undefined && mine.length === 0) throw notAssigned(t, unitIds?.join(', ') ?? '');
          return prepareRemind(t, { ...b, unitIds: mine }, by, requestId);
        });
      }
      case 'rate': {
        const { action: _a, workPoints: _w, ...b } = body;
        return each((t) => prepareRate(t, b, by));
      }
    }
  }
};

export default actions;
