import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Pool } from 'pg';
import { withStartableInputs } from '../db/cycles-repo';
import type { WorkPointInput, WorkPointResult } from '../domain/model';
import {
  WORK_POINT_WORKFLOW,
  workPointClosedSignal,
  workPointStartOptions,
  type WorkPointWorkflow,
} from '../workflows/shared';

export interface StartWorkPointsInput {
  year: number;
  /** The slice of the cycle's work point numbers this call starts. */
  numbers: number[];
  /** The cycle the work points signal their results to. */
  cycleWorkflowId: string;
  drill: boolean;
}

export interface StartWorkPointsResult {
  /** How many of the slice run or have closed now: started by this call or an earlier attempt. */
  started: number;
  /** Of those, how many had already closed; their results were sent to the cycle again. */
  resent: number;
}

/**
 * Starts in flight at once in one worker process, across the slices it runs together: enough to keep the server
 * busy, few enough not to crowd out the worker's other work.
 */
const IN_FLIGHT = 16;

/** A counting semaphore: at most `n` holders at once, the others wait in order. */
function semaphore(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) free -= 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free += 1;
    },
  };
}

/** Non-retryable failure type when the cycle has no records (a cancelled drill): nothing is started. */
export const CYCLE_GONE = 'CycleGone';

/** Heartbeat details: the slice's leading work points known to be started, so a retry resumes after them. */
interface StartProgress {
  done: number;
}
const resumeAt = (details: unknown): number => {
  const done = (details as Partial<StartProgress> | undefined)?.done;
  return typeof done === 'number' && Number.isInteger(done) && done >= 0 ? done : 0;
};

export function createStartActivities(pool: Pool) {
  const inFlight = semaphore(IN_FLIGHT);
  return {
    /**
     * Starts one slice of a cycle's work points with the worker's client, outside the cycle's history: each under its
     * business id with the same summary, details and search attributes its child start had, on this activity's task
     * queue, with the cycle's id in its input so its result is signalled back. Idempotent: a running work point is
     * used as it is (USE_EXISTING), a completed one is not started again (its result is sent to the cycle again,
     * for a cycle run that started after it closed); only a failed or terminated one (a cancelled drill) starts anew.
     */
    async startWorkPoints(input: StartWorkPointsInput): Promise<StartWorkPointsResult> {
      const ctx = Context.current();
      const { client } = ctx;
      const { taskQueue } = ctx.info;
      const resumed = Math.min(resumeAt(ctx.info.heartbeatDetails), input.numbers.length);

      /** Starts one work point; true when it had already closed and its result was sent again. */
      async function start(wp: WorkPointInput): Promise<boolean> {
        const options = workPointStartOptions(input.year, wp, input.drill);
        try {
          await client.workflow.start<WorkPointWorkflow>(WORK_POINT_WORKFLOW, {
            ...options,
            taskQueue,
            args: [{ ...wp, cycleWorkflowId: input.cycleWorkflowId }],
            workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
            workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          });
          return false;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
        // Refused by the reuse policy: it completed. (Anything else is a race with its closing: retried.)
        const handle = client.workflow.getHandle<WorkPointWorkflow>(options.workflowId);
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') return false;
        if (status.name !== 'COMPLETED') throw new Error(`${options.workflowId} is ${status.name}; starting again`);
        const result: WorkPointResult = await handle.result();
        try {
          await client.workflow.getHandle(input.cycleWorkflowId).signal(workPointClosedSignal, result);
        } catch (err) {
          // The cycle is gone too: nobody waits for the result.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        return true;
      }

      const outcome = await withStartableInputs(
        pool,
        { year: input.year, workflowId: input.cycleWorkflowId, numbers: input.numbers.slice(resumed) },
        async (inputs) => {
          const done = inputs.map(() => false);
          let prefix = 0;
          let next = 0;
          let resent = 0;
          let failed = false;
          const lane = async () => {
            while (next < inputs.length && !failed && !ctx.cancellationSignal.aborted) {
              const i = next++;
              const wp = inputs[i];
              if (!wp) break;
              await inFlight.acquire();
              try {
                if (await start(wp)) resent += 1;
              } catch (err) {
                failed = true;
                throw err;
              } finally {
                inFlight.release();
              }
              done[i] = true;
              while (prefix < done.length && done[prefix]) prefix += 1;
              ctx.heartbeat({ done: resumed + prefix } satisfies StartProgress);
            }
          };
          const lanes = await Promise.allSettled(Array.from({ length: Math.min(IN_FLIGHT, inputs.length) }, lane));
          // Every lane has stopped before the cycle's row is let go.
          const rejected = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
          if (rejected) throw rejected.reason;
          if (ctx.cancellationSignal.aborted) await ctx.cancelled;
          return { started: resumed + inputs.length, resent };
        },
      );
      if (outcome === undefined) {
        throw ApplicationFailure.nonRetryable(
          `cycle ${input.cycleWorkflowId} has no records (a cancelled drill?): no work point started`,
          CYCLE_GONE,
        );
      }
      return outcome;
    },
  };
}
