import {
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
import { cycleProgressQuery, SA, START_BATCH, workPointWorkflowId } from './shared';
import { workPoint } from './work-point';

const { prepareCycle, prepareCycleRecorded, saveCycleResult, workPointInputs } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Patch id: inputs are recorded by prepareCycleRecorded and loaded a batch at a time (see `patched()`). */
const PAGED_INPUTS = 'paged-work-point-inputs';

/**
 * The annual cycle (年度周期) of one plan: resolves the assignees, starts one `workPoint` child per
 * work point, follows them to their year-end rating and persists the year's result, the data of the
 * annual report. prepareCycle refuses (non-retryable) when the directory leaves a group unresolved.
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

  const results: Promise<WorkPointResult>[] = [];
  for (let i = 0; i < numbers.length; i += START_BATCH) {
    const batch = allInputs
      ? allInputs.slice(i, i + START_BATCH)
      : await workPointInputs({ year: input.year, numbers: numbers.slice(i, i + START_BATCH) });
    const handles = await Promise.all(
      batch.map((wp) =>
        startChild(workPoint, {
          workflowId: workPointWorkflowId(input.year, wp.number),
          args: [wp],
          // A work point's duty outlives a cycle workflow that is terminated by mistake.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `${drill ? '【演练】' : ''}${wp.number}. ${wp.title}`,
          staticDetails: `${input.year} 年 · 第${wp.section}部分 · 牵头：${wp.leadUnits.map((u) => u.name).join('、') || '（无）'} · 责任：${wp.responsibleUnits.map((u) => u.name).join('、')}`,
          typedSearchAttributes: [
            { key: SA.year, value: input.year },
            { key: SA.workPoint, value: wp.number },
            { key: SA.status, value: 'open' },
            { key: SA.leadUnits, value: wp.leadUnits.map((u) => u.name) },
          ],
        }),
      ),
    );
    progress.started += handles.length;
    for (const [j, handle] of handles.entries()) {
      const entry = progress.workPoints[i + j];
      results.push(
        handle.result().then((r) => {
          progress.closed += 1;
          if (entry) entry.closed = true;
          setCurrentDetails(`已评定 ${progress.closed} / ${progress.workPoints.length} 项`);
          return r;
        }),
      );
    }
  }
  setCurrentDetails(`已启动 ${progress.started} 项要点，等待年终评定`);

  const workPointResults = await Promise.all(results);
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
