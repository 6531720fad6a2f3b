import {
  allHandlersFinished,
  condition,
  defineSignal,
  defineUpdate,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BaselineActivities, BaselineReport, BaselineUnit } from './baseline-activities';

/**
 * The benchmark's bare-Temporal baselines, each doing the Temporal work of one duban path and nothing else:
 * - `trivial` completes its first workflow task and waits for one `poke` (the bare start);
 * - `launchBaseline` is a work point's skeleton: its first task runs one local activity writing one assignment row
 *   per unit, as duban's first `persist` does; afterwards an Update `report` runs a local activity inserting one
 *   row and answers once it is stored (what `submitReport` promises), and a signal `reportSignal` is stored by the
 *   main loop (the bare signal, processed durably, for reference). `poke` closes it.
 */

export const BASELINE_TASK_QUEUE = 'bench-baseline';

export const pokeSignal = defineSignal<[number]>('poke');
export const baselineReportUpdate = defineUpdate<{ stored: true }, [BaselineReport]>('report');
export const baselineReportSignal = defineSignal<[BaselineReport]>('reportSignal');

export async function trivial(): Promise<number> {
  let pokes = 0;
  setHandler(pokeSignal, (n) => {
    pokes += n;
  });
  await condition(() => pokes > 0);
  return pokes;
}

export interface LaunchBaselineInput {
  year: number;
  workPoint: number;
  title: string;
  units: BaselineUnit[];
  dueAt: number;
}

// The same options as duban's persist (workflows/work-point.ts).
const { writeAssignments, insertReports } = proxyLocalActivities<BaselineActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function launchBaseline(input: LaunchBaselineInput): Promise<number> {
  let closed = false;
  let stored = 0;
  const queued: BaselineReport[] = [];
  setHandler(baselineReportUpdate, async (r) => {
    await insertReports([r]);
    stored += 1;
    return { stored: true };
  });
  setHandler(baselineReportSignal, (r) => {
    queued.push(r);
  });
  setHandler(pokeSignal, () => {
    closed = true;
  });
  await writeAssignments({ ...input, workflowId: workflowInfo().workflowId, scheduledFor: Date.now() });
  while (!closed) {
    await condition(() => closed || queued.length > 0);
    if (queued.length > 0) {
      const batch = queued.splice(0);
      await insertReports(batch);
      stored += batch.length;
    }
  }
  await condition(allHandlersFinished);
  return stored;
}
