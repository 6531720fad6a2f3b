import { condition, proxyLocalActivities } from '@temporalio/workflow';
import type { MemoryActivities } from './memory-worker';

/**
 * bench/workflow-memory.ts, variant "local activity": the idle workflow plus one local activity in its first task,
 * as a work point persists its first notices. Its own file, so its bundle carries nothing else.
 */
const { touch } = proxyLocalActivities<MemoryActivities>({ startToCloseTimeout: '30 seconds' });

export async function idleAfterLocalActivity(): Promise<void> {
  await touch();
  await condition(() => false);
}
