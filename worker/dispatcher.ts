import type { Client, WorkflowHandleWithSignaledRunId } from '@temporalio/client';
import { configureDispatcherSignal, dispatcher, DISPATCHER_WORKFLOW_ID } from '../workflows/dispatcher';

/**
 * Makes sure the one outbox dispatcher runs: starts it, or — when it already runs — leaves that run alone
 * and only hands it the interval. Signal-with-start does both atomically, so N workers booting at once
 * still leave exactly one dispatcher (the effect of workflowIdConflictPolicy USE_EXISTING, plus the config).
 */
export async function ensureDispatcher(
  client: Client,
  taskQueue: string,
  opts: { intervalMs?: number } = {},
): Promise<WorkflowHandleWithSignaledRunId<typeof dispatcher>> {
  const config = opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {};
  return client.workflow.signalWithStart(dispatcher, {
    workflowId: DISPATCHER_WORKFLOW_ID,
    taskQueue,
    args: [config],
    signal: configureDispatcherSignal,
    signalArgs: [config],
    staticSummary: '通知发送 · sends due notices from the outbox (digest, quiet hours, retries)',
  });
}
