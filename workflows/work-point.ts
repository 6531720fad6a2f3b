import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import type { Activities } from '../activities';
import type {
  Instant,
  NoticeRequest,
  PersistBatch,
  ReportRecord,
  StatusUpdate,
  WorkPointInput,
  WorkPointResult,
} from '../domain/model';
import type { ReportSignal, SummarySignal } from '../domain/messages';
import { initialState, noEffects, reject, workPointOf, type WorkPoint } from '../domain/work-point/context';
import { advance } from '../domain/work-point/milestones';
import * as actions from '../domain/work-point/office-actions';
import type { Rejection } from '../domain/work-point/office-actions';
import * as rules from '../domain/work-point/office-action-rules';
import type { ActionResult, Refusal } from '../domain/work-point/office-action-rules';
import {
  actionResult,
  buildResult,
  buildStatus,
  obligationSnapshot,
  searchKey,
  statusSaved,
  statusUpdate,
} from '../domain/work-point/status';
import {
  acceptReport,
  acceptSummary,
  acknowledge,
  judgeReport,
  judgeSummary,
  receiptOf,
  requestExtension,
  type Verdict,
} from '../domain/work-point/unit-messages';
import {
  acknowledgeSignal,
  addUnitSignal,
  decideExtensionSignal,
  extendDeadlineSignal,
  officeActionUpdates,
  rateReviewSignal,
  reassignSignal,
  remindNowSignal,
  removeUnitSignal,
  reportSignal,
  requestExtensionSignal,
  returnReportSignal,
  SA,
  statusQuery,
  submitReportUpdate,
  submitSummaryUpdate,
  summarySignal,
  waiveSignal,
} from './shared';
import { signalCycle } from './cycle-signal';
import { MilestoneTimer } from './milestone-timer';

const persistence = {
  startToCloseTimeout: '30 seconds',
  // Records must eventually land: retry indefinitely with backoff through database outages.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;
/**
 * Histories recorded before PERSIST_IN_ONE_ACTIVITY scheduled notify, saveReports and saveStatus as activities.
 * persist as a regular activity takes the large batches of a catch-up (see BOUNDED_WORKFLOW_TASKS).
 */
const { notify, saveReports, saveStatus, persist: persistLarge } = proxyActivities<Activities>(persistence);
/**
 * persist is a local activity: a short write to PostgreSQL, run by the worker that runs the workflow task, without
 * an activity task's round trip through the server (a report costs ~5 history events instead of ~10). It is
 * idempotent, so a re-run after a lost workflow task writes nothing twice; past a minute of retries its backoff
 * becomes a server timer, as a database outage needs.
 */
const { persist } = proxyLocalActivities<Activities>(persistence);

/**
 * Patch ids (see `patched()`): a change of what the workflow schedules must keep replaying histories recorded
 * before it. Histories without the marker take the old branch.
 */
const PERSIST_IN_ONE_ACTIVITY = 'persist-in-one-activity';
/** The milestone timer stays armed across wake-ups and is re-armed only when the next milestone changes (milestone-timer.ts). */
const KEEP_MILESTONE_TIMER = 'keep-milestone-timer';
/**
 * A local activity runs inside the workflow task: a catch-up (a cycle started after its milestones, or a worker back
 * after days) writing hundreds of notices at once would hold the task open for seconds. Batches above
 * LOCAL_BATCH_LIMIT rows go to the same activity scheduled through the server, and no more than
 * CATCH_UP_BATCH_LIMIT rows go in one call, so every workflow task stays short.
 */
const BOUNDED_WORKFLOW_TASKS = 'bounded-workflow-tasks';
const LOCAL_BATCH_LIMIT = 40;
const CATCH_UP_BATCH_LIMIT = 500;

/** Above this many events or bytes the workflow continues as new (Temporal warns at 10,240 events / 10 MB). */
const HISTORY_EVENTS_LIMIT = 8_000;
const HISTORY_BYTES_LIMIT = 8 * 1024 * 1024;

/**
 * One work point (要点) for one year: for every responsible unit and reporting period it sends the
 * assignment notice, reminds, sends the overdue notice, escalates to the lead units (督办) and then
 * to the office (通报), and it closes with the year-end review rated by the office.
 *
 * Design: a single loop wakes at the earliest pending milestone or when a message arrives; message
 * handlers only apply a pure transition (domain/work-point/) and mark the state dirty, so all side effects
 * happen in the loop, in order, batched into one activity call per wake-up. This file is the wiring: the
 * rules are in domain/work-point/ (transitions, milestones, status), unit-testable without Temporal.
 */
export async function workPoint(input: WorkPointInput): Promise<WorkPointResult> {
  const wp: WorkPoint = workPointOf(workflowInfo().workflowId, input, input.resume ?? initialState(input));
  const { state } = wp;

  let dirty = true;
  let statusDirty = true;
  const pendingNotices: NoticeRequest[] = [];
  const pendingReports: ReportRecord[] = [];
  /** Submissions accepted in this run whose report is not in PostgreSQL yet: their receipts wait for it. */
  const unstoredReports = new Set<string>();
  const stored = (reports: ReportRecord[] | undefined) =>
    reports?.forEach((r) => unstoredReports.delete(r.submissionId));
  const now = (): Instant => Date.now();

  /** Takes what the last transition asked for into the loop's queues. */
  function collect(): void {
    const out = wp.out;
    wp.out = noEffects();
    pendingNotices.push(...out.notices);
    for (const report of out.reports) {
      pendingReports.push(report);
      unstoredReports.add(report.submissionId);
    }
    if (out.recorded) dirty = true;
    if (out.statusChanged) statusDirty = true;
  }

  // ── Messages: apply a transition; the loop does the rest. ──────────────────────────────────────

  const refuse = (verdict: Verdict): void => {
    if (verdict && 'refusal' in verdict)
      throw ApplicationFailure.create({ message: verdict.message, type: verdict.refusal, nonRetryable: true });
  };

  setHandler(reportSignal, (r) => {
    const verdict = judgeReport(wp, r, false, now());
    if (verdict && 'repeat' in verdict) return;
    if (verdict) reject(wp, now(), r.unitId, verdict.message, r.periodId);
    else acceptReport(wp, r, now());
    collect();
  });
  setHandler(summarySignal, (s) => {
    const verdict = judgeSummary(wp, s);
    if (verdict && 'repeat' in verdict) return;
    if (verdict) reject(wp, now(), s.unitId, verdict.message);
    else acceptSummary(wp, s, now());
    collect();
  });

  /** The receipt for a submission this workflow accepted (now or earlier), once its report is stored. */
  async function receiptWhenStored(submissionId: string, unitId: string, repeated: boolean) {
    await condition(() => !unstoredReports.has(submissionId));
    return receiptOf(wp, submissionId, unitId, repeated, now());
  }

  // The reply page's Updates: the validator refuses before anything is recorded; the result — sent once the report
  // is stored — is the receipt.
  setHandler(
    submitReportUpdate,
    async (r) => {
      // Judged again: another update accepted in the same activation may have changed the answer.
      const verdict = judgeReport(wp, r, true, now());
      refuse(verdict);
      if (!verdict) acceptReport(wp, r, now());
      collect();
      return receiptWhenStored(r.submissionId, r.unitId, verdict !== undefined);
    },
    { validator: (r: ReportSignal) => refuse(judgeReport(wp, r, true, now())) },
  );
  setHandler(
    submitSummaryUpdate,
    async (s) => {
      const verdict = judgeSummary(wp, s);
      refuse(verdict);
      if (!verdict) acceptSummary(wp, s, now());
      collect();
      return receiptWhenStored(s.submissionId, s.unitId, verdict !== undefined);
    },
    { validator: (s: SummarySignal) => refuse(judgeSummary(wp, s)) },
  );

  setHandler(acknowledgeSignal, (a) => {
    acknowledge(wp, a, now());
    collect();
  });
  setHandler(requestExtensionSignal, (r) => {
    requestExtension(wp, r, now());
    collect();
  });

  // Office actions as signals (running histories, older clients): what does not fit is recorded as rejected.
  const signalled =
    <A>(transition: (wp: WorkPoint, a: A, at: Instant) => Rejection | undefined) =>
    (a: A) => {
      const rejection = transition(wp, a, now());
      if (rejection) reject(wp, now(), rejection.unitId, rejection.detail, rejection.periodId);
      collect();
    };
  setHandler(extendDeadlineSignal, signalled(actions.extendDeadline));
  setHandler(waiveSignal, signalled(actions.waive));
  setHandler(decideExtensionSignal, signalled(actions.decideExtension));
  setHandler(returnReportSignal, signalled(actions.returnReport));
  setHandler(remindNowSignal, signalled(actions.remindNow));
  setHandler(addUnitSignal, signalled(actions.addUnit));
  setHandler(removeUnitSignal, signalled(actions.removeUnit));
  setHandler(reassignSignal, signalled(actions.reassign));
  setHandler(rateReviewSignal, signalled(actions.rateReview));

  // Office actions as Updates: the validator is the judge; the handler applies and answers what changed.
  const refuseAction = (refusal: Refusal | undefined): void => {
    if (refusal) {
      throw ApplicationFailure.create({
        type: refusal.code,
        message: refusal.message,
        details: refusal.details ? [refusal.details] : undefined,
        nonRetryable: true,
      });
    }
  };
  function officeAction<A>(
    update: UpdateDefinition<ActionResult, [A]>,
    check: (wp: WorkPoint, a: A, at: Instant) => Refusal | undefined,
    transition: (wp: WorkPoint, a: A, at: Instant) => Rejection | undefined,
  ): void {
    setHandler(
      update,
      (a: A) => {
        const at = now();
        // Judged again: another action accepted in the same activation may have changed the answer.
        refuseAction(check(wp, a, at));
        const before = obligationSnapshot(wp, at);
        const rejection = transition(wp, a, at);
        if (rejection) {
          // The rules above let through what the transition cannot apply: a bug, refused rather than recorded.
          throw ApplicationFailure.create({ type: 'not_applicable', message: rejection.detail, nonRetryable: true });
        }
        const result = actionResult(wp, before, at);
        collect();
        return result;
      },
      { validator: (a: A) => refuseAction(check(wp, a, now())) },
    );
  }
  officeAction(officeActionUpdates.extend, rules.checkExtend, actions.extendDeadline);
  officeAction(officeActionUpdates.waive, rules.checkWaive, actions.waive);
  officeAction(officeActionUpdates['decide-extension'], rules.checkDecideExtension, actions.decideExtension);
  officeAction(officeActionUpdates.return, rules.checkReturn, actions.returnReport);
  officeAction(officeActionUpdates.remind, rules.checkRemind, (w, r, at) =>
    actions.remindNow(w, { ...r, unitIds: rules.remindUnits(w, r) }, at),
  );
  officeAction(officeActionUpdates['add-unit'], rules.checkAddUnit, actions.addUnit);
  officeAction(officeActionUpdates['remove-unit'], rules.checkRemoveUnit, actions.removeUnit);
  officeAction(officeActionUpdates.reassign, rules.checkReassign, actions.reassign);
  officeAction(officeActionUpdates.rate, rules.checkRate, actions.rateReview);

  setHandler(statusQuery, () => buildStatus(wp, now()));

  // ── Persistence ────────────────────────────────────────────────────────────────────────────────

  /** The status projection's delta since the last save, or undefined when nothing changed. */
  function pendingStatus(): StatusUpdate | undefined {
    if (!statusDirty) return undefined;
    statusDirty = false;
    const update = statusUpdate(wp, now());
    const search = searchKey(update.summary);
    if (search !== state.savedSearch) {
      upsertSearchAttributes([
        { key: SA.status, value: update.summary.phase },
        { key: SA.overdueUnits, value: update.summary.overdueUnits.map((u) => u.name) },
      ]);
      state.savedSearch = search;
    }
    setCurrentDetails(update.summary.waitingOn);
    return update;
  }

  async function flush(): Promise<void> {
    if (bounded) {
      // Reports and notices in order, at most CATCH_UP_BATCH_LIMIT rows a call; the status projection goes last.
      for (;;) {
        const batch: PersistBatch = {};
        let room = CATCH_UP_BATCH_LIMIT;
        if (pendingReports.length > 0) {
          batch.reports = pendingReports.splice(0, room);
          room -= batch.reports.length;
        }
        if (pendingNotices.length > 0 && room > 0) batch.notices = pendingNotices.splice(0, room);
        const last = pendingReports.length === 0 && pendingNotices.length === 0;
        const status = last ? pendingStatus() : undefined;
        if (status) batch.status = status;
        const rows = (batch.reports?.length ?? 0) + (batch.notices?.length ?? 0);
        if (rows === 0 && !status) return;
        await (rows > LOCAL_BATCH_LIMIT ? persistLarge(batch) : persist(batch));
        stored(batch.reports);
        if (status) statusSaved(wp, status);
        if (last) return;
      }
    }
    if (patched(PERSIST_IN_ONE_ACTIVITY)) {
      // One local activity per wake-up: reports, notices and the status projection together.
      const batch: PersistBatch = {};
      if (pendingReports.length > 0) batch.reports = pendingReports.splice(0);
      if (pendingNotices.length > 0) batch.notices = pendingNotices.splice(0);
      const status = pendingStatus();
      if (status) batch.status = status;
      if (!batch.reports && !batch.notices && !batch.status) return;
      await persist(batch);
      stored(batch.reports);
      if (status) statusSaved(wp, status);
      return;
    }
    // Histories recorded before the patch: up to three activities per wake-up, in this order.
    // Reports first: once a unit is told "received", its text must reach PostgreSQL before anything else.
    if (pendingReports.length > 0) {
      const reports = pendingReports.splice(0);
      await saveReports(reports);
      stored(reports);
    }
    if (pendingNotices.length > 0) await notify(pendingNotices.splice(0));
    const status = pendingStatus();
    if (status) {
      await saveStatus(status);
      statusSaved(wp, status);
    }
  }

  // ── Main loop ──────────────────────────────────────────────────────────────────────────────────

  // Decided once per run: a history recorded before a patch keeps the old behaviour to its end.
  const keepTimer = patched(KEEP_MILESTONE_TIMER);
  const timer = new MilestoneTimer(now);
  const bounded = patched(BOUNDED_WORKFLOW_TASKS);
  upsertSearchAttributes([{ key: SA.leadUnits, value: input.leadUnits.map((u) => u.name) }]);
  while (!state.review.rating) {
    dirty = false;
    const next = advance(wp, now());
    collect();
    await flush();
    if (state.review.rating) break;
    const info = workflowInfo();
    if (
      info.historyLength > (input.continueAsNewAfterEvents ?? HISTORY_EVENTS_LIMIT) ||
      info.historySize > HISTORY_BYTES_LIMIT ||
      info.continueAsNewSuggested
    ) {
      // A receipt waits for its report to be stored, which only the loop does: wake for that too.
      await condition(() => allHandlersFinished() || pendingReports.length > 0);
      if (allHandlersFinished() && pendingReports.length === 0 && pendingNotices.length === 0) {
        await continueAsNew<typeof workPoint>({ ...input, resume: state });
      }
      continue;
    }
    if (dirty) continue;
    if (keepTimer) {
      timer.arm(next);
      await condition(() => dirty || timer.fired);
    } else if (next === undefined) await condition(() => dirty);
    else await condition(() => dirty, Math.max(next - now(), 1));
  }
  await flush();
  // Handlers still waiting (receipts) finish once what they wait for is stored.
  for (;;) {
    await condition(() => allHandlersFinished() || pendingReports.length > 0);
    await flush();
    if (allHandlersFinished() && pendingReports.length === 0) break;
  }
  const result = buildResult(wp);
  if (input.cycleWorkflowId !== undefined) await signalCycle(input.cycleWorkflowId, result);
  return result;
}
