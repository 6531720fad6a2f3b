import type { Pool } from 'pg';
import type { z } from 'zod';
import type { FastifyBaseLogger } from 'fastify';
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { getUnit } from '../../../db/replies-repo';
import { tryParseInstant } from '../../../domain/schedule';
import type { UnitRef } from '../../../domain/model';
import type { ActionResult } from '../../../domain/work-point/office-action-rules';
import { officeActionUpdates } from '../../../workflows/shared';
import { DomainError } from '../../errors';
import { executeUpdate, type UpdateOutcome } from '../../workflow-update';
import {
  AddUnitBody,
  DecideBody,
  ExtendBody,
  RateBody,
  ReassignBody,
  RemindBody,
  RemoveUnitBody,
  ReturnBody,
  WaiveBody,
  type ActionName,
} from './schemas';

/**
 * The office's actions, one row each: its route, its body, and how a request becomes the work point's Update. Only
 * what the workflow cannot judge is checked here (the body's shape, instants, the unit directory); whether the
 * action fits the work point is the Update validator's call (domain/work-point/office-action-rules.ts).
 */

export interface ActionContext {
  db: Pool;
  /** The actor's name: who the workflow records. */
  by: string;
  requestId: string;
  /** remove-unit: the unit of the path. */
  unitId?: string;
  /** Part of a bulk request: remind skips listed units a work point does not have. */
  bulk: boolean;
}

/** One action ready to send: the Update, and what its audit row says. */
export interface Prepared {
  reason: string | null;
  details: Record<string, unknown>;
  send(
    temporal: Client,
    workflowId: string,
    opts: { deadline: number; log?: FastifyBaseLogger },
  ): Promise<UpdateOutcome<ActionResult>>;
}

export interface ActionRoute {
  name: ActionName;
  method: 'POST' | 'DELETE';
  /** Below /api/cycles/:year/work-points/:n. */
  path: string;
  summary: string;
  description: string;
  body: z.ZodType;
  prepare(body: unknown, ctx: ActionContext): Promise<Prepared>;
}

type UpdateArg<N extends ActionName> =
  (typeof officeActionUpdates)[N] extends UpdateDefinition<ActionResult, [infer A]> ? A : never;

function action<N extends ActionName, B extends z.ZodType>(spec: {
  name: N;
  method?: 'POST' | 'DELETE';
  path: string;
  summary: string;
  description: string;
  body: B;
  toUpdate(
    body: z.infer<B>,
    ctx: ActionContext,
  ): Promise<{ arg: UpdateArg<N>; reason: string | null; details: Record<string, unknown> }>;
}): ActionRoute {
  const update = officeActionUpdates[spec.name] as UpdateDefinition<ActionResult, [UpdateArg<N>]>;
  return {
    name: spec.name,
    method: spec.method ?? 'POST',
    path: spec.path,
    summary: spec.summary,
    description: spec.description,
    body: spec.body,
    async prepare(body, ctx) {
      // The route's schema (or the bulk body's) has validated `body` against spec.body before this runs.
      const { arg, reason, details } = await spec.toUpdate(body as z.infer<B>, ctx);
      return {
        reason,
        details,
        send: (temporal, workflowId, opts) => executeUpdate(temporal, workflowId, update, arg, opts),
      };
    },
  };
}

const invalid = (code: string, message: string) => new DomainError(422, code, message);

/** An instant the schema already checked; a refusal here means the schema and the parser disagree. */
function instant(value: string, field: string): number {
  const at = tryParseInstant(value);
  if (at === undefined) throw invalid('invalid_instant', `${field} 不是有效时间 / ${field} is not a valid instant`);
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

export const ACTION_ROUTES: readonly ActionRoute[] = [
  action({
    name: 'extend',
    path: '/extend',
    summary: 'Extend a deadline (延期) for a period, for some or all units',
    description: 'Moves the due date; reminder and escalations keep their distance to it. Units are told.',
    body: ExtendBody,
    toUpdate: async ({ reason, ...request }, { by }) => ({
      arg: { ...request, newDueAt: instant(request.newDueAt, 'newDueAt'), reason, by },
      reason,
      details: { request },
    }),
  }),
  action({
    name: 'waive',
    path: '/waive',
    summary: "Waive a unit's report (免报) for one or every period",
    description: 'The unit is no longer chased.',
    body: WaiveBody,
    toUpdate: async ({ reason, ...request }, { by }) => ({
      arg: { ...request, reason, by },
      reason,
      details: { request, unitId: request.unitId },
    }),
  }),
  action({
    name: 'reassign',
    path: '/reassign',
    summary: 'Reassign (改由…承办): another unit takes over from an assigned one',
    description: 'toUnitId must be an active unit of the directory not yet on the work point. Reports already in stay.',
    body: ReassignBody,
    toUpdate: async ({ reason, ...request }, { db, by }) => {
      const to = await directoryUnit(db, request.toUnitId);
      // Named for the audit trail only: whether it is assigned is the workflow's call.
      const known = await getUnit(db, request.fromUnitId);
      const from: UnitRef = known
        ? { id: known.id, name: known.name }
        : { id: request.fromUnitId, name: request.fromUnitId };
      return { arg: { fromUnitId: from.id, to, reason, by }, reason, details: { request, from, to } };
    },
  }),
  action({
    name: 'add-unit',
    path: '/units',
    summary: 'Add a responsible unit',
    description: 'An active unit of the directory joins the work point for the periods not yet past.',
    body: AddUnitBody,
    toUpdate: async (b, { db, by }) => {
      const unit = await directoryUnit(db, b.unitId);
      return { arg: { unit, reason: b.reason, by }, reason: b.reason, details: { unit } };
    },
  }),
  action({
    name: 'remove-unit',
    method: 'DELETE',
    path: '/units/:unitId',
    summary: 'Remove a responsible unit',
    description:
      'Open obligations of the unit end; reports it already sent stay on record. The body carries the reason.',
    body: RemoveUnitBody,
    toUpdate: async (b, { by, unitId = '' }) => ({
      arg: { unitId, reason: b.reason, by },
      reason: b.reason,
      details: { unitId },
    }),
  }),
  action({
    name: 'decide-extension',
    path: '/extension-requests/decide',
    summary: "Decide a unit's extension request (延期申请审批)",
    description: 'Approve (optionally with another date than asked) or refuse the pending request; the unit is told.',
    body: DecideBody,
    toUpdate: async (b, { by }) => {
      if (b.newDueAt !== undefined && !b.approved) {
        throw invalid('due_without_approval', '不批准时不能指定新截止时间 / newDueAt goes with approved: true only');
      }
      const newDueAt = b.newDueAt === undefined ? undefined : instant(b.newDueAt, 'newDueAt');
      return {
        arg: { unitId: b.unitId, periodId: b.periodId, approved: b.approved, comment: b.comment, newDueAt, by },
        reason: b.comment ?? null,
        details: { request: b, unitId: b.unitId },
      };
    },
  }),
  action({
    name: 'return',
    path: '/return',
    summary: 'Return a report for rework (退回)',
    description: 'The unit must report again by the new due date and is chased as before.',
    body: ReturnBody,
    toUpdate: async ({ reason, ...request }, { by }) => ({
      arg: {
        unitId: request.unitId,
        periodId: request.periodId,
        reason,
        by,
        newDueAt: request.newDueAt === undefined ? undefined : instant(request.newDueAt, 'newDueAt'),
      },
      reason,
      details: { request, unitId: request.unitId },
    }),
  }),
  action({
    name: 'remind',
    path: '/remind',
    summary: 'Remind now (立即提醒) the units that have not reported',
    description: 'Sends a reminder notice to every matching unit without a report in an open period.',
    body: RemindBody,
    toUpdate: async (b, { by, requestId, bulk }) => ({
      arg: { requestId, unitIds: b.unitIds, periodId: b.periodId, by, ...(bulk ? { onlyAssigned: true } : {}) },
      reason: null,
      details: { request: b, requestId },
    }),
  }),
  action({
    name: 'rate',
    path: '/rate',
    summary: 'Rate the year-end review (年终评定: 完成 / 基本完成 / 未完成)',
    description: 'Closes the work point: its workflow completes with the rating.',
    body: RateBody,
    toUpdate: async (b, { by }) => ({
      arg: { rating: b.rating, comment: b.comment, by },
      reason: b.comment || null,
      details: { rating: b.rating },
    }),
  }),
];

export const actionRoute = (name: ActionName): ActionRoute => {
  const route = ACTION_ROUTES.find((a) => a.name === name);
  if (!route) throw new Error(`no action ${name}`);
  return route;
};
