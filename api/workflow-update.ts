import type { FastifyBaseLogger } from 'fastify';
import {
  ApplicationFailure,
  isGrpcServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

/**
 * Sends an Update to a workflow and waits for its verdict, within a deadline: what the office actions (and the reply
 * page's reports) need to answer in the same request. The outcome says what the caller may claim:
 * - accepted: the workflow ran the handler; `result` is what it answered;
 * - refused: the validator or the handler threw an ApplicationFailure (its `type` is the reason's code); nothing was
 *   recorded by a validator;
 * - not-found: no running workflow (completed, or never started);
 * - failed: the request never reached Temporal (UNAVAILABLE): nothing happened;
 * - unknown: no answer in time: the Update may or may not have landed.
 */
export type UpdateOutcome<R> =
  | { outcome: 'accepted'; result: R }
  | { outcome: 'refused'; code: string; message: string; details: unknown }
  | { outcome: 'not-found' }
  | { outcome: 'failed'; error: unknown }
  | { outcome: 'unknown'; error: unknown };

const GRPC_UNAVAILABLE = 14;
/** Attempts at an Update the server rejected as "wasn't processed by worker" (see below). */
const UPDATE_ATTEMPTS = 5;

export function grpcCode(err: unknown): number | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth += 1) {
    if (isGrpcServiceError(e)) return e.code;
    e = e.cause;
  }
  return undefined;
}

/** The workflow's refusal (validator or handler): an ApplicationFailure, with its type as the code. */
export function refusalOf(err: unknown): { code: string; message: string; details: unknown } | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || !cause.type) return undefined;
  return { code: cause.type, message: cause.message, details: cause.details?.[0] };
}

/** The server's "rejected because it wasn't processed by worker": an update the workflow never saw. */
export function notProcessed(err: unknown): boolean {
  // The server's rejection comes as a typed ApplicationFailure too, so it is told apart by its message (the
  // workflow's own refusals are "中文 / English" sentences that never say this).
  return err instanceof WorkflowUpdateFailedError && /wasn't processed by worker/.test(err.cause?.message ?? '');
}

export async function executeUpdate<R, A>(
  temporal: Client,
  workflowId: string,
  update: UpdateDefinition<R, [A]>,
  arg: A,
  opts: { deadline: number; log?: FastifyBaseLogger; updateId?: string },
): Promise<UpdateOutcome<R>> {
  const handle = temporal.workflow.getHandle(workflowId);
  const send = () =>
    temporal.withDeadline(opts.deadline, () =>
      handle.executeUpdate(update, { args: [arg] as [A], ...(opts.updateId ? { updateId: opts.updateId } : {}) }),
    );
  for (let attempt = 1; ; attempt++) {
    try {
      return { outcome: 'accepted', result: await send() };
    } catch (err) {
      // The server rejects an update that a workflow task carried but the worker completed the task without (seen
      // under concurrent updates to one workflow while its persist local activity holds the task open: sdk-core 1.24
      // replaces a re-delivered task and drops its update messages — "Trying to send a new WFT for a run which
      // already has one" in the worker log). Neither validator nor handler ran, nothing was recorded, so it is sent
      // again while time remains.
      if (notProcessed(err)) {
        if (attempt < UPDATE_ATTEMPTS && Date.now() < opts.deadline - 1_000) {
          opts.log?.warn(
            { workflowId, attempt, update: update.name },
            'update not processed by the worker; sending again',
          );
          continue;
        }
        return { outcome: 'unknown', error: err };
      }
      const refusal = refusalOf(err);
      if (refusal) return { outcome: 'refused', ...refusal };
      if (err instanceof WorkflowNotFoundError) return { outcome: 'not-found' };
      return { outcome: grpcCode(err) === GRPC_UNAVAILABLE ? 'failed' : 'unknown', error: err };
    }
  }
}
