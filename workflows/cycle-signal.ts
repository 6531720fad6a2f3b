import { getExternalWorkflowHandle, isCancellation, log } from '@temporalio/workflow';
import type { WorkPointResult } from '../domain/model';
import { workPointClosedSignal } from './shared';

/**
 * Sends a work point's final result to the cycle that started it. A cycle that is gone (terminated, completed, a
 * cancelled drill) cannot take it: that is logged, and the work point completes with its result all the same.
 */
export async function signalCycle(cycleWorkflowId: string, result: WorkPointResult): Promise<void> {
  try {
    await getExternalWorkflowHandle(cycleWorkflowId).signal(workPointClosedSignal, result);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('the cycle did not take the work point result', {
      cycleWorkflowId,
      workPoint: result.number,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
