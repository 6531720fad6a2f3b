/**
 * Names every process shares to reach a workflow: task queue, workflow IDs, search attributes, signals,
 * updates and queries. The types they carry live in domain/model.ts. Imported by workflows/, api/ and worker/.
 * Only deterministic imports here (it is bundled into the workflow sandbox).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CycleInput, CycleProgress, CycleResult, WorkPointStatus } from '../domain/model';
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

/** The cycle starts its children in batches of this many, loading each batch's inputs as it goes. */
export const START_BATCH = 200;

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
