import { condition } from '@temporalio/workflow';
import { shanghaiDate } from '../domain/schedule';

/**
 * Two idle workflows for bench/workflow-memory.ts: identical but for one import. `idleWithSchedule` imports
 * domain/schedule.ts as workflows/work-point.ts does (for shanghaiDate), which brings zod and the calendar
 * data into the workflow bundle; the difference in RSS per cached workflow is what that import costs.
 */

export async function idle(): Promise<void> {
  await condition(() => false);
}

export async function idleWithSchedule(): Promise<string> {
  const today = shanghaiDate(Date.now());
  await condition(() => false);
  return today;
}
