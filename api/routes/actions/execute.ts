import { createHash, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  answerActionKey,
  claimActionKey,
  insertPendingAudit,
  releaseActionKey,
  settleAudit,
  type AuditOutcome,
} from '../../../db/audit-repo';
import { getWorkPoint } from '../../../db/replies-repo';
import { getCycleRecord } from '../../../db/cycles-repo';
import type { Actor } from '../../../db/tokens-repo';
import { ACTION_REFUSALS, isActionRefusal, type ActionResult } from '../../../domain/work-point/office-action-rules';
import { workPointWorkflowId } from '../../../workflows/shared';
import { DomainError } from '../../errors';
import type { Prepared } from './table';
import type { ActionName } from './schemas';

/**
 * One office action on one work point, and why in this order:
 * 1. The cycle and the work point exist (404), the cycle is not finished (409): PostgreSQL knows, the workflow can't.
 * 2. `describe` the workflow: when Temporal does not answer, the action is refused with 503 *before* an audit row
 *    exists, so an outage leaves no trace claiming anything; a completed work point is 409.
 * 3. Audit row 'pending', then the Update, then the row settles: 'accepted' (the workflow applied it; the answer
 *    carries the resulting state), 'refused' (its validator said no: 409 / 422 with its code and reason, nothing
 *    recorded), 'failed' (never reached Temporal, or the workflow was gone: nothing happened) or 'unknown' (no answer
 *    in time: it may have landed). Never 'accepted' for something that did not happen.
 */

export const UNAVAILABLE_MESSAGE =
  '督办服务（Temporal）暂时不可用，操作未执行，请稍后重试 / Temporal is unavailable: the action was not carried out, retry later';

export interface CycleContext {
  year: number;
  planId: number;
}

export interface Target {
  year: number;
  number: number;
  workflowId: string;
}

export function actorOf(request: FastifyRequest): Actor {
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

/** A stable request id per key, so a retried remind produces the same notice keys (the outbox dedupes them). */
export function requestIdFor(actor: Actor, key: string | undefined): string {
  if (key === undefined) return randomUUID();
  const h = sha256(`${actor.tokenId}:${key}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function actionRunner(app: FastifyInstance, opts: { updateTimeoutMs: number }) {
  async function loadCycle(year: number): Promise<CycleContext> {
    const cycle = await getCycleRecord(app.db, year);
    if (!cycle) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
    if (cycle.finishedAt) {
      throw new DomainError(
        409,
        'cycle_finished',
        `${year} 年度周期已办结，不能再变更 / the ${year} cycle has finished; nothing can change any more`,
      );
    }
    return { year, planId: cycle.planId };
  }

  async function loadTarget(cycle: CycleContext, n: number): Promise<Target> {
    if (!(await getWorkPoint(app.db, cycle.planId, n))) {
      throw new DomainError(
        404,
        'work_point_not_found',
        `${cycle.year} 年度没有第${n}条 / no work point ${n} in ${cycle.year}`,
      );
    }
    return { year: cycle.year, number: n, workflowId: workPointWorkflowId(cycle.year, n) };
  }

  const closedError = (t: Target, action: ActionName, status = 'COMPLETED') =>
    status !== 'COMPLETED'
      ? new DomainError(
          409,
          'workflow_closed',
          `第${t.number}条的督办流程已结束（${status}），操作未执行 / ` +
            `the workflow of work point ${t.number} has ended (${status}); nothing was changed`,
        )
      : action === 'rate'
        ? new DomainError(
            409,
            'already_rated',
            `第${t.number}条已评定办结，不能再次评定 / work point ${t.number} is already rated`,
          )
        : new DomainError(
            409,
            'work_point_closed',
            `第${t.number}条已评定办结，不能再变更 / work point ${t.number} has been rated and closed`,
          );

  /** Is Temporal there, does the workflow run? Returns its run id. */
  async function running(t: Target, action: ActionName, deadline: number): Promise<string> {
    try {
      const d = await app.temporal.withDeadline(deadline, () =>
        app.temporal.workflow.getHandle(t.workflowId).describe(),
      );
      if (d.status.name !== 'RUNNING') throw closedError(t, action, d.status.name);
      return d.runId;
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof WorkflowNotFoundError) {
        throw new DomainError(
          409,
          'work_point_not_started',
          `第${t.number}条的督办流程尚未运行，请稍后再试 / work point ${t.number} has not started yet; retry shortly`,
        );
      }
      app.log.warn({ err, workflowId: t.workflowId, action }, 'Temporal did not answer; action refused');
      throw new DomainError(503, 'temporal_unavailable', UNAVAILABLE_MESSAGE);
    }
  }

  const settle = (auditId: number, outcome: Exclude<AuditOutcome, 'pending'>, extra?: Record<string, unknown>) =>
    settleAudit(app.db, auditId, outcome, extra).catch((e: unknown) =>
      app.log.error({ err: e, auditId }, 'could not settle the audit row; it stays pending'),
    );

  /** Describe, audit 'pending', send the Update, settle. Returns the audit id and the workflow's answer. */
  async function execute(
    t: Target,
    action: ActionName,
    p: Prepared,
    actor: Actor,
    extra: Record<string, unknown>,
  ): Promise<{ auditId: number; state: ActionResult }> {
    const deadline = Date.now() + opts.updateTimeoutMs;
    const runId = await running(t, action, deadline);
    const auditId = await insertPendingAudit(app.db, {
      actor: actor.name,
      action,
      target: t.workflowId,
      reason: p.reason,
      details: { ...p.details, ...extra, year: t.year, workPoint: t.number, runId, tokenId: actor.tokenId },
    });
    const answer = await p.send(app.temporal, t.workflowId, { deadline, log: app.log });
    switch (answer.outcome) {
      case 'accepted':
        // The workflow applied it: answer success even if the bookkeeping fails (the row then stays 'pending').
        await settle(auditId, 'accepted');
        return { auditId, state: answer.result };
      case 'refused': {
        await settle(auditId, 'refused', { error: answer.code, message: answer.message });
        const invalid = isActionRefusal(answer.code) && ACTION_REFUSALS[answer.code] === 'invalid';
        throw new DomainError(invalid ? 422 : 409, answer.code, answer.message, answer.details);
      }
      case 'not-found': {
        const failure = closedError(t, action);
        await settle(auditId, 'failed', { error: failure.code });
        throw failure;
      }
      case 'failed':
      case 'unknown': {
        const failure =
          answer.outcome === 'failed'
            ? new DomainError(503, 'temporal_unavailable', UNAVAILABLE_MESSAGE)
            : new DomainError(
                503,
                'temporal_timeout',
                `督办服务（Temporal）${opts.updateTimeoutMs / 1000} 秒内未确认，操作可能未执行：请先查看该要点的时间线再决定是否重试（审计编号 ${auditId}） / ` +
                  `Temporal did not confirm within ${opts.updateTimeoutMs / 1000} s: check the work point's timeline before retrying (audit ${auditId})`,
                { auditId },
              );
        app.log.warn({ err: answer.error, workflowId: t.workflowId, action, auditId }, 'update not confirmed');
        await settle(auditId, answer.outcome, { error: failure.code });
        throw failure;
      }
    }
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
      throw new DomainError(
        422,
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

  return { loadCycle, loadTarget, execute, idempotent };
}
