/**
 * Names every process shares to reach a workflow: task queue, workflow IDs, search attributes, signals,
 * updates and queries. The types they carry live in domain/model.ts. Imported by workflows/, api/ and worker/.
 * Only deterministic imports here (it is bundled into the workflow sandbox).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type {
  CycleInput,
  CycleProgress,
  CycleResult,
  WorkPointInput,
  WorkPointResult,
  WorkPointStatus,
} from '../domain/model';
import type {
  AcknowledgeSignal,
  AddUnitSignal,
  DecideExtensionSignal,
  ExtendDeadlineSignal,
  RateReviewSignal,
  ReassignSignal,
  RemindNowSignal,
  RemoveUnitSignal,
  ReportSignal,
  RequestExtensionSignal,
  ReturnReportSignal,
  SubmissionReceipt,
  SummarySignal,
  WaiveSignal,
} from '../domain/messages';
import type { ActionResult, RemindNowUpdate } from '../domain/work-point/office-action-rules';

export const DEFAULT_TASK_QUEUE = 'duban';

export const cycleWorkflowId = (year: number): string => `cycle-${year}`;

/** The annual cycle's workflow type, for processes that start it by name (workflows/annual-cycle.ts is the code). */
export const ANNUAL_CYCLE_WORKFLOW = 'annualCycle';
export type AnnualCycleWorkflow = (input: CycleInput) => Promise<CycleResult>;
export const workPointWorkflowId = (year: number, number: number): string =>
  `wp-${year}-${String(number).padStart(2, '0')}`;
/** The work point's workflow type, for the activity that starts it by name (workflows/work-point.ts is the code). */
export const WORK_POINT_WORKFLOW = 'workPoint';
export type WorkPointWorkflow = (input: WorkPointInput) => Promise<WorkPointResult>;

export const SA = {
  year: defineSearchAttributeKey('DubanYear', SearchAttributeType.INT),
  workPoint: defineSearchAttributeKey('DubanWorkPoint', SearchAttributeType.INT),
  status: defineSearchAttributeKey('DubanStatus', SearchAttributeType.KEYWORD),
  leadUnits: defineSearchAttributeKey('DubanLeadUnits', SearchAttributeType.KEYWORD_LIST),
  overdueUnits: defineSearchAttributeKey('DubanOverdueUnits', SearchAttributeType.KEYWORD_LIST),
} as const;

/** Name → type, as `temporal operator search-attribute create` and the dev server's --search-attribute take them. */
export const SEARCH_ATTRIBUTES: Record<string, 'Int' | 'Keyword' | 'KeywordList'> = {
  DubanYear: 'Int',
  DubanWorkPoint: 'Int',
  DubanStatus: 'Keyword',
  DubanLeadUnits: 'KeywordList',
  DubanOverdueUnits: 'KeywordList',
};

/** Cycles started before START_WORK_POINTS_BY_ACTIVITY start their children in batches of this many. */
export const START_BATCH = 200;
/** The cycle asks the start activity for this many work points at a time (its progress moves per slice). */
export const START_SLICE = 50;
/** How many start slices the cycle runs at once. */
export const SLICES_IN_FLIGHT = 2;

/**
 * How a work point of a cycle is started, however it is started (a child of old cycles, or by the start activity):
 * its id, what the Temporal UI shows (【演练】 for a drill) and the search attributes it is found by.
 */
export function workPointStartOptions(year: number, wp: WorkPointInput, drill: boolean) {
  const names = (units: { name: string }[]) => units.map((u) => u.name);
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: SA.year, value: year },
    { key: SA.workPoint, value: wp.number },
    { key: SA.status, value: 'open' },
    { key: SA.leadUnits, value: names(wp.leadUnits) },
  ];
  return {
    workflowId: workPointWorkflowId(year, wp.number),
    staticSummary: `${drill ? '【演练】' : ''}${wp.number}. ${wp.title}`,
    staticDetails: `${year} 年 · 第${wp.section}部分 · 牵头：${names(wp.leadUnits).join('、') || '（无）'} · 责任：${names(wp.responsibleUnits).join('、')}`,
    typedSearchAttributes,
  };
}

// ─── Messages ────────────────────────────────────────────────────────────────────────────────────

export const reportSignal = defineSignal<[ReportSignal]>('report');
export const summarySignal = defineSignal<[SummarySignal]>('submitSummary');
export const acknowledgeSignal = defineSignal<[AcknowledgeSignal]>('acknowledge');
export const requestExtensionSignal = defineSignal<[RequestExtensionSignal]>('requestExtension');
export const decideExtensionSignal = defineSignal<[DecideExtensionSignal]>('decideExtension');
export const extendDeadlineSignal = defineSignal<[ExtendDeadlineSignal]>('extendDeadline');
export const waiveSignal = defineSignal<[WaiveSignal]>('waive');
export const reassignSignal = defineSignal<[ReassignSignal]>('reassign');
export const addUnitSignal = defineSignal<[AddUnitSignal]>('addUnit');
export const removeUnitSignal = defineSignal<[RemoveUnitSignal]>('removeUnit');
export const returnReportSignal = defineSignal<[ReturnReportSignal]>('returnReport');
export const remindNowSignal = defineSignal<[RemindNowSignal]>('remindNow');
export const rateReviewSignal = defineSignal<[RateReviewSignal]>('rateReview');
/** A work point's final result, sent to its cycle (WorkPointInput.cycleWorkflowId); the cycle counts each once. */
export const workPointClosedSignal = defineSignal<[WorkPointResult]>('workPointClosed');

export const submitReportUpdate = defineUpdate<SubmissionReceipt, [ReportSignal]>('submitReport');
export const submitSummaryUpdate = defineUpdate<SubmissionReceipt, [SummarySignal]>('submitSummaryReport');

/**
 * The office's actions as Updates: the validator refuses an action that does not fit the work point (an
 * ApplicationFailure whose `type` is an ActionRefusal code) before anything is recorded; an accepted one answers
 * with what it changed. The signals above stay for running histories and older clients.
 */
export const officeActionUpdates = {
  extend: defineUpdate<ActionResult, [ExtendDeadlineSignal]>('action.extend'),
  waive: defineUpdate<ActionResult, [WaiveSignal]>('action.waive'),
  reassign: defineUpdate<ActionResult, [ReassignSignal]>('action.reassign'),
  'add-unit': defineUpdate<ActionResult, [AddUnitSignal]>('action.addUnit'),
  'remove-unit': defineUpdate<ActionResult, [RemoveUnitSignal]>('action.removeUnit'),
  'decide-extension': defineUpdate<ActionResult, [DecideExtensionSignal]>('action.decideExtension'),
  return: defineUpdate<ActionResult, [ReturnReportSignal]>('action.returnReport'),
  remind: defineUpdate<ActionResult, [RemindNowUpdate]>('action.remind'),
  rate: defineUpdate<ActionResult, [RateReviewSignal]>('action.rate'),
} as const;
export type OfficeActionName = keyof typeof officeActionUpdates;

export const statusQuery = defineQuery<WorkPointStatus>('status');
export const cycleProgressQuery = defineQuery<CycleProgress>('progress');
