import {
  condition,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  type CycleInput,
  type CycleProgress,
  type CycleResult,
  type WorkPointInput,
  type WorkPointResult,
} from '../domain/model';
import {
  cycleProgressQuery,
  SA,
  START_BATCH,
  SLICES_IN_FLIGHT,
  START_SLICE,
  workPointClosedSignal,
  workPointStartOptions,
  workPointWorkflowId,
} from './shared';
import { workPoint } from './work-point';

const { prepareCycle, prepareCycleRecorded, saveCycleResult, workPointInputs } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
/**
 * A slice of START_SLICE starts takes seconds; the heartbeat lets a retry after a lost worker resume where the last
 * attempt got to, and the activity's starts are idempotent (USE_EXISTING) for what it does again.
 */
const { startWorkPoints } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Patch id: inputs are recorded by prepareCycleRecorded and loaded a batch at a time (see `patched()`). */
const PAGED_INPUTS = 'paged-work-point-inputs';
/**
 * Patch id: the work points are started by the startWorkPoints activity with the client, not as children, and
 * signal their results back (workPointClosedSignal). Cycles recorded before it keep their children.
 */
const START_BY_ACTIVITY = 'start-work-points-by-activity';

/**
 * The annual cycle (年度周期) of one plan: resolves the assignees, starts one `workPoint` workflow per work point,
 * follows them to their year-end rating and persists the year's result, the data of the annual report.
 * prepareCycle refuses (non-retryable) when the directory leaves a group unresolved.
 */
export async function annualCycle(input: CycleInput): Promise<CycleResult> {
  // A rehearsal says so in the Temporal UI too.
  const drill =
    typeof input.options === 'object' &&
    input.options !== null &&
    'drill' in input.options &&
    input.options.drill === true;
  const prepare = {
    year: input.year,
    planId: input.planId,
    options: input.options,
    workflowId: workflowInfo().workflowId,
  };
  // Each batch's inputs are loaded when it starts, so no payload grows with the plan (Temporal's limit is 2 MB).
  // Histories recorded before that got every input from prepareCycle at once.
  let allInputs: WorkPointInput[] | undefined;
  let numbers: number[];
  if (patched(PAGED_INPUTS)) {
    ({ numbers } = await prepareCycleRecorded(prepare));
  } else {
    allInputs = (await prepareCycle(prepare)).workPoints;
    numbers = allInputs.map((wp) => wp.number);
  }

  const progress: CycleProgress = {
    year: input.year,
    started: 0,
    closed: 0,
    workPoints: numbers.map((number) => ({
      number,
      workflowId: workPointWorkflowId(input.year, number),
      closed: false,
    })),
  };
  setHandler(cycleProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: SA.year, value: input.year },
    { key: SA.status, value: 'running' },
  ]);
  const entries = new Map(progress.workPoints.map((entry) => [entry.number, entry]));
  const closed = (number: number) => {
    const entry = entries.get(number);
    if (entry) entry.closed = true;
    progress.closed += 1;
    setCurrentDetails(`已评定 ${progress.closed} / ${progress.workPoints.length} 项`);
  };

  let workPointResults: WorkPointResult[];
  if (patched(START_BY_ACTIVITY)) {
    // Registered before the first start: a work point may close before the last one is started.
    const results = new Map<number, WorkPointResult>();
    setHandler(workPointClosedSignal, (r) => {
      if (!entries.has(r.number)) {
        log.warn('result of a work point this cycle did not start; ignored', { workflowId: r.workflowId });
        return;
      }
      // A work point's signal and the start activity's re-sending of a closed one's result may both arrive.
      if (results.has(r.number)) return;
      results.set(r.number, r);
      closed(r.number);
    });
    const cycleWorkflowId = workflowInfo().workflowId;
    // Two slices in flight, so that one slice's starts go on while the cycle takes the other's result (the worker
    // bounds the starts in flight across slices). The first slice is half a slice: the two then end at different times.
    const slices: number[][] = [];
    for (let i = 0; i < numbers.length;) {
      const size = i === 0 ? Math.ceil(START_SLICE / 2) : START_SLICE;
      slices.push(numbers.slice(i, i + size));
      i += size;
    }
    let nextSlice = 0;
    const runSlices = async (): Promise<void> => {
      for (let slice = slices[nextSlice++]; slice; slice = slices[nextSlice++]) {
        const { started } = await startWorkPoints({ year: input.year, numbers: slice, cycleWorkflowId, drill });
        progress.started += started;
      }
    };
    await Promise.all(Array.from({ length: Math.min(SLICES_IN_FLIGHT, slices.length) }, runSlices));
    if (results.size < numbers.length) setCurrentDetails(`已启动 ${progress.started} 项要点，等待年终评定`);
    await condition(() => results.size === numbers.length);
    workPointResults = [...results.values()];
  } else {
    const results: Promise<WorkPointResult>[] = [];
    for (let i = 0; i < numbers.length; i += START_BATCH) {
      const batch = allInputs
        ? allInputs.slice(i, i + START_BATCH)
        : await workPointInputs({ year: input.year, numbers: numbers.slice(i, i + START_BATCH) });
      const children = await Promise.all(
        batch.map(async (wp) => ({
          number: wp.number,
          handle: await startChild(workPoint, {
            ...workPointStartOptions(input.year, wp, drill),
            args: [wp],
            // A work point's duty outlives a cycle workflow that is terminated by mistake.
            parentClosePolicy: ParentClosePolicy.ABANDON,
          }),
        })),
      );
      progress.started += children.length;
      for (const { number, handle } of children) {
        results.push(
          handle.result().then((r) => {
            closed(number);
            return r;
          }),
        );
      }
    }
    setCurrentDetails(`已启动 ${progress.started} 项要点，等待年终评定`);
    workPointResults = await Promise.all(results);
  }

  const result: CycleResult = {
    year: input.year,
    planId: input.planId,
    workPoints: workPointResults.sort((a, b) => a.number - b.number),
    completedAt: Date.now(),
  };
  await saveCycleResult(result);
  upsertSearchAttributes([{ key: SA.status, value: 'closed' }]);
  return result;
}
