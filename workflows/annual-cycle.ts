import {
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  cycleProgressQuery,
  SA,
  workPointWorkflowId,
  type CycleInput,
  type CycleProgress,
  type CycleResult,
  type WorkPointResult,
} from './definitions';
import { workPoint } from './work-point';

const { prepareCycle, saveCycleResult } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Children are started in batches so one workflow task never carries thousands of commands. */
const START_BATCH = 200;

/**
 * The annual cycle (年度周期) of one plan: resolves the assignees, starts one `workPoint` child per
 * work point, follows them to their year-end rating and persists the year's result, the data of the
 * annual report. prepareCycle refuses (non-retryable) when the directory leaves a group unresolved.
 */
export async function annualCycle(input: CycleInput): Promise<CycleResult> {
  const { workPoints } = await prepareCycle({
    year: input.year,
    planId: input.planId,
    options: input.options,
    workflowId: workflowInfo().workflowId,
  });

  const progress: CycleProgress = {
    year: input.year,
    started: 0,
    closed: 0,
    workPoints: workPoints.map((wp) => ({
      number: wp.number,
      workflowId: workPointWorkflowId(input.year, wp.number),
      closed: false,
    })),
  };
  setHandler(cycleProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: SA.year, value: input.year },
    { key: SA.status, value: 'running' },
  ]);

  const results: Promise<WorkPointResult>[] = [];
  for (let i = 0; i < workPoints.length; i += START_BATCH) {
    const batch = workPoints.slice(i, i + START_BATCH);
    const handles = await Promise.all(
      batch.map((wp) =>
        startChild(workPoint, {
          workflowId: workPointWorkflowId(input.year, wp.number),
          args: [wp],
          // A work point's duty outlives a cycle workflow that is terminated by mistake.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `${wp.number}. ${wp.title}`,
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
