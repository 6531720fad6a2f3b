import { condition } from '@temporalio/workflow';

/**
 * bench/workflow-memory.ts, variant "idle": the least a cached workflow can be — no import beyond the SDK, one
 * workflow task, then waiting forever. Its own file, so its bundle carries nothing else.
 */
export async function idle(): Promise<void> {
  await condition(() => false);
}
