import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { workPointWorkflowId } from '../../../workflows/shared';
import { DomainError, errorResponses } from '../../errors';
import { NoQuery } from '../../schemas/input';
import { actionRunner, actorOf, requestIdFor, UNAVAILABLE_MESSAGE } from './execute';
import {
  AcceptedSchema,
  BulkBody,
  BulkResultSchema,
  IdempotencyHeaders,
  UnitId,
  WorkPointParams,
  YearParams,
  type Accepted,
  type TargetResult,
} from './schemas';
import { ACTION_ROUTES, actionRoute, type ActionContext, type ActionRoute, type Prepared } from './table';

export { ACTIONS, type ActionName } from './schemas';

/**
 * The office's actions on a running cycle (admin tokens only; api/plugins/auth.ts refuses viewers): each one is an
 * Update to the work point workflow, which alone judges whether it fits (its validator), and each one lands in the
 * audit trail. One registration for the table of actions (table.ts), and the bulk form over the same table.
 */

/** Bulk targets processed at once. */
const BULK_CONCURRENCY = 8;

const wpPath = '/api/cycles/:year/work-points/:n';

export interface ActionRoutesOptions {
  /** How long an action waits for the workflow's verdict (describe + Update) before answering 503: REPLY_TIMEOUT_MS. */
  updateTimeoutMs: number;
}

const actions: FastifyPluginAsync<ActionRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const run = actionRunner(app, { updateTimeoutMs: opts.updateTimeoutMs });

  function register(route: ActionRoute): void {
    const params = route.path.includes(':unitId') ? WorkPointParams.extend({ unitId: UnitId }) : WorkPointParams;
    app.route({
      method: route.method,
      url: `${wpPath}${route.path}`,
      schema: {
        tags: ['actions'],
        summary: route.summary,
        description:
          `${route.description} The work point's workflow judges the action: 200 with the resulting state once it ` +
          'applied it; 409 when it conflicts with the current state (already waived, already rated, closed, no ' +
          'pending extension, nothing to return, unit already assigned) and 422 when it does not fit the work point ' +
          "(unknown period, unit not assigned, due date in the past), with the workflow's code and reason; 404 " +
          'unknown cycle or work point; 503 when Temporal does not answer (the audit row says whether anything may ' +
          'have happened). Every action is in GET /api/audit, refused ones too.',
        params,
        querystring: NoQuery,
        headers: IdempotencyHeaders,
        body: route.body,
        response: { 200: AcceptedSchema, ...errorResponses },
      },
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        // Fastify validated params and body against the schemas above.
        const { year, n, unitId } = request.params as { year: number; n: number; unitId?: string };
        const actor = actorOf(request);
        const result = await run.idempotent(request, reply, AcceptedSchema, 200, async (key): Promise<Accepted> => {
          const target = await run.loadTarget(await run.loadCycle(year), n);
          const requestId = requestIdFor(actor, key);
          const ctx: ActionContext = { db: app.db, by: actor.name, requestId, unitId, bulk: false };
          const prepared = await route.prepare(request.body, ctx);
          const extra = key ? { idempotencyKey: key } : {};
          const { auditId, state } = await run.execute(target, route.name, prepared, actor, extra);
          return {
            accepted: true as const,
            workflowId: target.workflowId,
            auditId,
            ...(route.name === 'remind' ? { requestId } : {}),
            state,
          };
        });
        return reply.status(200).send(result);
      },
    });
  }
  for (const route of ACTION_ROUTES) register(route);

  app.post(
    '/api/cycles/:year/actions',
    {
      schema: {
        tags: ['actions'],
        summary: 'One action on several work points (and, for waive, several units)',
        description:
          'Same fields as the single actions plus `action` and `workPoints`. Each work point (× unit for waive) is ' +
          'a target with its own Update and audit row, and gets the verdict a single request would have (status ' +
          '200, 404, 409, 422, …). 200 with a result per target, even when some were refused; 422 when every ' +
          'target was refused, 503 when Temporal answered for none. When Temporal stops answering, the targets ' +
          'not yet tried are reported as not attempted.',
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
      const result = await run.idempotent(request, reply, BulkResultSchema, 200, async (key) => {
        const cycle = await run.loadCycle(request.params.year);
        const requestId = requestIdFor(actor, key);
        const extra = { bulkId: randomUUID(), ...(key ? { idempotencyKey: key } : {}) };
        const ctx: ActionContext = { db: app.db, by: actor.name, requestId, bulk: true };
        const route = actionRoute(body.action);
        const targets = bulkTargets(body);
        let temporalDown = false;
        const results: TargetResult[] = new Array<TargetResult>(targets.length);

        const runOne = async (i: number) => {
          const target = targets[i];
          if (!target) return;
          const base = { workPoint: target.workPoint, ...(target.unitId ? { unitId: target.unitId } : {}) };
          try {
            const t = await run.loadTarget(cycle, target.workPoint);
            const prepared: Prepared = await route.prepare(target.body, { ...ctx, unitId: target.unitId });
            if (temporalDown) throw new DomainError(503, 'temporal_unavailable', `未尝试：${UNAVAILABLE_MESSAGE}`);
            const { auditId } = await run.execute(t, body.action, prepared, actor, extra);
            results[i] = { ...base, ok: true, status: 200, workflowId: t.workflowId, auditId };
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
};

/** A bulk body as single-action bodies: one per work point, and for waive one per work point × unit. */
function bulkTargets(body: BulkBody): { workPoint: number; unitId?: string; body: unknown }[] {
  const workPoints = [...new Set(body.workPoints)];
  switch (body.action) {
    case 'waive': {
      const { action: _a, workPoints: _w, unitIds, ...rest } = body;
      return workPoints.flatMap((workPoint) =>
        [...new Set(unitIds)].map((unitId) => ({ workPoint, unitId, body: { ...rest, unitId } })),
      );
    }
    case 'remove-unit': {
      // The single form names the unit in its path.
      const { action: _a, workPoints: _w, unitId, ...rest } = body;
      return workPoints.map((workPoint) => ({ workPoint, unitId, body: rest }));
    }
    default: {
      const { action: _a, workPoints: _w, ...rest } = body;
      return workPoints.map((workPoint) => ({ workPoint, body: rest }));
    }
  }
}

export default actions;
